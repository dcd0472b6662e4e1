"""Ferrous GDB helpers (sourced by the project .gdbinit; or `source tools/gdb/ferrous.py`).

  pagewalk VA [CR3]    each level of the walk of VA: index, entry address, raw entry, decoded flags,
                       next table; then the frame, offset and physical address (huge pages included)
  ptdump [CR3] [LO HI] the mappings as merged ranges (virtual, physical, size, flags, page sizes)

Both read guest physical memory through QEMU's gdbstub in physical mode
(`maint packet Qqemu.PhyMemMode:1`, switched back afterwards), so they work on any CR3, also one
that is not loaded, and do not depend on the kernel's own walker: the walk is grade/ferrous/x86walk.py,
the same independent walker the graders use.

Pretty-printers: paddr_t, vaddr_t, pfn_t (hex), pte_t (raw + decoded flags + address),
struct frame (pfn and physical address).
"""
import importlib.util
import os

import gdb

_HERE = os.path.dirname(os.path.abspath(__file__))
_WALK_PATH = os.path.normpath(os.path.join(_HERE, "..", "..", "grade", "ferrous", "x86walk.py"))
_spec = importlib.util.spec_from_file_location("ferrous_x86walk", _WALK_PATH)
x86walk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(x86walk)


def _phys_mode(on):
    """Switch QEMU's gdbstub memory accesses between physical (on) and virtual addresses."""
    gdb.execute(f"maint packet Qqemu.PhyMemMode:{1 if on else 0}", to_string=True)


def read_phys(addr, size):
    """Guest physical bytes [addr, addr + size) (QEMU gdbstub only)."""
    _phys_mode(True)
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, size))
    finally:
        _phys_mode(False)


def _eval_int(text):
    return int(gdb.parse_and_eval(text)) & ((1 << 64) - 1)


def _current_cr3():
    try:
        return _eval_int("$cr3")
    except gdb.error:
        raise gdb.GdbError("cannot read $cr3 (connect to QEMU's gdbstub with `set architecture i386:x86-64`"
                           " before `target remote`), or pass CR3 explicitly")


def _nxe():
    try:
        return bool(_eval_int("$efer") & (1 << 11))
    except gdb.error:
        return True


def _split_va_cr3(arg):
    """VA and CR3 from "EXPR" or "EXPR CR3EXPR" (VA may contain spaces, e.g. a cast)."""
    try:
        return _eval_int(arg), _current_cr3()
    except gdb.error:
        head, _, tail = arg.rpartition(" ")
        if not head:
            raise
        return _eval_int(head), _eval_int(tail)


class PageWalk(gdb.Command):
    """pagewalk VA [CR3]: walk the 4-level page tables for VA (expressions allowed; CR3 defaults to $cr3)."""

    def __init__(self):
        super().__init__("pagewalk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if not arg:
            raise gdb.GdbError("usage: pagewalk VA [CR3]")
        va, cr3 = _split_va_cr3(arg)
        w = x86walk.Walker(read_phys, cr3, nxe=_nxe())
        for line in w.format_walk(va):
            gdb.write(line + "\n")


class PtDump(gdb.Command):
    """ptdump [CR3] [LO HI]: every mapping as merged ranges with the effective flags."""

    def __init__(self):
        super().__init__("ptdump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        cr3 = _eval_int(args[0]) if args else _current_cr3()
        lo, hi = 0, 1 << 64
        if len(args) >= 3:
            lo, hi = _eval_int(args[1]), _eval_int(args[2])
        w = x86walk.Walker(read_phys, cr3, nxe=_nxe())
        runs = w.ranges(lo, hi)
        gdb.write(f"ptdump CR3 0x{cr3 & x86walk.ADDR_MASK:x}: {len(runs)} ranges\n")
        for va0, va1, pa0, perms, sizes in runs:
            gdb.write(f"  0x{va0:016x}-0x{va1:016x} -> 0x{pa0:012x}  {_human(va1 - va0):>9}  {perms:<10} {sizes}\n")


def _human(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


# ---- pretty-printers ----

class _HexPrinter:
    def __init__(self, val, field, label):
        self.val, self.field, self.label = val, field, label

    def to_string(self):
        return f"{self.label} 0x{int(self.val[self.field]) & ((1 << 64) - 1):x}"


class _PtePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        raw = int(self.val["raw"]) & ((1 << 64) - 1)
        if not raw & x86walk.P:
            return f"pte 0x{raw:016x} (not present)"
        return f"pte 0x{raw:016x} [{x86walk.decode_entry(raw, 1)}] addr 0x{raw & x86walk.ADDR_MASK:x}"


class _FramePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        n = int(self.val["pfn"]["n"]) & ((1 << 64) - 1)
        return f"frame pfn 0x{n:x} (pa 0x{n << 12:x})"


def _lookup(val):
    t = val.type.unqualified()
    name = t.name if t.code == gdb.TYPE_CODE_TYPEDEF else None
    if name == "paddr_t":
        return _HexPrinter(val, "pa", "paddr")
    if name == "vaddr_t":
        return _HexPrinter(val, "va", "vaddr")
    if name == "pfn_t":
        return _HexPrinter(val, "n", "pfn")
    if name == "pte_t":
        return _PtePrinter(val)
    st = t.strip_typedefs()
    if st.code == gdb.TYPE_CODE_STRUCT and st.tag == "frame":
        return _FramePrinter(val)
    return None


PageWalk()
PtDump()
if _lookup not in gdb.pretty_printers:
    gdb.pretty_printers.append(_lookup)
