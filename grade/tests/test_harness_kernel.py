"""The harness against the real kernel's misbehaving tests (kernel/core_ktest.c harness.*): TIMEOUT,
TRIPLE FAULT, a flood, and two kernel runs at the same time. QEMU runs use the GRUB path (fastest)."""
import resource
import threading

import pytest

from ferrous import runner
from ferrous.scoring import points

pytestmark = pytest.mark.harness          # checks of the harness: `make test`, not `make grade`
HANG_TIMEOUT = 12
FLOOD_TIMEOUT = 10


@points(2, "harness: a hung kernel is TIMEOUT within the limit")
def test_hang_is_timeout(boot, emu):
    limit = HANG_TIMEOUT
    r = boot(cmdline="test=harness.hang", boot="grub", timeout=limit)
    assert r.outcome == "TIMEOUT", r.describe()
    scaled = limit * runner._timeout_for(emu, "grub", 1)
    assert scaled <= r.wall_time < scaled + 5, f"wall {r.wall_time:.1f}s for a {scaled:.0f}s limit"
    assert r.first("test_begin")["name"] == "harness.hang"


@points(2, "harness: a triple fault is TRIPLE_FAULT")
def test_triple_fault(boot):
    r = boot(cmdline="test=harness.triple", boot="grub")
    assert r.outcome == "TRIPLE_FAULT", r.describe()
    assert r.first("end") is None


@points(2, "harness: a flooding kernel is cut off, transcript capped", emu=("qemu",))
def test_flood_capped(boot, monkeypatch):
    # QEMU's UART paces output (~50 KiB/s here): shrink the caps so the flood overflows them.
    monkeypatch.setattr(runner, "TRANSCRIPT_HEAD", 64 * 1024)
    monkeypatch.setattr(runner, "TRANSCRIPT_TAIL", 64 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = boot(cmdline="test=harness.flood", boot="grub", timeout=FLOOD_TIMEOUT, cache=False)
    assert r.outcome == "TIMEOUT", r.describe()
    assert len(r.transcript) <= runner.TRANSCRIPT_HEAD + runner.TRANSCRIPT_TAIL + 100
    assert r.transcript_bytes > runner.TRANSCRIPT_HEAD + runner.TRANSCRIPT_TAIL, \
        f"only {r.transcript_bytes} bytes in {FLOOD_TIMEOUT}s: the cap was not exercised"
    assert r.truncated and "bytes dropped" in r.transcript
    assert "lazy dog" in r.tail(3), "the end of the flood is not in the kept tail"
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 64, f"harness RSS grew by {grown_mib:.0f} MiB"


@points(2, "harness: two kernel runs at once do not collide", emu=("qemu",))
def test_two_runs_at_once(seed):
    results = {}

    def go(n):
        results[n] = runner.run(boot="grub", emu="qemu", cmdline=f"test=core.glob seed={seed + n}")

    ts = [threading.Thread(target=go, args=(n,)) for n in (1, 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for n in (1, 2):
        r = results[n]
        assert r.outcome == "OK", r.describe()
        ev = r.first("seed")
        assert ev is not None and ev["value"] == seed + n, f"run {n} saw seed {ev}"
        assert r.tests()["core.glob"].status == "pass"
    assert results[1].dir != results[2].dir


@points(2, "determinism: same build and seed give the same protocol lines")
def test_same_seed_same_protocol(seed, emu):
    cmd = f"test=bootinfo.*,cmdline.*,core.glob,core.rand_is_per_test_and_varies seed={seed}"
    a = runner.run(boot="grub", emu=emu, cmdline=cmd)
    b = runner.run(boot="grub", emu=emu, cmdline=cmd)
    assert a.outcome == "OK" and b.outcome == "OK", a.describe() + "\n" + b.describe()
    la, lb = [e.raw for e in a.events], [e.raw for e in b.events]
    diff = [(x, y) for x, y in zip(la, lb) if x != y]
    assert la == lb, f"{len(la)} vs {len(lb)} lines; first difference: {diff[:1]}"
    assert a.tests() and all(t.status == "pass" for t in a.tests().values())
