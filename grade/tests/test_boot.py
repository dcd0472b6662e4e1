"""Graders for the boot contract: both boot paths reach `end`, the boot summary agrees with what the
grader set up and with guest memory, the command line, faults, loader errors and the checkpoint.

One boot per path serves all summary tests: `test=bootinfo.*,core.checkpoint` plus an unknown key."""
import functools

import pytest

from ferrous.scoring import point_marks, points

MEM = "256M"
MEM_KIB = 256 * 1024
SUMMARY_CMDLINE = "test=bootinfo.*,core.checkpoint frobnicate=1"
KERNEL_VBASE = 0xFFFFFFFF80000000                    # kernel/boot_info.h
PAGE_FAULT_ADDRS = (0xdead000, 0xffffc0000dead000)   # kernel/core_ktest.c fault.pagefault

_seen = {}    # (emu, boot) -> what the checkpoint callback read


def _checkpoint(path, name, fields, m):
    """Record CR3, its top-level table and the RSDP bytes while the guest is stopped."""
    rec = _seen.setdefault((m.emu, path), {})
    rec["name"], rec["fields"] = name, fields
    rec["regs"] = m.regs()
    rec["pml4"] = m.read_table(rec["regs"]["cr3"] & ~0xFFF & ((1 << 52) - 1))
    rec["kbase_pa"] = m.gva2gpa(KERNEL_VBASE)
    rsdp = m.first_event("rsdp")
    if rsdp is not None and rsdp["addr"]:
        rec["rsdp_bytes"] = m.read_phys(rsdp["addr"], 20)


# One callback object per path, so the session cache recognises the same run.
_CALLBACKS = {p: functools.partial(_checkpoint, p) for p in ("uefi", "grub")}


def _summary_run(boot, path, emu):
    return boot(cmdline=SUMMARY_CMDLINE, boot=path, mem=MEM, on_checkpoint=_CALLBACKS[path])


def _paths(n, what, emu_uefi=("qemu",)):
    return [pytest.param("uefi", marks=point_marks(n, f"{what} (UEFI)", emu=emu_uefi)),
            pytest.param("grub", marks=point_marks(n, f"{what} (GRUB)"))]


@pytest.mark.parametrize("path", _paths(5, "boot: reaches `end status=ok`"))
def test_boot_reaches_end(boot, emu, path):
    r = _summary_run(boot, path, emu)
    r.require_end()
    assert r.outcome == "OK", r.describe()
    b = r.first("boot")
    assert b is not None, r.describe()
    assert b["path"] == {"uefi": "uefi", "grub": "multiboot2"}[path]
    assert b["version"] == 1
    assert "frobnicate=1" in b["cmdline"], f"kernel saw cmdline {b['cmdline']!r}"
    if emu == "qemu":
        assert r.exit_code == 33


@pytest.mark.parametrize("path", _paths(3, "boot: memory map agrees with -m"))
def test_memmap_within_m(boot, emu, path):
    r = _summary_run(boot, path, emu)
    mm = r.first("memmap")
    assert mm is not None, r.describe()
    assert mm["entries"] > 0
    assert 0 < mm["usable_kib"] <= MEM_KIB, f"usable {mm['usable_kib']} KiB with -m {MEM}"
    assert mm["usable_kib"] >= MEM_KIB * 3 // 4, f"only {mm['usable_kib']} KiB usable of {MEM}"
    assert mm["total_kib"] <= MEM_KIB, (f"memmap total_kib={mm['total_kib']} exceeds -m {MEM} "
                                        f"({mm.raw})")
    assert mm["max_phys"] > 0


@pytest.mark.parametrize("path", _paths(3, "boot: RSDP found and holds 'RSD PTR '"))
def test_rsdp(boot, emu, path):
    r = _summary_run(boot, path, emu)
    ev = r.first("rsdp")
    assert ev is not None, r.describe()
    assert ev["addr"] != 0, "RSDP address is 0"
    rec = _seen.get((emu, path), {})
    assert "rsdp_bytes" in rec, f"checkpoint did not read the RSDP: {r.describe()}"
    data = rec["rsdp_bytes"]
    assert data[:8] == b"RSD PTR ", f"bytes at 0x{ev['addr']:x}: {data[:8]!r}"
    assert sum(data) & 0xFF == 0, "RSDP checksum over the first 20 bytes is not 0"


@pytest.mark.parametrize("path", _paths(2, "cmdline: unknown key is reported, run still ok"))
def test_unknown_cmdline_key(boot, emu, path):
    r = _summary_run(boot, path, emu)
    keys = [e["key"] for e in r.all("cmdline_unknown")]
    assert keys == ["frobnicate"], f"cmdline_unknown keys {keys}"
    assert r.outcome == "OK"


@pytest.mark.parametrize("path", _paths(5, "bootinfo.* ktests pass"))
def test_bootinfo_ktests(boot, emu, path):
    r = _summary_run(boot, path, emu)
    tests = {k: v for k, v in r.tests().items() if k.startswith("bootinfo.")}
    assert len(tests) >= 5, f"only {len(tests)} bootinfo.* tests ran\n{r.describe()}"
    bad = [t.describe() for t in tests.values() if t.status != "pass"]
    assert not bad, "\n".join(bad)
    summary = r.first("tests")
    assert summary is not None and summary["failed"] == 0


@pytest.mark.parametrize("path", _paths(5, "checkpoint: CR3 seen from outside matches the kernel"))
def test_checkpoint_cr3(boot, emu, path):
    r = _summary_run(boot, path, emu)
    r.require_end()
    rec = _seen.get((emu, path))
    assert rec, f"the core.checkpoint checkpoint was never served\n{r.describe()}"
    assert rec["name"] == "core.checkpoint" and rec["fields"].get("value") == 42
    cr3 = rec["regs"]["cr3"]
    assert "cr3" in rec["fields"], f"core.checkpoint has no cr3= field: {rec['fields']}"
    assert cr3 == rec["fields"]["cr3"], f"CR3 0x{cr3:x} != kernel's 0x{rec['fields']['cr3']:x}"
    assert rec["regs"]["cr0"] & (1 << 31), "paging is off at the checkpoint"
    present = [i for i, e in enumerate(rec["pml4"]) if e & 1]
    assert present, f"no present entry in the top-level table at 0x{cr3 & ~0xFFF:x}"
    assert r.tests()["core.checkpoint"].status == "pass"
    k = r.first("kernel")
    assert k is not None, r.describe()
    assert rec["kbase_pa"] == k["phys_base"], \
        f"{m_name(emu)} translates KERNEL_VBASE to {rec['kbase_pa']!r}, kernel says phys_base=0x{k['phys_base']:x}"


def m_name(emu):
    return {"qemu": "QEMU's gva2gpa", "bochs": "Bochs' `page`"}[emu]


@points(5, "fault: page fault is reported and the run ends in PANIC")
def test_fault_pagefault(boot, emu):
    r = boot(cmdline="test=fault.pagefault", boot="grub")
    assert r.outcome == "PANIC", r.describe()
    f = r.first("fault")
    assert f is not None, r.describe()
    assert f["vector"] == 14, f.raw
    assert f["w"] == 1, f.raw
    assert f["cr2"] in PAGE_FAULT_ADDRS, f"cr2=0x{f['cr2']:x}"
    if emu == "qemu":
        assert r.exit_code == 37
    assert r.first("backtrace") is not None


@points(3, "fault: divide error is vector 0")
def test_fault_divide(boot, emu):
    r = boot(cmdline="test=fault.divide", boot="grub")
    assert r.outcome == "PANIC", r.describe()
    f = r.first("fault")
    assert f is not None and f["vector"] == 0, r.describe()


@points(3, "loader: missing kernel on the ESP is a LOADER_ERROR", emu=("qemu",))
def test_loader_error(boot):
    r = boot(cmdline="", boot="uefi", esp_kernel=False, timeout=40)
    assert r.outcome == "LOADER_ERROR", r.describe()
    ev = r.first("loader_error")
    assert ev is not None and "kernel" in ev["msg"].lower(), r.describe()
    assert r.exit_code == 39
    assert r.wall_time < 20, f"loader error took {r.wall_time:.1f}s"
