"""The GDB page-walk helpers (tools/gdb/ferrous.py) against QEMU, in batch mode.

QEMU starts halted with a gdbstub; gdb loads the kernel and the helpers, stops in the kernel after the
address-space switch (hbreak ktest_run_selected), runs `pagewalk` on a 4 KiB kernel-text address, a
2 MiB direct-map address and an unmapped address, and asks QEMU's `gva2gpa` (through `monitor`) for a
second opinion. The physical addresses must agree; `ptdump` must list the kernel text as r-x.
"""
import os
import re
import subprocess

from ferrous import runner
from ferrous.scoring import points

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = runner.KERNEL_ELF                     # build/kernel.elf, or under FERROUS_BUILD
HELPERS = os.path.join(ROOT, "tools", "gdb", "ferrous.py")
ADDRS = {
    "4k": "(unsigned long)&kmain + 0x10",
    "2m": "0xffff800001234568",
    "unmapped": "0xdead000",
}


def _script(port):
    lines = ["set pagination off", "set confirm off", "set architecture i386:x86-64",
             f"file {KERNEL}", f"source {HELPERS}", f"target remote 127.0.0.1:{port}",
             "hbreak ktest_run_selected", "continue"]
    for key, expr in ADDRS.items():
        lines += [f"echo ==== {key}\\n", f"pagewalk {expr}", f"echo ==== gva2gpa {key}\\n",
                  "python print(gdb.execute('monitor gva2gpa 0x%x' % (int(gdb.parse_and_eval("
                  f"'(unsigned long)({expr})')) & (2**64 - 1)), to_string=True))"]
    lines += ["echo ==== print\\n", "print kas_pt", "print *(pte_t *)&kas_pt"]
    lines += ["echo ==== ptdump\\n", "ptdump $cr3 0xffffffff80000000 0xffffffffc0000000",
              "echo ==== end\\n", "delete", "detach", "quit"]
    return "\n".join(lines) + "\n"


def _sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"==== (.*)$", line)
        if m:
            cur = m.group(1)
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return out


@points(3, "gdb: pagewalk agrees with QEMU's gva2gpa on 4 KiB, 2 MiB and unmapped addresses",
        lab="pagewalk", emu=("qemu",))
def test_gdb_pagewalk(request):
    got = {}

    def on_started(run_dir):
        port = runner.read_gdb_port(run_dir)          # QEMU bound it itself: no bind/close/rebind race
        script = os.path.join(run_dir, "pagewalk.gdb")
        with open(script, "w") as f:
            f.write(_script(port))
        try:
            p = subprocess.run(["gdb", "-batch", "-nx", "-x", script], capture_output=True, text=True, timeout=90)
            got["out"], got["err"], got["rc"] = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            got["out"], got["err"], got["rc"] = str(e.stdout), "gdb timed out", None

    r = runner.run(boot=request.config.option.boot, emu="qemu", cmdline=f"seed={request.config.option.seed}",
                   gdb_port=0, paused=True, on_started=on_started, timeout=150)
    out = got.get("out", "")
    ctx = f"\n--- gdb stdout ---\n{out[-3000:]}\n--- gdb stderr ---\n{got.get('err', '')[-2000:]}\n" + r.describe()
    sec = _sections(out)
    for key in ADDRS:
        assert key in sec and f"gva2gpa {key}" in sec, "missing pagewalk output for " + key + ctx
    # mapped addresses: the phys printed by pagewalk equals gva2gpa
    for key, size in (("4k", "4K"), ("2m", "2M")):
        walk = "\n".join(sec[key])
        m = re.search(r"-> (\w+) page at 0x[0-9a-f]+ \+ offset 0x[0-9a-f]+ = phys 0x([0-9a-f]+)", walk)
        assert m, f"pagewalk {key} did not reach a page:\n{walk}" + ctx
        assert m.group(1) == size, f"pagewalk {key}: {m.group(1)} page, expected {size}:\n{walk}"
        q = re.search(r"gpa:\s*0x([0-9a-f]+)", "\n".join(sec[f"gva2gpa {key}"]))
        assert q, f"gva2gpa {key} gave no address: {sec[f'gva2gpa {key}']}" + ctx
        assert int(m.group(2), 16) == int(q.group(1), 16), \
            f"{key}: pagewalk phys 0x{m.group(2)}, gva2gpa 0x{q.group(1)}\n{walk}"
        assert len([line for line in sec[key] if re.match(r"\s+(PML4|PDPT|PD|PT)\s*\[", line)]) == \
            (4 if size == "4K" else 3), walk
    walk = "\n".join(sec["unmapped"])
    assert "not mapped" in walk, f"pagewalk unmapped:\n{walk}" + ctx
    assert "gpa:" not in "\n".join(sec["gva2gpa unmapped"]), sec["gva2gpa unmapped"]
    pp = "\n".join(sec.get("print", []))
    assert re.search(r"root = paddr 0x[0-9a-f]+", pp) and re.search(r"pte 0x[0-9a-f]{16}", pp), \
        "pretty-printers (paddr_t, pte_t) not active:\n" + pp
    dump = "\n".join(sec.get("ptdump", []))
    assert re.search(r"0xffffffff80000000-0x[0-9a-f]+ -> 0x[0-9a-f]+\s+\S+\s+r-x-g", dump), \
        "ptdump does not show the kernel text as r-x:\n" + dump
