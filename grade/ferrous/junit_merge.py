"""junit_merge.py OUT IN... : merge pytest JUnit XML files into one <testsuites> document.
Missing inputs are skipped (a pass that could not start leaves no file)."""
import os
import sys
import xml.etree.ElementTree as ET


def merge(out, inputs):
    """Write OUT with every <testsuite> of the existing inputs; return the number of suites."""
    root = ET.Element("testsuites")
    for path in inputs:
        if not os.path.exists(path):
            continue
        tree = ET.parse(path).getroot()
        suites = [tree] if tree.tag == "testsuite" else list(tree.iter("testsuite"))
        root.extend(suites)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return len(root)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: junit_merge.py OUT IN...")
    n = merge(sys.argv[1], sys.argv[2:])
    print(f"junit_merge: {n} suite(s) -> {sys.argv[1]}")
