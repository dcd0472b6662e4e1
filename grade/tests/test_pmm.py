"""pmm.* graders (lab `pmm`): the physical memory manager, checked from outside.

Boot A (`test=pmm.* pmm=bitmap`, the lab's allocator): the in-kernel pmm tests, and at the
`pmm_all_allocated` checkpoint (every free frame allocated by pmm.alloc_all_once) the callback reads from
the stopped machine the bytes at the kernel's claimed physical base (compared with build/kernel.elf, so the
claim is checked, not trusted) and the ACPI tables (RSDP -> RSDT/XSDT -> each table, FADT -> DSDT/FACS).
The graders then check the allocated runs the kernel printed against the memory size given to the
emulator, the kernel image, the first MiB and the ACPI tables. The kernel's RSDP must equal (bytes, not
address: GRUB passes a copy) one the callback found itself: BIOS boots (GRUB, Bochs) scan 0xE0000-0xFFFFF,
UEFI boots the ACPI reclaim/NVS ranges of the boot memory map read from guest memory (ferrous/bootmap.py).
`memmap` total_kib must equal `frames` total * 4 (PROTOCOL.md).
Boot B (`test=pmm.* pmm=buddy`): the same tests on the default allocator.
Boot C (`test=fault.pmm_double_free`): a double free must panic naming the frame, its state and the caller.
Boot D (`test=fault.pmm_use_after_free`): a write to a freed frame must panic when the frame is reused.

`@@ frames` accounting: leaked = owned frames (ALLOCATED + PAGETABLE + HEAP) not accounted for by a
registered owner (the kernel heap, the kernel address space's page tables); see kernel/mm/pmm.h.
"""
import struct

from ferrous import bootmap, x86walk
from ferrous import runner as ferrous_runner
from ferrous.scoring import points

MEM = "256M"
MEM_BYTES = 256 << 20
KERNEL_VBASE = 0xFFFFFFFF80000000
CMD_BITMAP = "test=pmm.* pmm=bitmap"
CMD_BUDDY = "test=pmm.* pmm=buddy"

SEEN = {}


ACPI_MAX_LEN = 1 << 20                  # no ACPI table of QEMU/OVMF/SeaBIOS/Bochs comes near 1 MiB
BIOS_RSDP_AREA = (0xE0000, 0x100000)    # where a BIOS (SeaBIOS, Bochs' BIOS) puts the RSDP (ACPI 5.2.5.1)
ACPI_MEM_TYPES = {9, 10}                # EfiACPIReclaimMemory, EfiACPIMemoryNVS: where OVMF puts it
RSDP_SCAN_MAX = 16 << 20                # bytes of ACPI memory the UEFI scan reads at most


def _rsdp_len(b):
    """Bytes of the RSDP at the start of b that its checksums cover: 20 (ACPI 1.0) or 36 (2.0+)."""
    return 36 if b[15] >= 2 else 20


def _rsdp_candidates(data, base, align):
    """[(addr, bytes)] of every checksum-valid RSDP on an `align`-byte boundary of data (read from base)."""
    out = []
    at = data.find(b"RSD PTR ")
    while at >= 0:
        if (base + at) % align == 0 and at + 36 <= len(data):
            b = data[at:at + 36]
            n = _rsdp_len(b)
            if sum(b[:20]) & 0xFF == 0 and sum(b[:n]) & 0xFF == 0:
                out.append((base + at, b[:n]))
        at = data.find(b"RSD PTR ", at + 1)
    return out


def _scan_rsdp(machine):
    """(where, [(addr, bytes)]): the firmware's RSDPs found without the kernel's help. BIOS boots (GRUB,
    Bochs): 0xE0000-0xFFFFF on 16-byte boundaries. UEFI (any alignment: OVMF's is at ...014): the ACPI reclaim/NVS ranges of the boot memory map, read from guest
    memory (grade/ferrous/bootmap.py: the kernel's copy, found through build/kernel.elf and the page tables)."""
    if machine.first_event("boot")["path"] != "uefi":
        lo, hi = BIOS_RSDP_AREA
        return f"0x{lo:x}-0x{hi - 1:x}", _rsdp_candidates(machine.read_phys(lo, hi - lo), lo, 16)
    regs = machine.regs()
    nxe = bool(regs["efer"] & (1 << 11)) if "efer" in regs else True
    w = x86walk.Walker(machine.read_phys, regs["cr3"], nxe=nxe)
    descs = bootmap.read(ferrous_runner.KERNEL_ELF, lambda va: getattr(w.translate(va), "pa", None),
                         machine.read_phys)
    ranges = sorted((s, e) for t, s, e in descs if t in ACPI_MEM_TYPES)
    found, budget = [], RSDP_SCAN_MAX
    for lo, hi in ranges:
        n = min(hi - lo, budget)
        budget -= n
        if n > 0:
            found += _rsdp_candidates(machine.read_phys(lo, n), lo, 1)
    return "ACPI reclaim/NVS ranges " + ", ".join(f"0x{s:x}-0x{e - 1:x}" for s, e in ranges), found


def _acpi_table(machine, sig_hint, addr, out, bad, checksum=True):
    """Read the table at addr (length from its header, bounded), append (sig, addr, len) to out and any
    problem (bad pointer, bad length, checksum) to bad. Returns the table bytes or None."""
    if not 0 < addr < MEM_BYTES:
        bad.append(f"{sig_hint} pointer 0x{addr:x} is outside the machine's RAM")
        return None
    head = machine.read_phys(addr, 8)
    sig, length = head[:4].decode("ascii", "replace"), struct.unpack_from("<I", head, 4)[0]
    if not (36 if checksum else 64) <= length <= ACPI_MAX_LEN or addr + length > MEM_BYTES:
        bad.append(f"{sig_hint} at 0x{addr:x}: signature {sig!r}, implausible length {length}")
        return None
    out.append((sig, addr, length))
    body = machine.read_phys(addr, length)
    if checksum and sum(body) & 0xFF:
        bad.append(f"{sig} at 0x{addr:x} (+{length}): checksum is not 0 (overwritten?)")
    return body


def _read_acpi(machine, rsdp):
    """([(signature, addr, length)], [problem]) for every ACPI table reachable from the RSDP (plus the
    RSDP itself), read from guest memory with their checksums verified and lengths bounded."""
    out, bad = [], []
    head = machine.read_phys(rsdp, 36)
    if head[:8] != b"RSD PTR ":
        return out, [f"no RSDP signature at 0x{rsdp:x}: {head[:8]!r}"]
    rev = head[15]
    out.append(("RSDP", rsdp, 36 if rev >= 2 else 20))
    if sum(head[:20]) & 0xFF or (rev >= 2 and sum(head[:36]) & 0xFF):
        bad.append(f"RSDP at 0x{rsdp:x}: checksum is not 0 (overwritten?)")
    if rev >= 2 and struct.unpack_from("<Q", head, 24)[0]:
        root, esize = struct.unpack_from("<Q", head, 24)[0], 8
    else:
        root, esize = struct.unpack_from("<I", head, 16)[0], 4
    body = _acpi_table(machine, "RSDT/XSDT", root, out, bad)
    if body is None:
        return out, bad
    for off in range(36, len(body) - esize + 1, esize):
        addr = struct.unpack_from("<Q" if esize == 8 else "<I", body, off)[0]
        t = _acpi_table(machine, "table", addr, out, bad)
        if t is None or t[:4] != b"FACP" or len(t) < 44:
            continue
        facs, dsdt = struct.unpack_from("<II", t, 36)
        if len(t) >= 148:
            dsdt = struct.unpack_from("<Q", t, 140)[0] or dsdt
        if dsdt:
            _acpi_table(machine, "DSDT", dsdt, out, bad)
        if facs:
            _acpi_table(machine, "FACS", facs, out, bad, checksum=False)   # FACS has no checksum
    return out, bad


def _kernel_text_bytes(n=256):
    """The first n bytes of the kernel's text segment (the one linked at KERNEL_VBASE) from the ELF file."""
    with open(ferrous_runner.KERNEL_ELF, "rb") as f:
        elf = f.read()
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr = struct.unpack_from("<IIQQ", elf, phoff + i * phentsize)
        if p_type == 1 and p_vaddr == KERNEL_VBASE:
            return elf[p_offset:p_offset + n]
    raise AssertionError("kernel.elf has no PT_LOAD at KERNEL_VBASE")


def on_checkpoint(name, fields, machine):
    """At pmm_all_allocated: read the kernel text at its claimed base and the ACPI tables."""
    if name != "pmm_all_allocated":
        return
    kern = machine.first_event("kernel")
    rsdp = machine.first_event("rsdp")
    s = {"text_at_base": machine.read_phys(kern["phys_base"], 256), "acpi": [], "acpi_bad": [],
         "emu": machine.emu}
    if rsdp is not None and rsdp["addr"]:
        s["acpi"], s["acpi_bad"] = _read_acpi(machine, rsdp["addr"])
        s["rsdp_bytes"] = machine.read_phys(rsdp["addr"], 36)
    try:
        s["rsdp_where"], s["rsdp_scan"] = _scan_rsdp(machine)
    except Exception as e:              # reported by the grader that needs it; the rest of s still counts
        tb = e.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        s["rsdp_where"], s["rsdp_scan"] = (f"(no scan: {type(e).__name__}: {e} at "
                                           f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"), []
    SEEN[machine.first_event("boot")["cmdline"]] = s


def _boot(boot, cmdline):
    return boot(cmdline=cmdline, mem=MEM, on_checkpoint=on_checkpoint)


def _runs(run):
    return [(e["start"], e["count"]) for e in run.all("pmm_run")]


def _assert_ktests(run, names):
    run.require_end()
    tests = run.tests()
    for n in names:
        assert n in tests, "%s did not run\n%s" % (n, run.describe())
        assert tests[n].status == "pass", tests[n].describe()


PMM_TESTS = ["pmm.alloc_free", "pmm.contig_aligned", "pmm.private_node_exhaustion",
             "pmm.states_of_boot_regions", "pmm.transfer_and_injected_oom", "pmm.alloc_all_once"]


@points(5, "pmm: frame alloc/free, states, contiguous aligned runs (bitmap)", lab="pmm")
def test_pmm_basic_bitmap(boot):
    run = _boot(boot, CMD_BITMAP)
    _assert_ktests(run, PMM_TESTS[:4])
    assert run.first("pmm")["allocator"] == "bitmap", run.first("pmm").raw


@points(10, "pmm: every free frame allocated once and only once, matching the machine's memory", lab="pmm")
def test_pmm_all_frames_once(boot):
    run = _boot(boot, CMD_BITMAP)
    _assert_ktests(run, ["pmm.alloc_all_once"])
    ev = run.first("pmm_all")
    runs = sorted(_runs(run))
    assert runs, "no pmm_run lines"
    assert sum(c for _, c in runs) == ev["count"] == ev["free_before"], (ev.raw, len(runs))
    for (a, n), (b, _) in zip(runs, runs[1:]):
        assert a + n <= b, "allocated runs overlap: 0x%x+%d and 0x%x" % (a, n, b)
    # Compared with the RAM the grader gave the machine: all of it but firmware, kernel and metadata.
    assert ev["count"] * 4096 <= MEM_BYTES
    assert ev["count"] * 4096 >= MEM_BYTES * 0.9, "only %d KiB of %d KiB allocatable" % (ev["count"] * 4, MEM_BYTES >> 10)
    # -m 256M: all RAM is below the PCI hole, [0, MEM_BYTES) (nothing is remapped above 4 GiB).
    assert (runs[-1][0] + runs[-1][1]) * 4096 <= MEM_BYTES, \
        "frame 0x%x beyond the machine's memory (-m %s)" % ((runs[-1][0] + runs[-1][1]) * 4096 - 4096, MEM)


@points(10, "pmm: the kernel image, the first MiB and the ACPI tables are never handed out", lab="pmm")
def test_pmm_reserved_never_allocated(boot):
    run = _boot(boot, CMD_BITMAP)
    run.require_end()
    s = SEEN.get(run.first("boot")["cmdline"])
    assert s is not None, "the pmm_all_allocated checkpoint was not reached\n" + run.describe()
    kern = run.first("kernel")
    assert s["text_at_base"] == _kernel_text_bytes(), \
        "memory at the claimed kernel base 0x%x is not the kernel's text" % kern["phys_base"]
    reserved = [("kernel image", kern["phys_base"], kern["phys_size"]), ("first MiB", 0, 1 << 20)]
    reserved += [("ACPI " + sig, addr, length) for sig, addr, length in s["acpi"]]
    # QEMU and Bochs both give the machine ACPI tables: an RSDP of 0 would make this grader vacuous.
    assert run.first("rsdp")["addr"], "the kernel reports no RSDP (`@@ rsdp addr=0`)"
    assert any(sig == "RSDP" for sig, _, _ in s["acpi"]), "ACPI tables not read: " + "; ".join(s["acpi_bad"])
    assert len(s["acpi"]) >= 4, "only %s reachable from the RSDP" % [sig for sig, _, _ in s["acpi"]]
    # The RSDP must be the firmware's, found by the grader's own scan: a kernel pointing at checksum-valid
    # tables of its own would pass the checks above. Bytes, not addresses: GRUB hands the kernel a copy.
    assert s["rsdp_scan"], "no checksum-valid RSDP found in " + s["rsdp_where"]
    mine = s["rsdp_bytes"][:_rsdp_len(s["rsdp_bytes"])]
    assert any(mine == b for _, b in s["rsdp_scan"]), \
        "the kernel's RSDP at 0x%x (%s) is none of the firmware's in %s: %s" % (
            run.first("rsdp")["addr"], mine.hex(), s["rsdp_where"],
            "; ".join("0x%x %s" % (a, b.hex()) for a, b in s["rsdp_scan"]))
    # Read while every free frame was allocated (and filled): a table in a handed-out frame is garbage now.
    assert not s["acpi_bad"], "ACPI tables damaged at the pmm_all_allocated checkpoint:\n" + "\n".join(s["acpi_bad"])
    for start, count in _runs(run):
        lo, hi = start * 4096, (start + count) * 4096
        for what, base, size in reserved:
            assert hi <= base or base + size <= lo, \
                "allocated frames [0x%x, 0x%x) overlap the %s [0x%x, 0x%x)" % (lo, hi, what, base, base + size)


@points(5, "pmm: out of memory returns an error and recovers", lab="pmm")
def test_pmm_oom_recovers(boot):
    run = _boot(boot, CMD_BITMAP)
    _assert_ktests(run, ["pmm.alloc_all_once", "pmm.transfer_and_injected_oom", "pmm.private_node_exhaustion"])


@points(5, "pmm: no frame leaked at the end of the run", lab="pmm")
def test_pmm_no_leak(boot):
    run = _boot(boot, CMD_BITMAP)
    run.require_end()
    f = run.first("frames")
    assert f is not None, run.describe()
    assert f["leaked"] == 0, f.raw
    parts = sum(f[k] for k in ("free", "allocated", "pagetable", "reserved", "kernel", "heap", "loader"))
    assert parts == f["total"], "frame counts do not add up: %s" % f.raw
    mm = run.first("memmap")
    assert mm is not None and mm["total_kib"] == f["total"] * 4, \
        "memmap total_kib is not frames total * 4 (PROTOCOL.md): %s / %s" % (mm and mm.raw, f.raw)
    assert f["allocated"] == 0, "frames still ALLOCATED after the tests: " + f.raw
    assert f["loader"] == 0, "loader memory was not reclaimed after the switch: " + f.raw
    rec = run.first("pmm_reclaim")
    assert rec is not None and rec["frames"] == run.first("pmm")["loader"], (rec, run.first("pmm"))


@points(5, "pmm: double free is caught and names the frame, its state and the caller", lab="pmm")
def test_pmm_double_free_caught(boot):
    run = boot(cmdline="test=fault.pmm_double_free", mem=MEM)
    assert run.outcome == "PANIC", run.describe()
    p = run.first("panic")
    msg = p["msg"]
    assert "frame_free: pfn 0x" in msg and "is FREE (double free?)" in msg, msg
    assert "called from ktest_fn_fault__pmm_double_free" in msg, msg


@points(2, "pmm: a write to a freed frame is caught when the frame is reused (debug fill)")
def test_pmm_use_after_free_caught(boot):
    run = boot(cmdline="test=fault.pmm_use_after_free", mem=MEM)
    assert run.outcome == "PANIC", run.describe()
    msg = run.first("panic")["msg"]
    assert "was written after it was freed (use after free?)" in msg and "+0x78" in msg, msg


@points(5, "pmm: the buddy allocator passes the same tests, frames accounted")
def test_pmm_buddy(boot):
    run = _boot(boot, CMD_BUDDY)
    _assert_ktests(run, PMM_TESTS)
    assert run.first("pmm")["allocator"] == "buddy"
    ev = run.first("pmm_all")
    assert ev["count"] == ev["free_before"] == sum(c for _, c in _runs(run))
    f = run.first("frames")
    assert f["leaked"] == 0 and f["allocated"] == 0, f.raw
