"""GDB session test: QEMU halted with a gdbstub on a port it picks itself (gdb_port=0), `gdb -batch` stops at kmain with a
hardware breakpoint, shows a backtrace and CR3, detaches, and the kernel still runs to `end`."""
import shutil
import subprocess

import pytest

from ferrous import runner
from ferrous.scoring import points


@points(3, "gdb: hbreak kmain, bt and info registers cr3 work", emu=("qemu",))
def test_gdb_batch():
    if not shutil.which("gdb"):
        pytest.skip("gdb is not installed")
    out = {}

    def attach(run_dir):
        port = runner.read_gdb_port(run_dir)
        cmds = ["set confirm off", "set pagination off", "set architecture i386:x86-64",
                f"file {runner.KERNEL_ELF}", f"target remote 127.0.0.1:{port}",
                "hbreak kmain", "continue", "bt", "info registers cr3", "delete", "detach"]
        argv = ["gdb", "-nx", "-batch"] + [a for c in cmds for a in ("-ex", c)]
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
            out["text"] = p.stdout.decode(errors="replace")
            out["rc"] = p.returncode
        except subprocess.TimeoutExpired as e:
            out["text"] = (e.stdout or b"").decode(errors="replace") + "\n[gdb timed out]"
            out["rc"] = None

    r = runner.run(boot="grub", emu="qemu", cmdline="", gdb_port=0, paused=True,
                   on_started=attach, timeout=120)
    text = out.get("text", "")
    assert "Breakpoint 1" in text and "kmain" in text, f"gdb did not stop in kmain:\n{text[-2000:]}"
    bt = [l for l in text.splitlines() if l.startswith("#0")]
    assert bt and "kmain" in bt[0], f"backtrace frame #0 is not kmain:\n{text[-2000:]}"
    cr3 = [l for l in text.splitlines() if l.strip().startswith("cr3")]
    assert cr3, f"`info registers cr3` printed nothing:\n{text[-2000:]}"
    assert int(cr3[0].split()[1], 16) != 0
    assert r.outcome == "OK", f"after detach the kernel did not reach end\n{r.describe()}\n{text[-1500:]}"
