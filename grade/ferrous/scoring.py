"""Points, titles and visibility for graders; the score table and Gradescope results.json.

@points(n, title, lab=None, hidden=False, emu=None) marks a pytest test function. conftest.py
collects the marks, records each test's outcome and writes the table / results.json.
"""
import json

import pytest


def point_marks(n, title, lab=None, hidden=False, emu=None):
    """The pytest marks behind @points, for pytest.param(..., marks=point_marks(...))."""
    if n < 0:
        raise ValueError("points: n must be >= 0")
    marks = [pytest.mark.ferrous_points(n=n, title=title, hidden=hidden, emu=tuple(emu) if emu else None)]
    if lab:
        marks.append(pytest.mark.lab(lab))
    return marks


def points(n, title, lab=None, hidden=False, emu=None):
    """Decorator: the test is worth n points, shown as `title`; lab= adds the lab marker used by
    --lab; hidden=True => Gradescope visibility "hidden"; emu=("qemu",) => skipped on other emulators.
    For parametrized tests use pytest.param(value, marks=point_marks(...)) per case."""
    marks = point_marks(n, title, lab, hidden, emu)

    def wrap(fn):
        for m in marks:
            fn = m(fn)
        return fn
    return wrap


class Record:
    """The outcome of one scored test."""

    def __init__(self, nodeid, title, max_points, hidden):
        self.nodeid = nodeid
        self.title = title
        self.max_points = max_points
        self.hidden = hidden
        self.status = "NOT RUN"          # PASS | FAIL | SKIP | ERROR
        self.reason = ""
        self.output = ""
        self.duration = 0.0

    @property
    def score(self):
        return self.max_points if self.status == "PASS" else 0

    @property
    def counted(self):
        """Skipped tests (e.g. not runnable on this emulator) count neither for nor against."""
        return self.status != "SKIP"


def first_line(text, limit=100):
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[:limit - 3] + "..."
    return ""


def table(records, width=78):
    """JOS-style score table as a string."""
    out = []
    for r in records:
        mark = {"PASS": "OK", "FAIL": "FAIL", "ERROR": "ERROR", "SKIP": "SKIP"}.get(r.status, r.status)
        pts = f"{r.score}/{r.max_points}" if r.counted else f"-/{r.max_points}"
        left = f"{r.title} "
        dots = "." * max(3, width - len(left))
        out.append(f"{left}{dots} {mark:<7} {pts:>6}  ({r.duration:.1f}s)")
        if r.status in ("FAIL", "ERROR", "SKIP", "NOT RUN") and r.reason:
            out.append(f"    {r.reason}")
    got = sum(r.score for r in records if r.counted)
    total = sum(r.max_points for r in records if r.counted)
    out.append(f"Score: {got}/{total}")
    return "\n".join(out)


def results_json(records, path, extra_output=""):
    """Write Gradescope's results.json (skipped tests are left out of the maximum)."""
    tests = []
    for r in records:
        if not r.counted:
            continue
        tests.append({
            "name": r.title,
            "score": r.score,
            "max_score": r.max_points,
            "output": (r.status + (": " + r.output if r.output else ""))[:8000],
            "visibility": "hidden" if r.hidden else "visible",
        })
    doc = {
        "score": sum(t["score"] for t in tests),
        "max_score": sum(t["max_score"] for t in tests),
        "output": extra_output,
        "tests": tests,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return doc
