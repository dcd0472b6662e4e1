"""Self-tests of the runner with a 512-byte real-mode guest (grade/selftest/guest.asm): the outcome
classification, the flood cap, checkpoints and parallel runs, independent of the kernel.
Needs nasm; each QEMU run takes well under a second."""
import os
import resource
import shutil
import subprocess
import threading

import pytest

from ferrous import runner

pytestmark = pytest.mark.harness
HERE = os.path.dirname(os.path.abspath(__file__))
GUEST = os.path.join(HERE, "..", "selftest", "guest.asm")
MODES = {"ok": 0, "hang": 1, "triple": 2, "flood": 3, "checkpoint": 4, "end_then_hang": 5, "end_then_panic": 6,
         "break_then_end_hang": 7}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    if not shutil.which("nasm"):
        pytest.skip("nasm is not installed")
    d = tmp_path_factory.mktemp("selftest")
    out = {}
    for name, mode in MODES.items():
        binf = d / f"{name}.bin"
        subprocess.run(["nasm", "-f", "bin", f"-DMODE={mode}", "-o", str(binf), GUEST], check=True)
        img = d / f"{name}.img"
        img.write_bytes(binf.read_bytes() + bytes(1474560 - 512))
        out[name] = str(img)
    return out


def test_ok_run(images, emu):
    r = runner.run(boot="raw", emu=emu, image=images["ok"])
    assert r.outcome == "OK", r.describe()
    if emu == "qemu":
        assert r.exit_code == 33
    assert r.first("boot")["loader"] == 'raw "x'
    assert r.wall_time < 10


def test_hang_is_timeout(images, emu):
    r = runner.run(boot="raw", emu=emu, image=images["hang"], timeout=3)
    assert r.outcome == "TIMEOUT", r.describe()
    assert r.exit_code is None
    assert 3 <= r.wall_time < 3 + 4, r.wall_time
    assert r.first("boot") is not None


def test_end_line_then_hang_is_not_ok(images, emu):
    # `@@ end status=ok`, then neither the exit magic break nor an isa-debug-exit write: a hang.
    r = runner.run(boot="raw", emu=emu, image=images["end_then_hang"], timeout=20)
    assert r.first("end") is not None
    assert r.outcome == "TIMEOUT", r.describe()
    assert r.wall_time < runner.END_GRACE + 5, r.wall_time


def test_early_break_does_not_confirm_later_end(images, emu):
    # A magic break with no protocol line pending, then `@@ end status=ok` and a hang: the break came
    # before `end`, so nothing confirms it (Bochs); QEMU never saw an exit code. Both: TIMEOUT.
    r = runner.run(boot="raw", emu=emu, image=images["break_then_end_hang"], timeout=20)
    assert r.first("end") is not None
    assert r.outcome == "TIMEOUT", r.describe()
    assert r.wall_time < runner.END_GRACE + 5, r.wall_time


def test_end_line_then_panic_exit(images, emu):
    # `@@ end status=ok`, then the panic exit code (37), then the usual magic break. QEMU: the exit code
    # decides, PANIC. Bochs has no exit code: the magic break after `end` is all it can confirm, OK.
    r = runner.run(boot="raw", emu=emu, image=images["end_then_panic"], timeout=20)
    assert r.first("end") is not None
    assert r.outcome == ("PANIC" if emu == "qemu" else "OK"), r.describe()


def test_triple_fault(images, emu):
    r = runner.run(boot="raw", emu=emu, image=images["triple"])
    assert r.outcome == "TRIPLE_FAULT", r.describe()
    assert r.wall_time < 10


def test_flood_is_capped(images, monkeypatch):
    # Small caps so a few seconds of flooding overflow them (the kernel flood test uses the real ones).
    monkeypatch.setattr(runner, "TRANSCRIPT_HEAD", 64 * 1024)
    monkeypatch.setattr(runner, "TRANSCRIPT_TAIL", 64 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = runner.run(boot="raw", emu="qemu", image=images["flood"], timeout=4)
    assert r.outcome == "TIMEOUT", r.describe()
    assert r.transcript_bytes > runner.TRANSCRIPT_HEAD + runner.TRANSCRIPT_TAIL
    assert r.truncated and "bytes dropped" in r.transcript
    assert len(r.transcript) <= runner.TRANSCRIPT_HEAD + runner.TRANSCRIPT_TAIL + 100
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 64, f"harness RSS grew by {grown_mib:.0f} MiB during a flood"


def test_checkpoint_machine_view(images, emu):
    seen = {}

    def cp(name, fields, m):
        seen["name"], seen["fields"] = name, fields
        seen["regs"] = m.regs()
        seen["rsd"] = m.read_phys(0x6000, 8)
        seen["code"] = m.read_phys(0x7c00, 512)
        seen["boot"] = m.first_event("boot")

    r = runner.run(boot="raw", emu=emu, image=images["checkpoint"], on_checkpoint=cp)
    r.require_end()
    assert r.outcome == "OK"
    assert seen["name"] == "selftest" and seen["fields"]["cr3"] == 0x5000
    assert seen["regs"]["cr3"] == 0x5000
    assert seen["rsd"] == b"RSD PTR "
    with open(images["checkpoint"], "rb") as f:
        assert seen["code"] == f.read(512)
    assert seen["boot"] is not None
    # The guest only goes on after the harness released it.
    names = [e.name for e in r.events]
    assert names.index("checkpoint") < names.index("after_checkpoint")


def test_checkpoint_callback_errors_are_reported(images):
    def cp(name, fields, m):
        raise ValueError("boom")

    r = runner.run(boot="raw", emu="qemu", image=images["checkpoint"], on_checkpoint=cp)
    assert r.outcome == "OK"
    assert r.checkpoint_errors and "boom" in r.checkpoint_errors[0]
    with pytest.raises(AssertionError, match="boom"):
        r.require_end()


def test_parallel_runs_do_not_collide(images, emu):
    results = {}

    def go(key, img, timeout):
        results[key] = runner.run(boot="raw", emu=emu, image=img, timeout=timeout)

    ts = [threading.Thread(target=go, args=("ok", images["ok"], 20)),
          threading.Thread(target=go, args=("hang", images["hang"], 3)),
          threading.Thread(target=go, args=("ok2", images["ok"], 20))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results["ok"].outcome == "OK", results["ok"].describe()
    assert results["ok2"].outcome == "OK", results["ok2"].describe()
    assert results["hang"].outcome == "TIMEOUT", results["hang"].describe()
    assert len({r.dir for r in results.values()}) == 3
    for r in results.values():
        assert not os.path.exists(r.dir), "run directory left behind"
