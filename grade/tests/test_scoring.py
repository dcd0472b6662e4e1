"""Unit tests of the score table, results.json and the pytest plumbing (no emulator)."""
import json
import textwrap

import pytest

from ferrous import scoring

pytestmark = pytest.mark.harness
pytest_plugins = ["pytester"]


def _rec(title, n, status, hidden=False, reason=""):
    r = scoring.Record("x::" + title, title, n, hidden)
    r.status, r.reason, r.output = status, reason, reason
    return r


def test_results_json_visibility_and_skips(tmp_path):
    recs = [_rec("a", 5, "PASS"), _rec("b", 3, "FAIL", hidden=True, reason="boom"),
            _rec("c", 7, "SKIP", reason="needs qemu")]
    doc = scoring.results_json(recs, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == doc
    assert doc["score"] == 5 and doc["max_score"] == 8
    assert [t["name"] for t in doc["tests"]] == ["a", "b"]
    assert doc["tests"][0]["visibility"] == "visible" and doc["tests"][1]["visibility"] == "hidden"
    assert doc["tests"][1]["output"].startswith("FAIL: boom")


def test_table_lists_reasons_and_total():
    text = scoring.table([_rec("alpha", 5, "PASS"), _rec("beta", 3, "FAIL", reason="left=1 right=2")])
    lines = text.splitlines()
    assert lines[0].startswith("alpha ...") and " OK " in lines[0] and "5/5" in lines[0]
    assert "FAIL" in lines[1] and "0/3" in lines[1]
    assert lines[2].strip() == "left=1 right=2"
    assert lines[-1] == "Score: 5/8"


def test_plugin_end_to_end(pytester):
    """The real conftest in a scratch project: points, --lab, emu skips, hidden, results.json."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    pytester.makeconftest(open(os.path.join(here, "..", "conftest.py")).read().replace(
        "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))",
        f"sys.path.insert(0, {os.path.dirname(here)!r})"))
    pytester.makepyfile(test_x=textwrap.dedent("""
        from ferrous.scoring import points

        @points(5, "pmm one", lab="pmm")
        def test_a():
            pass

        @points(3, "pmm two", lab="pmm", hidden=True)
        def test_b():
            assert 1 == 2, "one is not two"

        @points(4, "qemu only", lab="pmm", emu=("qemu",))
        def test_c():
            pass

        @points(9, "other lab", lab="vas")
        def test_d():
            pass
    """))
    out = pytester.path / "r.json"
    res = pytester.runpytest("--lab", "pmm", "--emu", "bochs", "--seed", "7", "--results-json", str(out))
    res.assert_outcomes(passed=1, failed=1, skipped=1, deselected=1)
    res.stdout.fnmatch_lines(["*SEED=7*", "pmm one *OK*5/5*", "pmm two *FAIL*0/3*", "*one is not two*",
                              "qemu only *SKIP*", "Score: 5/8"])
    doc = json.loads(out.read_text())
    assert doc["score"] == 5 and doc["max_score"] == 8
    assert {t["name"]: t["visibility"] for t in doc["tests"]} == {"pmm one": "visible", "pmm two": "hidden"}
