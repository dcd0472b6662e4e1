"""An independent x86-64 4-level page-table walker over guest physical memory.

It shares no code with the kernel's walker (kernel/mm/paging.c): graders read CR3 and guest memory
from the emulator (Machine.read_phys) and walk the tables here, so a kernel cannot pass by printing
what a grader expects. tools/gdb/ferrous.py imports the same module for `pagewalk` and `ptdump`.

    w = Walker(machine.read_phys, cr3)
    t = w.translate(0xffffffff80001000)     # Translation or None
    for m in w.mappings(): ...              # every leaf, in virtual-address order
    w.ranges()                              # merged ranges with equal effective permissions

Effective permissions follow the SDM (vol. 3A, 4.6): writable iff R/W is set at every level, user iff
U/S is set at every level, executable iff NX is clear at every level (with EFER.NXE; without it NX is a
reserved bit and the walk reports it). Global, PCD and PWT come from the leaf.
"""
import struct
from dataclasses import dataclass, field

P, RW, US, PWT, PCD, A, D, PS, G = (1 << i for i in range(9))
NX = 1 << 63
ADDR_MASK = 0x000FFFFFFFFFF000
LEVEL_NAMES = {3: "PML4", 2: "PDPT", 1: "PD", 0: "PT"}
PAGE_SIZES = {0: 0x1000, 1: 0x200000, 2: 0x40000000}
SIZE_NAMES = {0: "4K", 1: "2M", 2: "1G"}


def shift(level):
    return 12 + 9 * level


def index(va, level):
    return (va >> shift(level)) & 0x1FF


def canonical(va):
    top = va >> 47
    return top == 0 or top == 0x1FFFF


def sign_extend(va):
    """The canonical form of a 48-bit address."""
    va &= (1 << 48) - 1
    return va | (0xFFFF << 48) if va & (1 << 47) else va


def decode_entry(raw, level):
    """Flag names set in a raw entry at `level` ("P RW US ... NX"), the way the SDM names them."""
    if not raw & P:
        return "not present"
    names = []
    for bit, name in ((P, "P"), (RW, "RW"), (US, "US"), (PWT, "PWT"), (PCD, "PCD"), (A, "A"), (D, "D"),
                      (PS, "PS" if level > 0 else "PAT"), (G, "G"), (NX, "NX")):
        if raw & bit:
            names.append(name)
    return " ".join(names)


@dataclass
class Step:
    level: int          # 3 = PML4 ... 0 = PT
    index: int
    entry_addr: int     # physical address of the entry
    raw: int

    @property
    def name(self):
        return LEVEL_NAMES[self.level]


@dataclass
class Translation:
    va: int             # the address asked for
    pa: int             # its physical address
    page_va: int        # virtual base of the page
    page_pa: int        # physical base of the page
    level: int          # 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB
    writable: bool
    user: bool
    executable: bool
    global_: bool
    pcd: bool
    pwt: bool
    steps: list = field(default_factory=list)

    @property
    def size(self):
        return PAGE_SIZES[self.level]

    def perms(self):
        """Short text: r, w, x, u, g, then ' nc' / ' wt'."""
        s = "r" + ("w" if self.writable else "-") + ("x" if self.executable else "-") + \
            ("u" if self.user else "-") + ("g" if self.global_ else "-")
        return s + (" nc" if self.pcd else "") + (" wt" if self.pwt else "")


class WalkError(Exception):
    """A walk hit an entry the CPU would reject (reserved bits): carries the steps and the reason."""

    def __init__(self, reason, steps):
        super().__init__(reason)
        self.reason = reason
        self.steps = steps


class Walker:
    """Walks the 4-level tables rooted at cr3 through read_phys(addr, size) -> bytes."""

    def __init__(self, read_phys, cr3, nxe=True, maxphyaddr=52, pdpe1gb=True):
        """pdpe1gb=False: the CPU has no 1 GiB pages, so PS in a PDPT entry is a reserved bit (the
        grader passes what the emulator says, Machine.has_1g_pages(), not what the kernel claims)."""
        self.read_phys = read_phys
        self.root = cr3 & ADDR_MASK
        self.nxe = nxe
        self.pdpe1gb = pdpe1gb
        self.maxphyaddr = maxphyaddr
        self._tables = {}

    def table(self, pa):
        """The 512 entries of the table at physical pa (cached: the guest is stopped)."""
        t = self._tables.get(pa)
        if t is None:
            data = self.read_phys(pa, 4096)
            if len(data) != 4096:
                raise WalkError(f"read_phys(0x{pa:x}) returned {len(data)} bytes", [])
            t = list(struct.unpack("<512Q", data))
            self._tables[pa] = t
        return t

    def _check_entry(self, raw, level, steps):
        """Raise WalkError for bits the CPU treats as reserved in a present entry."""
        hi_mask = ((1 << 52) - 1) & ~((1 << self.maxphyaddr) - 1)
        if raw & hi_mask:
            raise WalkError(f"{LEVEL_NAMES[level]} entry 0x{raw:x}: address bits above MAXPHYADDR", steps)
        if (raw & NX) and not self.nxe:
            raise WalkError(f"{LEVEL_NAMES[level]} entry 0x{raw:x}: NX set with EFER.NXE clear", steps)
        if level == 3 and raw & PS:
            raise WalkError(f"PML4 entry 0x{raw:x}: PS is reserved", steps)
        if level == 2 and raw & PS and not self.pdpe1gb:
            raise WalkError(f"PDPT entry 0x{raw:x}: PS (1 GiB page) is reserved on a CPU without pdpe1gb", steps)
        if level in (1, 2) and raw & PS:
            low = (raw & ADDR_MASK) & (PAGE_SIZES[level] - 1) & ~0x1000   # bit 12 is PAT
            if low:
                raise WalkError(f"{LEVEL_NAMES[level]} huge entry 0x{raw:x}: reserved address bits set", steps)

    def walk(self, va):
        """(steps, Translation or None). Steps list every entry read, the last one the leaf or the hole."""
        if not canonical(va):
            return [], None
        steps = []
        table = self.root
        w = u = x = True
        for level in (3, 2, 1, 0):
            i = index(va, level)
            raw = self.table(table)[i]
            steps.append(Step(level, i, table + 8 * i, raw))
            if not raw & P:
                return steps, None
            self._check_entry(raw, level, steps)
            w = w and bool(raw & RW)
            u = u and bool(raw & US)
            x = x and not (raw & NX)
            if level == 0 or raw & PS:
                size = PAGE_SIZES[level]
                base = raw & ADDR_MASK & ~(size - 1)
                return steps, Translation(va=va, pa=base + (va & (size - 1)), page_va=va & ~(size - 1),
                                          page_pa=base, level=level, writable=w, user=u, executable=x,
                                          global_=bool(raw & G), pcd=bool(raw & PCD), pwt=bool(raw & PWT),
                                          steps=steps)
            table = raw & ADDR_MASK
        raise AssertionError("unreachable")

    def translate(self, va):
        """The Translation of va, or None when not mapped."""
        return self.walk(va)[1]

    def mappings(self, lo=0, hi=1 << 64):
        """Every leaf whose virtual range meets [lo, hi) (canonical addresses), in address order."""
        out = []

        def rec(table, level, va_base, w, u, x):
            span = 1 << shift(level)
            entries = self.table(table)
            for i, raw in enumerate(entries):
                if not raw & P:
                    continue
                va = va_base + i * span
                sva = sign_extend(va) if level == 3 else va
                if level == 3:
                    va = sva
                if va + span <= lo or va >= hi:
                    continue
                self._check_entry(raw, level, [])
                ww, uu, xx = w and bool(raw & RW), u and bool(raw & US), x and not (raw & NX)
                if level == 0 or raw & PS:
                    base = raw & ADDR_MASK & ~(span - 1)
                    out.append(Translation(va=va, pa=base, page_va=va, page_pa=base, level=level, writable=ww,
                                           user=uu, executable=xx, global_=bool(raw & G), pcd=bool(raw & PCD),
                                           pwt=bool(raw & PWT)))
                else:
                    rec(raw & ADDR_MASK, level - 1, va, ww, uu, xx)

        rec(self.root, 3, 0, True, True, True)
        return out

    def ranges(self, lo=0, hi=1 << 64):
        """Merged runs of mappings: consecutive in va and pa with the same permissions.
        Returns a list of (va_start, va_end, pa_start, perms_text, page_sizes_text)."""
        runs = []
        for m in self.mappings(lo, hi):
            perms = m.perms()
            if runs and runs[-1][1] == m.va and runs[-1][2] + (runs[-1][1] - runs[-1][0]) == m.pa \
                    and runs[-1][3] == perms:
                r = runs[-1]
                sizes = r[4] if SIZE_NAMES[m.level] in r[4].split("+") else r[4] + "+" + SIZE_NAMES[m.level]
                runs[-1] = (r[0], m.va + m.size, r[2], perms, sizes)
            else:
                runs.append((m.va, m.va + m.size, m.pa, perms, SIZE_NAMES[m.level]))
        return runs

    def format_walk(self, va):
        """Lines describing the walk of va (used by gdb's pagewalk and by grader messages)."""
        lines = [f"pagewalk 0x{va:016x} (CR3 0x{self.root:x})"]
        if not canonical(va):
            return lines + ["  not canonical: the CPU faults (#GP) before any walk"]
        try:
            steps, t = self.walk(va)
        except WalkError as e:
            steps, t = e.steps, None
            lines += [f"  {s.name:<4}[{s.index:3d}] @0x{s.entry_addr:x} = 0x{s.raw:016x}  {decode_entry(s.raw, s.level)}"
                      for s in steps]
            return lines + [f"  invalid entry: {e.reason}"]
        for s in steps:
            text = f"  {s.name:<4}[{s.index:3d}] @0x{s.entry_addr:x} = 0x{s.raw:016x}  {decode_entry(s.raw, s.level)}"
            if s.raw & P and not (s.level == 0 or s.raw & PS):
                text += f"  -> table 0x{s.raw & ADDR_MASK:x}"
            lines.append(text)
        if t is None:
            lines.append(f"  not mapped: {steps[-1].name} entry {steps[-1].index} is not present")
        else:
            lines.append(f"  -> {SIZE_NAMES[t.level]} page at 0x{t.page_pa:x} + offset 0x{va - t.page_va:x}"
                         f" = phys 0x{t.pa:x}  [{t.perms()}]")
        return lines
