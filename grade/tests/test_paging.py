"""paging.* graders (lab `pagewalk`): the kernel's walker, checked from outside.

One boot with `test=paging.*`. At the `paging.random` checkpoint the kernel has mapped a seeded random
set of pages (4 KiB / 2 MiB / 1 GiB, varied flags) into its scratch region; the callback below reads
CR3 and the page tables from guest memory and walks them with grade/ferrous/x86walk.py, comparing every
translation and permission with the set it computes itself from the seed (the generator is spelled
out in kernel/mm/paging_ktest.c). Under QEMU, gva2gpa is a second opinion.

Nothing the set depends on comes from the kernel: the seed is the session's (the harness appends
`seed=`), the count and the base are pinned here (PAGING_RANDOM_COUNT and KAS_SCRATCH_BASE), and whether
the CPU has 1 GiB pages comes from the emulator (Machine.has_1g_pages). The checkpoint's own fields are
only compared with those.
"""
import random
import struct

import pytest

from ferrous import x86walk
from ferrous.scoring import points

CMDLINE = "test=paging.*"
SCRATCH_BASE = 0xFFFFC00000000000       # KAS_SCRATCH_BASE, kernel/mm/kas.h
RANDOM_COUNT = 48                       # PAGING_RANDOM_COUNT, kernel/mm/paging_ktest.c
GIB = 1 << 30
PG_READ, PG_WRITE, PG_EXEC, PG_USER, PG_GLOBAL, PG_NOCACHE, PG_WRITETHROUGH = (1 << i for i in range(7))
SIZES = {0: 0x1000, 1: 0x200000, 2: GIB}

# What the checkpoint callback saw, keyed by checkpoint name (module level: shared with the cached run).
SEEN = {}
# What the grader itself knows before the boot: {"seed": the session seed} (set by the `run` fixture).
GRADER = {}


class SplitMix64:
    """The kernel's generator for the random map (kernel/mm/paging_ktest.c, rm_next)."""
    M = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.M

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.M
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.M
        return z ^ (z >> 31)


def expected_random_map(seed, count, have_1g, base=SCRATCH_BASE):
    """[(va, pa, level, flags)] exactly as the kernel's paging.random_map draws them."""
    g = SplitMix64(seed ^ 0x706167696E67)
    out = []
    for i in range(count):
        r = g.next() % 16
        level = 0 if r < 11 else 1 if r < 15 else 2
        if level == 2 and not have_1g:
            level = 1
        span = SIZES[level]
        va = base + i * GIB + (g.next() % (GIB // span)) * span
        pa = (g.next() % ((64 * GIB) // span)) * span
        f = g.next()
        fl = PG_READ
        if f & 1:
            fl |= PG_WRITE
        if f & 2:
            fl |= PG_EXEC
        if f & 4:
            fl |= PG_USER
        if (f & 8) and not (f & 4):
            fl |= PG_GLOBAL
        if f & 16:
            fl |= PG_NOCACHE
        if f & 32:
            fl |= PG_WRITETHROUGH
        out.append((va, pa, level, fl))
    return out


def translation_problems(t, va, want_pa, level, fl):
    """Differences between a walked Translation and the expected mapping (empty list = equal)."""
    if t is None:
        return [f"va 0x{va:x}: not mapped in the tables (want pa 0x{want_pa:x})"]
    p = []
    if t.pa != want_pa:
        p.append(f"va 0x{va:x}: pa 0x{t.pa:x}, want 0x{want_pa:x}")
    if t.level != level:
        p.append(f"va 0x{va:x}: {x86walk.SIZE_NAMES[t.level]} page, want {x86walk.SIZE_NAMES[level]}")
    for name, got, want in (("writable", t.writable, bool(fl & PG_WRITE)),
                            ("executable", t.executable, bool(fl & PG_EXEC)),
                            ("user", t.user, bool(fl & PG_USER)),
                            ("global", t.global_, bool(fl & PG_GLOBAL)),
                            ("cache-disable", t.pcd, bool(fl & PG_NOCACHE)),
                            ("write-through", t.pwt, bool(fl & PG_WRITETHROUGH))):
        if got != want:
            p.append(f"va 0x{va:x}: {name}={got}, want {want}")
    return p


def scratch_tables(w, base=SCRATCH_BASE):
    """{pa: entries} of the PML4 and every table below the scratch region's PML4 slot."""
    out = {w.root: tuple(w.table(w.root))}

    def rec(pa, level):
        t = w.table(pa)
        out[pa] = tuple(t)
        if level == 0:
            return
        for raw in t:
            if raw & x86walk.P and not raw & x86walk.PS:
                rec(raw & x86walk.ADDR_MASK, level - 1)

    e = w.table(w.root)[x86walk.index(base, 3)]
    if e & x86walk.P:
        rec(e & x86walk.ADDR_MASK, 2)
    return out


def on_checkpoint(name, fields, machine):
    """Runs while the guest is stopped at a checkpoint: walk the tables and record what was found."""
    if name == "paging.rejected":
        regs = machine.regs()
        w = x86walk.Walker(machine.read_phys, regs["cr3"])
        SEEN[name] = dict(fields=fields, tables=scratch_tables(w))
        return
    if name != "paging.random":
        return
    seed = GRADER["seed"]
    have_1g = machine.has_1g_pages()
    regs = machine.regs()
    nxe = bool(regs["efer"] & (1 << 11)) if "efer" in regs else True
    w = x86walk.Walker(machine.read_phys, regs["cr3"], nxe=nxe, pdpe1gb=have_1g)
    exp = expected_random_map(seed, RANDOM_COUNT, have_1g, SCRATCH_BASE)
    rnd = random.Random(seed)
    problems, probes, second = [], 0, []
    for va, pa, level, fl in exp:
        span = SIZES[level]
        for off in (0, span - 8, rnd.randrange(0, span, 8)):
            problems += translation_problems(w.translate(va + off), va + off, pa + off, level, fl)
            probes += 1
        if machine.emu == "qemu" and len(second) < 12:
            off = rnd.randrange(0, span, 8)
            second.append((va + off, pa + off, machine.gva2gpa(va + off)))
    # nothing else may be mapped in the scratch region
    leaves = w.mappings(SCRATCH_BASE, SCRATCH_BASE + 512 * GIB)
    extra = sorted({m.va for m in leaves} - {va for va, _, _, _ in exp})
    SEEN[name] = dict(regs=regs, fields=fields, problems=problems, probes=probes, leaves=len(leaves),
                      extra=extra, second=second, expected=exp, tables=scratch_tables(w, SCRATCH_BASE),
                      seed=seed, have_1g=have_1g)


@pytest.fixture(scope="module")
def run(boot, seed):
    GRADER["seed"] = seed                      # the boot fixture appends seed=<session seed>
    r = boot(cmdline=CMDLINE, on_checkpoint=on_checkpoint)
    r.require_end()
    return r


def _ktest(run, name):
    t = run.tests().get(name)
    assert t is not None, f"{name} did not run:\n" + run.describe()
    assert t.status == "pass", t.describe()


@points(2, "paging: map, translate, unmap on a private table", lab="pagewalk")
def test_map_unmap(run):
    _ktest(run, "paging.map_unmap")


@points(3, "paging: AlreadyMapped/NotMapped/InvalidAddress/InvalidFlags/OOM leave the tables as they were",
        lab="pagewalk")
def test_errors(run):
    _ktest(run, "paging.errors")


@points(2, "paging: a remapped live address is seen at once (invlpg)", lab="pagewalk")
def test_tlb_remap(run):
    _ktest(run, "paging.tlb_remap")


@points(3, "paging: 2 MiB page over real memory, split into 4 KiB pages, tables freed", lab="pagewalk")
def test_huge_split(run):
    _ktest(run, "paging.huge_split")


@points(6, "paging: random map checked from outside (CR3 + guest memory, independent walker)", lab="pagewalk")
def test_random_map_outside(run):
    _ktest(run, "paging.random_map")
    seen = SEEN.get("paging.random")
    assert seen is not None, "no paging.random checkpoint was inspected:\n" + run.describe()
    f = seen["fields"]
    assert f["cr3"] == seen["regs"]["cr3"] & x86walk.ADDR_MASK, \
        f"kernel says cr3=0x{f['cr3']:x}, CPU has 0x{seen['regs']['cr3']:x}"
    # The kernel's description of the map must be the grader's (who computed the map without it).
    claims = {"seed": seen["seed"], "count": RANDOM_COUNT, "base": SCRATCH_BASE, "have_1g": int(seen["have_1g"])}
    wrong = {k: (f.get(k), want) for k, want in claims.items() if f.get(k) != want}
    assert not wrong, f"checkpoint fields differ from the grader's (got, want): {wrong}"
    n = [sum(1 for _, _, level, _ in seen["expected"] if level == lv) for lv in (0, 1, 2)]
    assert (f.get("n4k"), f.get("n2m"), f.get("n1g")) == tuple(n), f"checkpoint counts {f}, expected {n}"
    assert not seen["problems"], "\n".join(seen["problems"][:20])
    assert seen["probes"] == 3 * RANDOM_COUNT
    assert not seen["extra"], "unexpected mappings in the scratch region: " + \
        ", ".join(f"0x{v:x}" for v in seen["extra"][:10])
    assert seen["leaves"] == RANDOM_COUNT


@points(3, "paging: rejected calls (AlreadyMapped, OOM, NotMapped, InvalidAddress) leave the tables "
           "byte-for-byte unchanged, read from outside", lab="pagewalk")
def test_rejected_calls_change_nothing(run):
    before, after = SEEN.get("paging.random"), SEEN.get("paging.rejected")
    assert before is not None and after is not None, "checkpoints paging.random/paging.rejected not both seen:\n" \
        + run.describe()
    assert after["fields"]["rejected"] == 3 + 2 + RANDOM_COUNT, after["fields"]
    b, a = before["tables"], after["tables"]
    assert set(a) == set(b), f"table frames differ: new {sorted(map(hex, set(a) - set(b)))[:5]}, " \
        f"gone {sorted(map(hex, set(b) - set(a)))[:5]}"
    # Only the CPU may have changed something between the checkpoints: accessed/dirty bits.
    cpu_bits = x86walk.A | x86walk.D
    real = [f"table 0x{pa:x}[{i}]: 0x{b[pa][i]:x} -> 0x{a[pa][i]:x}"
            for pa in sorted(b) for i in range(512) if (a[pa][i] ^ b[pa][i]) & ~cpu_bits]
    assert not real, "\n".join(real[:10])


@points(2, "paging: QEMU's gva2gpa agrees with the expected random map", lab="pagewalk", emu=("qemu",))
def test_random_map_gva2gpa(run):
    seen = SEEN.get("paging.random")
    assert seen is not None, "no paging.random checkpoint was inspected"
    assert seen["second"], "no gva2gpa probes"
    bad = [f"va 0x{va:x}: gva2gpa {got if got is None else hex(got)}, want 0x{want:x}"
           for va, want, got in seen["second"] if got != want]
    assert not bad, "\n".join(bad)


@points(2, "paging: no frame leaked by the paging tests", lab="pagewalk")
def test_no_leak(run):
    fr = run.last("frames")
    assert fr is not None, "no `@@ frames` line (pmm_report missing?)\n" + run.describe()
    assert fr["leaked"] == 0, f"leaked={fr['leaked']}: {fr.raw}"


# ---- the independent walker itself (no emulator) ----

class FakeMem:
    """Guest physical memory made of 4 KiB tables, for walker unit tests."""

    def __init__(self):
        self.pages = {}
        self.next = 0x100000

    def alloc(self):
        pa = self.next
        self.next += 0x1000
        self.pages[pa] = [0] * 512
        return pa

    def read_phys(self, addr, size):
        assert size == 4096 and addr in self.pages, hex(addr)
        return struct.pack("<512Q", *self.pages[addr])


def _build(mem, root, va, raw_leaf, level):
    t = root
    for lv in (3, 2, 1, 0):
        i = x86walk.index(va, lv)
        if lv == level:
            mem.pages[t][i] = raw_leaf
            return
        if not mem.pages[t][i] & x86walk.P:
            mem.pages[t][i] = mem.alloc() | x86walk.P | x86walk.RW | x86walk.US
        t = mem.pages[t][i] & x86walk.ADDR_MASK


def test_x86walk_unit():
    mem = FakeMem()
    root = mem.alloc()
    P, RW, US, PS, G, NX = x86walk.P, x86walk.RW, x86walk.US, x86walk.PS, x86walk.G, x86walk.NX
    _build(mem, root, 0xFFFFFFFF80001000, 0x201000 | P | G, 0)                 # text: r-x
    _build(mem, root, 0xFFFF800000200000, 0x200000 | P | RW | PS | NX, 1)      # 2M rw-
    _build(mem, root, 0x0000000040000000, 0x80000000 | P | RW | US | PS, 2)    # 1G rwxu
    w = x86walk.Walker(mem.read_phys, root | 0x18)
    t = w.translate(0xFFFFFFFF80001234)
    assert (t.pa, t.level, t.writable, t.executable, t.global_) == (0x201234, 0, False, True, True)
    t = w.translate(0xFFFF8000003FFFF8)
    assert (t.pa, t.level, t.writable, t.executable) == (0x3FFFF8, 1, True, False)
    t = w.translate(0x7FFFFFFF)
    assert (t.pa, t.level, t.user) == (0xBFFFFFFF, 2, True)
    assert w.translate(0xFFFFFFFF80002000) is None
    assert w.translate(0x0000800000000000) is None                               # non-canonical
    steps, t = w.walk(0x1000)
    assert t is None and len(steps) == 2 and steps[-1].level == 2   # PDPT[0] empty
    assert [m.va for m in w.mappings()] == [0x40000000, 0xFFFF800000200000, 0xFFFFFFFF80001000]
    assert len(w.ranges()) == 3
    # intermediate entry without RW makes the leaf read-only; NX anywhere makes it non-executable
    mem.pages[root][x86walk.index(0x40000000, 3)] &= ~RW
    mem.pages[root][x86walk.index(0x40000000, 3)] |= NX
    w = x86walk.Walker(mem.read_phys, root)
    t = w.translate(0x40000000)
    assert not t.writable and not t.executable
    # a misaligned 2 MiB leaf is a reserved-bit error
    _build(mem, root, 0xFFFF800000400000, 0x401000 | P | PS | (1 << 13), 1)
    with pytest.raises(x86walk.WalkError):
        x86walk.Walker(mem.read_phys, root).translate(0xFFFF800000400000)
    assert "-> 4K page" in "\n".join(w.format_walk(0xFFFFFFFF80001234))
    # without pdpe1gb a 1 GiB leaf is a reserved-bit error (the CPU would fault on it)
    with pytest.raises(x86walk.WalkError, match="pdpe1gb"):
        x86walk.Walker(mem.read_phys, root, pdpe1gb=False).translate(0x40000000)


def test_random_map_generator_is_stable():
    """The generator must stay in step with the kernel's: pin a few values for seed 1."""
    exp = expected_random_map(1, RANDOM_COUNT, True)
    assert len(exp) == RANDOM_COUNT and len({va for va, _, _, _ in exp}) == RANDOM_COUNT
    for i, (va, pa, level, fl) in enumerate(exp):
        assert SCRATCH_BASE + i * GIB <= va < SCRATCH_BASE + (i + 1) * GIB
        assert va % SIZES[level] == 0 and pa % SIZES[level] == 0 and fl & PG_READ
        assert not (fl & PG_USER and fl & PG_GLOBAL)
