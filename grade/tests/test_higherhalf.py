"""higherhalf.* graders (lab `higherhalf`): the kernel address space, checked from outside.

One boot with `test=kas.*`. At the `kas.layout` checkpoint the callback reads CR0/CR3/CR4/EFER and
walks every mapping of the loaded tables with grade/ferrous/x86walk.py (guest memory via QMP pmemsave,
or the Bochs debugger), then checks: no low-half (identity) mapping, nothing user-accessible, no page
both writable and executable, kernel text R+X and not writable, rodata and data NX, the stack guard
unmapped, the direct map covering all RAM the grader gave the machine with RW+NX (R+NX over the kernel
image and over ranges the boot memory map, read from guest memory, marks firmware-reserved), NXE and WP on.
A second boot (`test=fault.rodata_write`) checks the page-fault walk report.

The section bounds and the guard page come from build/kernel.elf's symbol table, not from the
checkpoint; the kernel's physical base (`kphys`) is used only after the guest memory there was found to
hold the ELF's text segment.

Which direct-map pages must be read-only (firmware-reserved ranges above 1 MiB) comes from the kernel's
own copy of the boot memory map (`mmap_copy`, read from guest memory by ferrous/bootmap.py), so a kernel
could widen the read-only set by editing that copy. It is bounded: the map must still call at least
MEM - 4 MiB of the machine's memory RAM (test_direct_map), so retyping RAM as reserved excuses at most
4 MiB from the writable check; bootmap.read rejects a copy with unsorted or overlapping descriptors, so
a reserved descriptor cannot be laid over RAM that is still listed as RAM.
"""
import bisect

import pytest

from ferrous import bootmap, elf, runner, x86walk
from ferrous.scoring import points

CMDLINE = "test=kas.*"
DIRECT_MAP_BASE = 0xFFFF800000000000
KERNEL_VBASE = 0xFFFFFFFF80000000
MEM = "256M"
MEM_BYTES = 256 << 20
CR0_WP = 1 << 16
EFER_NXE = 1 << 11

SEEN = {}


def _pages(lo, hi):
    return range(lo & ~0xFFF, hi, 0x1000)


def elf_layout():
    """Section bounds and the stack guard page from build/kernel.elf (kernel/kernel.ld, kernel/entry.S)."""
    sym = elf.symbols(runner.KERNEL_ELF)
    return dict(text_start=sym["_text_start"], text_end=sym["_text_end"], rodata_start=sym["_rodata_start"],
                rodata_end=sym["_rodata_end"], data_start=sym["_data_start"], data_end=sym["_bss_end"],
                guard=sym["boot_stack_guard"])


def on_checkpoint(name, fields, machine):
    """Runs while the guest is stopped at kas.layout: collect everything the tests below judge."""
    if name != "kas.layout":
        return
    regs = machine.regs()
    nxe = bool(regs["efer"] & EFER_NXE) if "efer" in regs else True
    w = x86walk.Walker(machine.read_phys, regs["cr3"], nxe=nxe)
    maps = w.mappings()
    f = dict(elf_layout(), cr3=fields["cr3"], kernel_phys=fields["kphys"], dm_limit=fields["dm"])
    # The claimed physical base must hold the kernel's text (one read, compared with the ELF file).
    text = elf.segment_bytes(runner.KERNEL_ELF, KERNEL_VBASE)
    kphys_ok = machine.read_phys(f["kernel_phys"], len(text)) == text
    s = dict(regs=regs, fields=f, claimed=dict(fields), kphys_ok=kphys_ok, n=len(maps), low=[], user=[],
             wx=[], text=[], rodata=[], data=[], guard=None, dm_missing=[], dm_bad=[], second=[])
    for m in maps:
        if m.va < (1 << 47):
            s["low"].append(m)
        if m.user:
            s["user"].append(m)
        if m.writable and m.executable:
            s["wx"].append(m)
    # the kernel image, page by page
    for va in _pages(f["text_start"], f["text_end"]):
        t = w.translate(va)
        if t is None or t.writable or not t.executable or t.pa != f["kernel_phys"] + (va - KERNEL_VBASE):
            s["text"].append((va, t))
    for va in _pages(f["rodata_start"], f["rodata_end"]):
        t = w.translate(va)
        if t is None or t.writable or t.executable:
            s["rodata"].append((va, t))
    for va in _pages(f["data_start"], f["data_end"]):
        if va == f["guard"]:
            continue
        t = w.translate(va)
        if t is None or not t.writable or t.executable:
            s["data"].append((va, t))
    s["guard"] = w.translate(f["guard"])
    # the direct map over all RAM the machine has below the PCI hole (QEMU/Bochs: [0, 640K) and [1M, MEM))
    dm = {}
    for m in w.mappings(DIRECT_MAP_BASE, DIRECT_MAP_BASE + (1 << 46)):
        dm[m.va - DIRECT_MAP_BASE] = m
    covered = sorted(dm)

    def find(pa):
        i = bisect.bisect_right(covered, pa) - 1
        if i < 0:
            return None
        m = dm[covered[i]]
        return m if pa < covered[i] + m.size else None

    ro_lo = f["kernel_phys"] + (f["text_start"] - KERNEL_VBASE)
    ro_hi = f["kernel_phys"] + (f["rodata_end"] - KERNEL_VBASE)
    # Firmware-reserved ranges above 1 MiB inside the machine's RAM (SeaBIOS' high area, OVMF's reserved
    # pages) are mapped read-only: which pages those are comes from the boot memory map, read out of guest
    # memory (kernel/mm/memmap.h: the "reserved" class).
    descs = bootmap.read(runner.KERNEL_ELF, lambda va: getattr(w.translate(va), "pa", None), machine.read_phys)
    fw = bootmap.reserved_ranges(descs)
    s["ram_bytes"] = bootmap.ram_bytes(descs)
    s["fw_ranges"] = fw
    for lo, hi in ((0, 0xA0000), (0x100000, MEM_BYTES)):
        for pa in range(lo, hi, 0x1000):
            m = find(pa)
            if m is None:
                s["dm_missing"].append(pa)
                continue
            want_w = not (ro_lo <= pa < ro_hi) and not (pa >= 0x100000 and bootmap.in_ranges(fw, pa))
            if m.pa + (pa - (m.va - DIRECT_MAP_BASE)) != pa:
                s["dm_bad"].append((pa, "maps to the wrong frame"))
            elif m.executable:
                s["dm_bad"].append((pa, "executable"))
            elif m.writable != want_w:
                s["dm_bad"].append((pa, f"writable={m.writable}, want {want_w}"))
    if machine.emu == "qemu":
        for va in (f["text_start"], f["data_start"], DIRECT_MAP_BASE + 0x1234000, 0x100000):
            s["second"].append((va, w.translate(va), machine.gva2gpa(va)))
    SEEN[name] = s


@pytest.fixture(scope="module")
def run(boot):
    r = boot(cmdline=CMDLINE, mem=MEM, on_checkpoint=on_checkpoint)
    r.require_end()
    return r


@pytest.fixture(scope="module")
def seen(run):
    s = SEEN.get("kas.layout")
    assert s is not None, "no kas.layout checkpoint was inspected:\n" + run.describe()
    return s


def _fmt(items, n=8):
    return "; ".join(f"0x{m.va:x}->0x{m.pa:x} [{m.perms()}]" if hasattr(m, "va") else str(m) for m in items[:n])


@points(2, "higherhalf: the kernel's own checks pass (kas.sections, kas.direct_map)", lab="higherhalf")
def test_ktests(run):
    tests = run.tests()
    for name in ("kas.sections", "kas.direct_map", "kas.layout"):
        assert name in tests, f"{name} did not run:\n" + run.describe()
        assert tests[name].status == "pass", tests[name].describe()


@points(2, "higherhalf: CR3 is the kernel's table; EFER.NXE and CR0.WP are on", lab="higherhalf")
def test_control_registers(run, seen):
    regs, f = seen["regs"], seen["fields"]
    assert regs["cr3"] & x86walk.ADDR_MASK == f["cr3"], f"CPU CR3 0x{regs['cr3']:x}, kernel says 0x{f['cr3']:x}"
    kas = run.first("kas")
    assert kas is not None and kas["cr3"] == f["cr3"], "`@@ kas` line missing or with another cr3"
    assert regs["cr0"] & CR0_WP, f"CR0.WP clear (cr0=0x{regs['cr0']:x})"
    if "efer" in regs:
        assert regs["efer"] & EFER_NXE, f"EFER.NXE clear (efer=0x{regs['efer']:x})"


@points(3, "higherhalf: no low identity mapping and nothing user-accessible remains", lab="higherhalf")
def test_no_low_or_user(seen):
    assert seen["n"] > 0, "the tables map nothing"
    assert not seen["low"], f"{len(seen['low'])} low-half mappings remain: " + _fmt(seen["low"])
    assert not seen["user"], f"{len(seen['user'])} user-accessible mappings: " + _fmt(seen["user"])


@points(3, "higherhalf: no page is both writable and executable (W^X)", lab="higherhalf")
def test_w_xor_x(seen):
    assert not seen["wx"], f"{len(seen['wx'])} W+X mappings: " + _fmt(seen["wx"])


@points(3, "higherhalf: text R+X at its physical frames, rodata R+NX, data RW+NX", lab="higherhalf")
def test_sections(seen):
    f = seen["fields"]
    assert f["text_start"] < f["text_end"] <= f["rodata_start"] < f["rodata_end"] <= f["data_start"] < f["data_end"], \
        f"kernel.elf section symbols out of order: {f}"
    assert seen["kphys_ok"], f"guest memory at the claimed kernel base kphys=0x{f['kernel_phys']:x} is not " \
        "the text segment of build/kernel.elf"
    for key in ("text", "rodata", "data"):
        bad = seen[key]
        assert not bad, f"{key}: {len(bad)} bad pages, first: " + \
            ", ".join(f"0x{va:x} -> {'unmapped' if t is None else hex(t.pa) + ' [' + t.perms() + ']'}"
                      for va, t in bad[:5])


@points(1, "higherhalf: the page under the boot stack is an unmapped guard page", lab="higherhalf")
def test_stack_guard(seen):
    f = seen["fields"]
    assert f["data_start"] <= f["guard"] < f["data_end"], f"boot_stack_guard 0x{f['guard']:x} outside data/bss"
    t = seen["guard"]
    assert t is None, f"guard page 0x{seen['fields']['guard']:x} is mapped to 0x{t.pa:x}"


@points(3, "higherhalf: the direct map covers all RAM of the machine, RW+NX (kernel ro alias and firmware-reserved R+NX)",
        lab="higherhalf")
def test_direct_map(seen):
    miss = seen["dm_missing"]
    assert not miss, f"{len(miss)} RAM frames not in the direct map, first 0x{miss[0]:x}"
    bad = seen["dm_bad"]
    assert not bad, f"{len(bad)} direct-map pages wrong: " + ", ".join(f"0x{pa:x} {why}" for pa, why in bad[:5])
    assert seen["fields"]["dm_limit"] >= MEM_BYTES - (1 << 20)
    # The read-only exception must not swallow the machine: the firmware reserves a few hundred KiB.
    assert seen["ram_bytes"] >= MEM_BYTES - (4 << 20), \
        f"the boot memory map in guest memory calls only {seen['ram_bytes'] >> 10} KiB RAM of {MEM}"


@points(1, "higherhalf: QEMU's gva2gpa agrees with the independent walker", lab="higherhalf", emu=("qemu",))
def test_gva2gpa(seen):
    bad = []
    for va, t, got in seen["second"]:
        want = None if t is None else t.pa
        if got != want:
            bad.append(f"0x{va:x}: walker {want if want is None else hex(want)}, gva2gpa "
                       f"{got if got is None else hex(got)}")
    assert seen["second"] and not bad, "\n".join(bad)


@points(3, "higherhalf: a kernel write to .rodata faults (WP on) and the report walks to the read-only leaf",
        lab="higherhalf")
def test_rodata_write_faults(boot, seen):
    r = boot(cmdline="test=fault.rodata_write", mem=MEM)
    fault = r.first("fault")
    assert fault is not None, "no fault reported (a write to .rodata went through?):\n" + r.describe()
    assert fault["vector"] == 14 and fault["p"] == 1 and fault["w"] == 1, fault.raw
    f = seen["fields"]
    assert f["rodata_start"] <= fault["cr2"] < f["rodata_end"], \
        f"cr2 0x{fault['cr2']:x} is not in rodata [0x{f['rodata_start']:x}, 0x{f['rodata_end']:x})"
    walk = r.first("pf_walk")
    assert walk is not None, "no `@@ pf_walk` line after the fault:\n" + r.describe()
    assert walk["va"] == fault["cr2"], f"pf_walk va 0x{walk['va']:x} != cr2 0x{fault['cr2']:x}"
    assert walk["stop"] == "leaf" and walk["levels"] == 4, walk.raw
    assert walk["l0"] & 1 and not walk["l0"] & 2, f"rodata leaf 0x{walk['l0']:x} must be present, not RW"
