"""Cross-run check, collected last: every run of this session that printed frame accounting leaked
nothing."""
import pytest

from ferrous.scoring import points


@points(3, "frames: no leaked frames after any run")
def test_no_leaked_frames(all_runs):
    with_frames = [(c, r) for c, r in all_runs if r.first("frames") is not None]
    if not with_frames:
        pytest.skip("no run of this session printed a `frames` line")
    bad = [f"{r.emu}/{r.boot} cmdline={c!r}: {r.last('frames').raw}"
           for c, r in with_frames if r.last("frames")["leaked"] != 0]
    assert not bad, "\n".join(bad)
