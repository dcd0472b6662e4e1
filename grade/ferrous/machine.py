"""One small view of a stopped guest, over QEMU (QMP) or Bochs (its internal debugger).

A Machine is handed to an on_checkpoint(name, fields, machine) callback while the guest is stopped at a
checkpoint. All methods are synchronous and only valid during that callback.
"""
import json
import os
import re
import socket
import struct
import threading
import time


class MachineError(RuntimeError):
    """The emulator refused or garbled a request."""


class QMP:
    """Minimal QMP client on a unix socket: commands in, replies out; asynchronous events are kept."""

    def __init__(self, path, timeout=10.0):
        """Connect (retrying until timeout while QEMU creates the socket) and negotiate capabilities."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise MachineError(f"QMP: cannot connect to {path}")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self._buf = b""
        self.events = []
        self.lock = threading.Lock()
        self._recv()                      # greeting
        self.command("qmp_capabilities")

    def _recv(self):
        """One JSON message from the socket."""
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MachineError("QMP: connection closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, **args):
        """Run one QMP command; return its "return" value or raise MachineError."""
        with self.lock:
            msg = {"execute": name}
            if args:
                msg["arguments"] = args
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
            while True:
                reply = self._recv()
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    raise MachineError(f"QMP {name}: {reply['error'].get('desc', reply['error'])}")
                return reply.get("return")

    def hmp(self, cmd):
        """Run a human-monitor command and return its text output."""
        return self.command("human-monitor-command", **{"command-line": cmd})

    def close(self):
        """Close the socket (QEMU keeps running)."""
        try:
            self.sock.close()
        except OSError:
            pass


class Machine:
    """Common interface; see grade/README.md."""

    emu = "?"
    events = ()                           # the run's protocol events up to this stop (set by the runner)

    def first_event(self, name):
        """The first event of that name seen before this stop, or None (e.g. the `rsdp` line)."""
        return next((e for e in list(self.events) if e.name == name), None)

    def regs(self):
        """{"cr0","cr2","cr3","cr4","efer","rip","rsp"} -> int of CPU 0 (Bochs may lack efer)."""
        raise NotImplementedError

    def read_phys(self, addr, size):
        """size bytes of guest physical memory at addr."""
        raise NotImplementedError

    def gva2gpa(self, va):
        """The emulator's own translation of va through the current CR3; None when unmapped."""
        raise NotImplementedError(f"gva2gpa is not available under {self.emu}")

    def info_mem(self):
        """The emulator's text listing of the current mappings."""
        raise NotImplementedError

    def info_tab(self):
        """The emulator's text dump of the page tables / TLB view."""
        raise NotImplementedError

    def has_1g_pages(self):
        """Whether the emulated CPU 0 offers 1 GiB pages (CPUID 0x80000001 EDX bit 26, pdpe1gb), as the
        emulator itself says: a grader's ground truth, never the kernel's claim."""
        raise NotImplementedError

    def read_u64(self, addr):
        """One little-endian u64 of guest physical memory."""
        return struct.unpack("<Q", self.read_phys(addr, 8))[0]

    def read_table(self, addr):
        """The 512 u64 entries of the 4 KiB page-table page at physical addr (must be aligned)."""
        if addr & 0xFFF:
            raise ValueError(f"read_table: 0x{addr:x} is not 4 KiB aligned")
        return list(struct.unpack("<512Q", self.read_phys(addr, 4096)))


_QEMU_REG = re.compile(r"\b(RIP|EIP|RSP|ESP|CR0|CR2|CR3|CR4|EFER)=([0-9a-fA-F]+)")
_QEMU_ALIAS = {"eip": "rip", "esp": "rsp"}  # outside long mode QEMU prints the 32-bit names


class QemuMachine(Machine):
    """Machine view through QMP; bulk reads via pmemsave into the run's private directory."""

    emu = "qemu"

    def __init__(self, qmp, workdir):
        """qmp: a connected QMP; workdir: the run's private directory (pmemsave files go there)."""
        self.qmp = qmp
        self.workdir = workdir
        self._n = 0

    def hmp(self, cmd):
        """Raw human-monitor command text (QEMU only)."""
        return self.qmp.hmp(cmd)

    def has_1g_pages(self):
        """The live vCPU's pdpe1gb property (QMP qom-get), so `-cpu ...,+pdpe1gb` in extra_args counts."""
        cpus = self.qmp.command("query-cpus-fast")
        return bool(self.qmp.command("qom-get", path=cpus[0]["qom-path"], property="pdpe1gb"))

    def regs(self):
        text = self.qmp.hmp("info registers")
        regs = {}
        for k, v in _QEMU_REG.findall(text):
            regs.setdefault(_QEMU_ALIAS.get(k.lower(), k.lower()), int(v, 16))
        missing = {"cr0", "cr3", "cr4", "efer", "rip"} - regs.keys()
        if missing:
            raise MachineError(f"info registers lacks {sorted(missing)}: {text[:400]!r}")
        return regs

    def read_phys(self, addr, size):
        if size <= 0:
            return b""
        self._n += 1
        path = os.path.join(self.workdir, f"pmem{self._n}.bin")
        self.qmp.command("pmemsave", val=addr, size=size, filename=path)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        if len(data) != size:
            raise MachineError(f"pmemsave 0x{addr:x}+{size}: got {len(data)} bytes")
        return data

    def gva2gpa(self, va):
        text = self.qmp.hmp(f"gva2gpa 0x{va:x}").strip()
        # QEMU prints "gpa: %#lx": physical address 0 comes out as "gpa: 0", without the 0x.
        m = re.search(r"gpa:\s*(?:0x)?([0-9a-fA-F]+)\b", text)
        if m:
            return int(m.group(1), 16)
        if "Unmapped" in text or "not mapped" in text.lower():
            return None
        raise MachineError(f"gva2gpa 0x{va:x}: {text!r}")

    def info_mem(self):
        return self.qmp.hmp("info mem")

    def info_tab(self):
        return self.qmp.hmp("info tlb")


class BochsDebugger:
    """Drives the Bochs internal debugger over its stdin/stdout pipes (a reader thread fills a buffer)."""

    PROMPT = re.compile(r"<bochs:(\d+)> ")

    def __init__(self, proc):
        """proc: Bochs started with stdin and stdout as pipes."""
        self.proc = proc
        self.buf = ""
        self.pos = 0                      # consumed up to here
        self.cond = threading.Condition()
        self.closed = False
        self.total = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        """Thread: append Bochs' stdout to the buffer (bounded), wake waiters."""
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.total += len(chunk)
                self.buf += chunk.decode("utf-8", "replace")
                if len(self.buf) > (4 << 20):      # bound memory if bochs floods its stdout
                    cut = len(self.buf) - (1 << 20)
                    self.buf = self.buf[cut:]
                    self.pos = max(0, self.pos - cut)
                self.cond.notify_all()

    def wait_prompt(self, timeout):
        """Wait for the next debugger prompt; return the text before it, or None (timeout/exit)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = self.PROMPT.search(self.buf, self.pos)
                if m:
                    out = self.buf[self.pos:m.start()]
                    self.pos = m.end()
                    return out
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def send(self, line):
        """Write one debugger command line (ignored if Bochs is gone)."""
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def command(self, line, timeout=30.0):
        """Send one debugger command and return its output (text up to the next prompt)."""
        self.send(line)
        out = self.wait_prompt(timeout)
        if out is None:
            raise MachineError(f"bochs debugger: no prompt after {line!r}")
        return out


_BOCHS_CR = re.compile(r"\b(CR0|CR2|CR3|CR4)=(?:page fault laddr=)?0x([0-9a-fA-F]+)")
_BOCHS_XP_LINE = re.compile(r"0x([0-9a-fA-F]+)\s*<[^>]*>:\s*(.*)")
_BOCHS_XP_VAL = re.compile(r"0x([0-9a-fA-F]+)")
_BOCHS_EFER = re.compile(r"\bEFER=0x([0-9a-fA-F]+)")
_BOCHS_RIP = re.compile(r"\brip\s*:\s*(?:0x)?([0-9a-fA-F_]+)", re.I)
_BOCHS_RSP = re.compile(r"\brsp\s*:\s*(?:0x)?([0-9a-fA-F_]+)", re.I)


class BochsMachine(Machine):
    """Machine view through the Bochs debugger (creg, r, xp, info tab)."""

    emu = "bochs"

    def __init__(self, dbg, workdir):
        """dbg: the run's BochsDebugger, stopped at a prompt."""
        self.dbg = dbg
        self.workdir = workdir
        self._n = 0

    def command(self, line):
        """Raw debugger command text (Bochs only)."""
        return self.dbg.command(line)

    def has_1g_pages(self):
        """From the CPUID dump Bochs writes to its log at start-up (`CPUID[0x80000001]: eax ebx ecx edx`
        of CPU 0): EDX bit 26. MachineError if the log has no such line."""
        try:
            with open(os.path.join(self.workdir, "bochs.log"), "rb") as f:
                head = f.read(1 << 20).decode("ascii", "replace")
        except OSError as e:
            raise MachineError(f"cannot read bochs.log: {e}")
        m = re.search(r"CPUID\[0x80000001\]: [0-9a-f]{8} [0-9a-f]{8} [0-9a-f]{8} ([0-9a-f]{8})", head)
        if m is None:
            raise MachineError("bochs.log has no CPUID[0x80000001] line")
        return bool(int(m.group(1), 16) >> 26 & 1)

    def regs(self):
        text = self.dbg.command("creg")
        regs = {k.lower(): int(v, 16) for k, v in _BOCHS_CR.findall(text)}
        m = _BOCHS_EFER.search(text)
        if m:
            regs["efer"] = int(m.group(1), 16)
        gpr = self.dbg.command("r")
        for key, rx in (("rip", _BOCHS_RIP), ("rsp", _BOCHS_RSP)):
            m = rx.search(gpr)
            if m:
                regs[key] = int(m.group(1).replace("_", ""), 16)
        missing = {"cr0", "cr3", "cr4", "rip"} - regs.keys()
        if missing:
            raise MachineError(f"bochs creg/r lacks {sorted(missing)}: {text[:300]!r} {gpr[:300]!r}")
        return regs

    XP_CHUNK = 512                       # qwords per `xp` command

    def read_phys(self, addr, size):
        """Guest physical bytes via `xp /Ngx` (Bochs' writemem reads linear, not physical, memory)."""
        if size <= 0:
            return b""
        lo = addr & ~7
        hi = (addr + size + 7) & ~7
        words = {}
        for base in range(lo, hi, 8 * self.XP_CHUNK):
            n = min(self.XP_CHUNK, (hi - base) // 8)
            out = self.dbg.command(f"xp /{n}gx 0x{base:x}")
            for line in out.splitlines():
                m = _BOCHS_XP_LINE.match(line.strip())
                if not m:
                    continue
                at = int(m.group(1), 16)
                for i, v in enumerate(_BOCHS_XP_VAL.findall(m.group(2))):
                    words[at + 8 * i] = int(v, 16)
        try:
            data = b"".join(struct.pack("<Q", words[a]) for a in range(lo, hi, 8))
        except KeyError as e:
            raise MachineError(f"bochs xp 0x{lo:x}..0x{hi:x}: no value for 0x{e.args[0]:x}") from None
        return data[addr - lo:addr - lo + size]

    def gva2gpa(self, va):
        """Bochs' own page walk (`page VA`) of the current CR3; None when unmapped."""
        out = self.dbg.command(f"page 0x{va:x}")
        m = re.search(r"maps to physical page 0x([0-9a-fA-F]+)", out)
        if m:
            return int(m.group(1), 16) | (va & 0xFFF)
        if "not available" in out:
            return None
        raise MachineError(f"bochs page 0x{va:x}: {out.strip()[:300]!r}")

    def info_mem(self):
        """Bochs has no `info mem`: the `info tab` mapping list."""
        return self.dbg.command("info tab")

    def info_tab(self):
        """`info tab`: linear ranges -> physical ranges of the current CR3."""
        return self.dbg.command("info tab")
