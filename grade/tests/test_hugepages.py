"""1 GiB pages (labs `higherhalf`, `pagewalk`), checked from outside. QEMU only.

The kernel uses 1 GiB leaves only where CPUID 0x80000001 EDX bit 26 (pdpe1gb) says the CPU has them;
QEMU's default CPU and Bochs do not. Two GRUB boots with `test=paging.*` and 3 GiB of RAM (so at least
one 1 GiB-aligned GiB is all RAM): one with `-cpu qemu64,+pdpe1gb`, one on the default CPU (the
negative control). At the `paging.random` checkpoint the callback reads CR3 and walks every table of the
kernel with grade/ferrous/x86walk.py, and reads the machine's RAM layout from QEMU itself (`info mtree
-f`, the flat view of the CPU's address space) and the firmware-reserved ranges from the boot memory map
in guest memory (grade/ferrous/bootmap.py), so what "all RAM" means does not come from the kernel's
output. Seed, count, scratch base and whether the CPU has 1 GiB pages are the grader's own (the command
line it booted, test_paging's pinned constants, QEMU's CPU model); the kernel's checkpoint fields must
agree with them.

Checked: the direct map has a 1 GiB leaf exactly over each GiB that is all RAM with no firmware-reserved
range in it, and translates through
it (independent walker, QEMU's gva2gpa as second opinion); the seeded random map of paging.random_map
(recomputed by test_paging.py's generator) holds 1 GiB pages and each is right; paging.huge_split_1g
passes; on the default CPU no 1 GiB leaf exists anywhere and that ktest skips.

The seed: the session's seed, or the next one up whose random map draws at least one 1 GiB page
(about 1 seed in 20 draws none), so the 1 GiB part of the random map is never vacuous.
"""
import functools
import random
import re

import pytest

from ferrous import bootmap, runner, x86walk
from ferrous.scoring import points
from test_paging import RANDOM_COUNT, SCRATCH_BASE, SIZES, expected_random_map, translation_problems

CMDLINE = "test=paging.*"
MEM = "3G"
CPU_1G = ("-cpu", "qemu64,+pdpe1gb")
DIRECT_MAP_BASE = 0xFFFF800000000000
GIB = 1 << 30

SEEN = {}                   # cpu name -> what the checkpoint callback found
WANT_SEED = {}              # cpu name -> the seed the grader put on the command line

# Every grader here is QEMU-only (also said by emu= on each, for the score table); this gives the reason.
pytestmark = pytest.mark.skipif("config.getoption('emu') != 'qemu'",
                                reason="1 GiB pages are only tested under QEMU: the grader needs "
                                       "`-cpu qemu64,+pdpe1gb` and QEMU's monitor (info mtree, gva2gpa); "
                                       "the project's Bochs CPU has no pdpe1gb")


def seed_with_1g(seed):
    """The first seed >= the session's whose random map (with 1 GiB pages) draws a 1 GiB page."""
    s = seed
    while not any(level == 2 for _, _, level, _ in expected_random_map(s, RANDOM_COUNT, True)):
        s += 1
    return s


_RAM_LINE = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ram\): ")


def ram_ranges(mtree):
    """Merged [(start, end)] of RAM in the first flat view (address space "memory") of `info mtree -f`."""
    out, inside = [], False
    for line in mtree.splitlines():
        if line.startswith("FlatView"):
            if inside:
                break
            continue
        if line.strip().startswith('AS "memory"'):
            inside = True
            continue
        m = _RAM_LINE.match(line) if inside else None
        if m:
            s, e = int(m.group(1), 16), int(m.group(2), 16) + 1
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
    return out


def full_ram_gibs(ranges):
    """Indices g such that [g GiB, g+1 GiB) lies inside one RAM range."""
    return sorted({g for s, e in ranges for g in range(-(-s // GIB), e // GIB)})


def on_checkpoint(cpu, name, fields, machine):
    """At paging.random: walk every table, judge the direct map and the random map, record for the tests."""
    if name != "paging.random":
        return
    regs = machine.regs()
    have_1g = machine.has_1g_pages()            # the emulator's CPU model, not the kernel's CPUID claim
    w = x86walk.Walker(machine.read_phys, regs["cr3"], nxe=bool(regs["efer"] & (1 << 11)), pdpe1gb=have_1g)
    leaves = w.mappings()
    ram = ram_ranges(machine.hmp("info mtree -f"))
    # A GiB holding a firmware-reserved range (SeaBIOS keeps the top 128 KiB below the PCI hole) is mapped
    # with smaller pages around that range, which the kernel maps read-only: the boot memory map, read
    # from guest memory, says where those ranges are.
    reserved = bootmap.reserved_via_walker(runner.KERNEL_ELF, w, machine.read_phys)
    gibs = [g for g in full_ram_gibs(ram)
            if not any(a < (g + 1) * GIB and g * GIB < b for a, b in reserved)]
    seed = WANT_SEED[cpu]
    s = dict(regs=regs, fields=fields, ram=ram, gibs=gibs, n=len(leaves), have_1g=have_1g, seed=seed,
             reserved=reserved, leaves_1g=[m for m in leaves if m.level == 2], dm_problems=[], second=[],
             rnd_problems=[], rnd_probes=0, rnd_extra=[])
    # The kernel's checkpoint fields are claims: each must match what the grader knows.
    for key, want in (("seed", seed), ("count", RANDOM_COUNT), ("base", SCRATCH_BASE),
                      ("have_1g", int(have_1g))):
        if fields.get(key) != want:
            s["rnd_problems"].append(f"checkpoint field {key}={fields.get(key)!r}, the grader expects {want!r}")
    rnd = random.Random(seed)

    # 1. the direct map over each all-RAM GiB: one 1 GiB leaf (2 MiB leaves without pdpe1gb), RW+NX,
    #    supervisor, identity offset
    dm_level = 2 if cpu == "pdpe1gb" else 1
    for g in gibs:
        va = DIRECT_MAP_BASE + g * GIB
        t = w.translate(va)
        if t is None or t.level != dm_level or t.page_va != va:
            s["dm_problems"].append(f"GiB {g} (va 0x{va:x}): " + (
                "not mapped" if t is None else f"{x86walk.SIZE_NAMES[t.level]} page at va 0x{t.page_va:x}"))
            continue
        for off in (0, GIB - 8, 0x1234_5678, rnd.randrange(0, GIB, 8), rnd.randrange(0, GIB, 8)):
            t = w.translate(va + off)
            want = g * GIB + off
            if t is None or t.pa != want or not t.writable or t.executable or t.user:
                s["dm_problems"].append(f"va 0x{va + off:x}: " + ("not mapped" if t is None else
                                        f"pa 0x{t.pa:x} [{t.perms()}], want 0x{want:x} [rw-]"))
            s["second"].append((va + off, want, machine.gva2gpa(va + off)))

    # 2. the random map, recomputed from the seed, at every mapping (3 probes each)
    exp = expected_random_map(seed, RANDOM_COUNT, have_1g, SCRATCH_BASE)
    for va, pa, level, fl in exp:
        span = SIZES[level]
        offs = (0, span - 8, rnd.randrange(0, span, 8))
        for off in offs:
            s["rnd_problems"] += translation_problems(w.translate(va + off), va + off, pa + off, level, fl)
            s["rnd_probes"] += 1
            if level == 2:
                s["second"].append((va + off, pa + off, machine.gva2gpa(va + off)))
    got = {m.va for m in leaves if SCRATCH_BASE <= m.va < SCRATCH_BASE + 512 * GIB}
    s["rnd_extra"] = sorted(got - {va for va, _, _, _ in exp})
    s["expected"] = exp
    SEEN[cpu] = s


# Module-level so the boot cache can share a run between the tests (the cache keys on the object).
on_checkpoint_1g = functools.partial(on_checkpoint, "pdpe1gb")
on_checkpoint_default = functools.partial(on_checkpoint, "default")


def _boot(boot, seed, extra_args, callback, cpu):
    WANT_SEED[cpu] = seed_with_1g(seed)
    r = boot(cmdline=f"{CMDLINE} seed={WANT_SEED[cpu]}", mem=MEM, boot="grub", extra_args=extra_args,
             on_checkpoint=callback)
    r.require_end()
    # require_end() accepts `end status=panic` too; a failed ktest (FAIL) is judged by the test that owns it
    assert r.outcome in ("OK", "FAIL"), r.describe()
    s = SEEN.get(cpu)
    assert s is not None, "no paging.random checkpoint was inspected:\n" + r.describe()
    return r, s


@pytest.fixture(scope="module")
def run_1g(boot, seed):
    return _boot(boot, seed, CPU_1G, on_checkpoint_1g, "pdpe1gb")


@pytest.fixture(scope="module")
def run_default(boot, seed):
    return _boot(boot, seed, (), on_checkpoint_default, "default")


def _fmt(leaves, n=6):
    return ", ".join(f"0x{m.va:x}->0x{m.pa:x}" for m in leaves[:n])


@points(3, "higherhalf: with pdpe1gb, the direct map is one 1 GiB leaf per all-RAM GiB, translating right "
           "(read from outside)", lab="higherhalf", emu=("qemu",))
def test_direct_map_1g(run_1g):
    r, s = run_1g
    assert s["have_1g"], f"QEMU's CPU has no pdpe1gb under {' '.join(CPU_1G)}"
    assert s["fields"]["have_1g"] == 1, f"kernel did not see pdpe1gb under {' '.join(CPU_1G)}: {s['fields']}"
    assert s["gibs"], f"QEMU reports no all-RAM GiB with -m {MEM}: RAM {[(hex(a), hex(b)) for a, b in s['ram']]}"
    assert not s["dm_problems"], "\n".join(s["dm_problems"][:12])
    dm_1g = sorted(m.va for m in s["leaves_1g"] if DIRECT_MAP_BASE <= m.va < SCRATCH_BASE)
    want = [DIRECT_MAP_BASE + g * GIB for g in s["gibs"]]
    assert dm_1g == want, f"1 GiB direct-map leaves at {[hex(v) for v in dm_1g]}, want exactly " \
        f"{[hex(v) for v in want]} (a GiB that is not all RAM must not be one WB leaf)"
    kas = r.first("kas")
    assert kas is not None and kas["pages_1g"] == len(want), \
        f"`@@ kas` says pages_1g={kas and kas['pages_1g']}, the tables hold {len(want)}"


@points(1, "higherhalf: QEMU's gva2gpa agrees through every 1 GiB leaf (pdpe1gb)", lab="higherhalf",
        emu=("qemu",))
def test_1g_gva2gpa(run_1g):
    _, s = run_1g
    assert len(s["second"]) >= 5, f"only {len(s['second'])} gva2gpa probes"
    bad = [f"va 0x{va:x}: gva2gpa {got if got is None else hex(got)}, want 0x{want:x}"
           for va, want, got in s["second"] if got != want]
    assert not bad, "\n".join(bad[:12])


@points(3, "paging: with pdpe1gb, the seeded random map holds 1 GiB pages, each right (read from outside)",
        lab="pagewalk", emu=("qemu",))
def test_random_map_1g(run_1g):
    r, s = run_1g
    t = r.tests().get("paging.random_map")
    assert t is not None and t.status == "pass", (t.describe() if t else "paging.random_map did not run")
    f, exp = s["fields"], s["expected"]
    n1g = sum(1 for _, _, level, _ in exp if level == 2)
    assert n1g >= 1, f"seed {f['seed']} draws no 1 GiB page (seed_with_1g is broken)"
    assert f["have_1g"] == 1 and f["n1g"] == n1g, f"checkpoint says have_1g={f['have_1g']} n1g={f['n1g']}, " \
        f"the seed draws {n1g} 1 GiB pages"
    assert f["seed"] == s["seed"] and f["count"] == RANDOM_COUNT, f"checkpoint seed/count {f['seed']}/{f['count']}, " \
        f"the grader booted with {s['seed']}/{RANDOM_COUNT}"
    assert not s["rnd_problems"], "\n".join(s["rnd_problems"][:20])
    assert s["rnd_probes"] == 3 * RANDOM_COUNT
    assert not s["rnd_extra"], "unexpected mappings in the scratch region: " + \
        ", ".join(f"0x{v:x}" for v in s["rnd_extra"][:10])
    scratch_1g = [m for m in s["leaves_1g"] if m.va >= SCRATCH_BASE]
    assert len(scratch_1g) == n1g, f"{len(scratch_1g)} 1 GiB leaves in the scratch region, want {n1g}: " \
        + _fmt(scratch_1g)


@points(2, "paging: a 1 GiB page split into 2 MiB pages, one split again into 4 KiB, tables freed (pdpe1gb)",
        lab="pagewalk", emu=("qemu",))
def test_split_1g_ktest(run_1g):
    r, _ = run_1g
    t = r.tests().get("paging.huge_split_1g")
    assert t is not None, "paging.huge_split_1g did not run:\n" + r.describe()
    assert t.status == "pass", t.describe()
    fr = r.last("frames")
    assert fr is not None and fr["leaked"] == 0, f"frames: {fr.raw if fr else 'no `@@ frames` line'}"


@points(2, "higherhalf: negative control, default CPU (no pdpe1gb), same RAM: no 1 GiB leaf anywhere, "
           "2 MiB instead", lab="higherhalf",
        emu=("qemu",))
def test_default_cpu_no_1g(run_default):
    r, s = run_default
    f = s["fields"]
    assert not s["have_1g"], "QEMU's default CPU reports pdpe1gb: the control would be vacuous"
    assert f["have_1g"] == 0, f"kernel claims 1 GiB pages on the default CPU: {f}"
    assert s["gibs"], "no all-RAM GiB: the control would be vacuous"
    assert not s["leaves_1g"], f"{len(s['leaves_1g'])} 1 GiB leaves on a CPU without pdpe1gb: " \
        + _fmt(s["leaves_1g"])
    assert not s["dm_problems"], "\n".join(s["dm_problems"][:12])
    assert not s["rnd_problems"], "\n".join(s["rnd_problems"][:20])
    assert not s["rnd_extra"], [hex(v) for v in s["rnd_extra"][:10]]
    fell_back = sum(1 for _, _, level, _ in expected_random_map(s["seed"], RANDOM_COUNT, True) if level == 2)
    assert fell_back >= 1 and f["n1g"] == 0, f"seed {s['seed']}: {fell_back} 1 GiB draws, n1g={f['n1g']}"
    t = r.tests().get("paging.huge_split_1g")
    assert t is not None and t.status == "skip", (t.describe() if t else "paging.huge_split_1g did not run")
    assert "pdpe1gb" in t.fields.get("reason", ""), t.describe()
