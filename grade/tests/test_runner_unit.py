"""Unit tests of the outcome classification (runner._classify) on made-up transcripts, no emulator.

The kernel's `end` line is a claim the emulator must confirm: these feed transcripts that print
`@@ end status=ok` and then hang, crash or exit with another code, and check the outcome comes from
the emulator (grade/README.md "Outcome")."""
import pytest

from ferrous import runner
from ferrous.runner import Outcome

pytestmark = pytest.mark.harness

OK_END = b"@@ boot path=multiboot2\r\n@@ tests selected=1 passed=1 failed=0 skipped=0\r\n@@ end status=ok\r\n"


def classify(data, emu="qemu", timed_out=False, exit_code=None, log="", end_confirmed=None):
    """The Run _classify makes of serial bytes `data` and what the emulator reported."""
    cap = runner.Capture()
    cap.feed_events(data)
    cap.finish()
    r = runner.Run(emu=emu)
    text, _ = cap.transcript()
    runner._classify(r, cap, timed_out, exit_code, log, emu, text, end_confirmed)
    return r


@pytest.mark.parametrize("data,code,want", [
    (OK_END, 33, Outcome.OK),
    (b"@@ end status=fail\r\n", 35, Outcome.FAIL),
    (b"@@ end status=panic\r\n", 37, Outcome.PANIC),
])
def test_qemu_end_confirmed_by_exit_code(data, code, want):
    r = classify(data, exit_code=code)
    assert r.outcome == want and not r.notes, r.describe()


@pytest.mark.parametrize("timed_out,code,log,want", [
    (False, None, "", Outcome.TIMEOUT),                     # killed END_GRACE after `end`: it hung
    (True, None, "", Outcome.TIMEOUT),                      # wall limit after `end`
    (False, 0, "Triple fault", Outcome.TRIPLE_FAULT),       # -no-reboot exit after a triple fault
    (False, 37, "", Outcome.PANIC),                         # panicked after printing ok
    (False, 35, "", Outcome.FAIL),
    (False, 39, "", Outcome.LOADER_ERROR),
    (False, 0, "", Outcome.EMULATOR_ERROR),                 # e.g. ACPI poweroff, no debug-exit write
    (False, 1, "", Outcome.EMULATOR_ERROR),
])
def test_qemu_printed_ok_but_exit_code_disagrees(timed_out, code, log, want):
    r = classify(OK_END, timed_out=timed_out, exit_code=code, log=log)
    assert r.outcome == want, r.describe()
    assert any("not the kernel's line" in n for n in r.notes), r.notes


def test_qemu_ok_exit_never_upgrades_a_worse_claim():
    assert classify(b"@@ end status=fail\r\n", exit_code=33).outcome == Outcome.FAIL
    assert classify(b"@@ end status=panic\r\n", exit_code=33).outcome == Outcome.PANIC


def test_qemu_end_line_printed_mid_run_then_crash():
    # A test that prints a fake `end` and the kernel then panics for real: the exit code decides.
    data = OK_END + b"@@ panic msg=\"x\" file=a.c line=1\r\n"
    assert classify(data, exit_code=37).outcome == Outcome.PANIC


def test_unknown_end_status():
    r = classify(b"@@ end status=great\r\n", exit_code=33)
    assert r.outcome == Outcome.EMULATOR_ERROR


@pytest.mark.parametrize("confirmed,timed_out,code,log,want", [
    (True, False, 0, "", Outcome.OK),                       # `end` seen at the exit magic break
    (False, False, None, "", Outcome.TIMEOUT),              # `end` then no magic break: stopped after 2 s
    (False, True, None, "", Outcome.TIMEOUT),
    (False, False, 1, "00012 e 3rd (14) exception with no resolution", Outcome.TRIPLE_FAULT),
    (False, False, 1, "", Outcome.EMULATOR_ERROR),          # Bochs exited by itself after `end`
])
def test_bochs_end_needs_the_magic_break(confirmed, timed_out, code, log, want):
    r = classify(OK_END, emu="bochs", timed_out=timed_out, exit_code=code, log=log, end_confirmed=confirmed)
    assert r.outcome == want, r.describe()


@pytest.mark.parametrize("emu,timed_out,code,log,data,want", [
    ("qemu", True, None, "", b"@@ boot x=1\r\n", Outcome.TIMEOUT),
    ("qemu", False, 39, "", b"", Outcome.LOADER_ERROR),
    ("qemu", False, 0, "Triple fault", b"", Outcome.TRIPLE_FAULT),
    ("qemu", False, 37, "", b"@@ panic msg=\"x\"\r\n", Outcome.PANIC),
    ("qemu", False, 0, "", b"", Outcome.EMULATOR_ERROR),
    ("bochs", False, 1, "3rd (13) exception with no resolution", b"", Outcome.TRIPLE_FAULT),
    ("qemu", False, 0, "", b"ferrous: grub: no kernel\r\n", Outcome.LOADER_ERROR),
])
def test_without_end(emu, timed_out, code, log, data, want):
    assert classify(data, emu=emu, timed_out=timed_out, exit_code=code, log=log).outcome == want


# ---- the session boot cache (conftest.BootCache) ----

def test_boot_cache_boots_each_key_once_across_threads(monkeypatch):
    import threading
    import time
    import types

    from conftest import BootCache

    calls = []

    def fake_run(**kw):
        calls.append(kw["cmdline"])
        time.sleep(0.2)                              # both threads are inside __call__ meanwhile
        return runner.Run(**kw)

    monkeypatch.setattr(runner, "run", fake_run)
    cache = BootCache(types.SimpleNamespace(option=types.SimpleNamespace(emu="qemu", boot="grub", seed=7)))
    got = {}

    def go(n, cmdline):
        got[n] = cache(cmdline=cmdline)

    ts = [threading.Thread(target=go, args=(n, c)) for n, c in ((1, "test=a"), (2, "test=a"), (3, "test=b"))]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(calls) == ["test=a seed=7", "test=b seed=7"], calls
    assert got[1] is got[2] and got[3] is not got[1]
    assert time.monotonic() - t0 < 0.39, "different keys must boot in parallel"
    assert cache(cmdline="test=a") is got[1] and len(calls) == 2
    cache(cmdline="test=a", cache=False)
    assert len(calls) == 3


def test_boot_cache_refuses_boot_from_checkpoint_callback(monkeypatch):
    # A callback runs while its run holds the key's lock (Bochs: on the booting thread itself); a boot()
    # from it would wait for itself. It must raise at once, on any thread, and the run must go on.
    import threading
    import types

    from conftest import BootCache

    cache = BootCache(types.SimpleNamespace(option=types.SimpleNamespace(emu="bochs", boot="grub", seed=7)))
    errors = []

    def fake_run(**kw):
        r = runner.Run(**kw)
        if kw["on_checkpoint"] is not None:
            try:                                     # as _run_bochs / the QEMU pump thread call it
                runner._call_checkpoint(kw["on_checkpoint"], "cp", {}, None)
            except Exception as e:
                errors.append(e)
        return r

    def cp(name, fields, m):
        cache(cmdline="test=a", on_checkpoint=cp)    # the same key as the run being served

    monkeypatch.setattr(runner, "run", fake_run)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", cache(cmdline="test=a", on_checkpoint=cp)),
                         daemon=True)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive(), "boot() from an on_checkpoint callback deadlocked"
    assert len(errors) == 1 and isinstance(errors[0], runner.HarnessError), errors
    assert "on_checkpoint callback" in str(errors[0])
    assert not runner.in_checkpoint_callback()       # the flag is cleared after the callback
    assert cache(cmdline="test=a", on_checkpoint=cp) is got["r"]
