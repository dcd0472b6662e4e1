"""Cross-run check, collected last: every run of this session that reached `end` (OK or FAIL) printed
frame accounting, and none leaked.

It FAILS (does not skip) in a session with no kernel run, e.g. `pytest -k NAME` selecting only this test
or harness self-tests: a skip would drop its points from the maximum, so a kernel that never prints
accounting would lose nothing. Run it together with the graders (`make grade`, `make test`)."""
from ferrous.scoring import points


@points(3, "frames: no leaked frames after any run")
def test_no_leaked_frames(all_runs):
    kernel_runs = [(c, r) for c, r in all_runs if r.boot != "raw"]      # raw: the harness self-test guest
    with_frames = [(c, r) for c, r in kernel_runs if r.first("frames") is not None]
    # A skip would drop these points from the maximum: a kernel that never prints accounting must lose
    # them. Every run that reached `end status=ok|fail` went through pmm_report (kernel/main.c).
    assert with_frames, f"none of the {len(kernel_runs)} kernel runs of this session printed a `frames` line"
    ended = [(c, r) for c, r in kernel_runs if r.outcome in ("OK", "FAIL")]
    silent = [f"{r.emu}/{r.boot} cmdline={c!r}" for c, r in ended if r.first("frames") is None]
    assert not silent, "runs that reached `end` without a `frames` line:\n" + "\n".join(silent)
    bad = [f"{r.emu}/{r.boot} cmdline={c!r}: {r.last('frames').raw}"
           for c, r in with_frames if r.last("frames")["leaked"] != 0]
    assert not bad, "\n".join(bad)
