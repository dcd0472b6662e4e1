"""Boot the Ferrous kernel once under QEMU or Bochs and classify what happened.

run(...) -> Run. Every run has a private temp dir (images, sockets, logs) so runs can go in parallel.
See grade/README.md for the interface and grade/PROTOCOL.md for the serial protocol.
"""
import atexit
import enum
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from .machine import BochsDebugger, BochsMachine, MachineError, QMP, QemuMachine
from .protocol import LineParser

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FERROUS_BUILD", os.path.join(REPO, "build"))

# Artefacts other fragments build (kept in one place so a rename is a one-line change).
KERNEL_ELF = os.path.join(BUILD, "kernel.elf")
EFI_LOADER = os.path.join(BUILD, "boot", "efi", "BOOTX64.EFI")
GRUB_ISO = os.path.join(BUILD, "ferrous.iso")
MKESP = os.path.join(REPO, "tools", "mkesp.sh")
MKGRUBCMD = os.path.join(REPO, "tools", "mkgrubcmd.sh")
OVMF = os.environ.get("FERROUS_OVMF", "/usr/share/ovmf/OVMF.fd")
QEMU = os.environ.get("FERROUS_QEMU", "qemu-system-x86_64")
BOCHS = os.environ.get("FERROUS_BOCHS", "bochs")
BOCHS_SHARE = "/usr/share/bochs"
BOCHS_RC_TEMPLATE = os.path.join(REPO, "boot", "multiboot2", "bochsrc.in")

TRANSCRIPT_HEAD = 512 * 1024            # bytes kept from the start of the serial output
TRANSCRIPT_TAIL = 512 * 1024            # bytes kept from the end
MAX_EVENTS = 100_000                    # events kept beyond this only if in KEEP_ALWAYS
KEEP_ALWAYS = {"end", "panic", "fault", "backtrace", "frames", "tests", "checkpoint", "boot",
               "test_begin", "test_pass", "test_fail", "test_skip", "loader_error"}

DEFAULT_TIMEOUT = {("qemu", "uefi"): 60, ("qemu", "grub"): 40, ("qemu", "raw"): 20,
                   ("bochs", "grub"): 120, ("bochs", "raw"): 40}

EXIT_OK, EXIT_FAIL, EXIT_PANIC, EXIT_LOADER = 33, 35, 37, 39
# GRUB cannot speak the protocol; boot/multiboot2/grub.cfg prints this before powering off.
GRUB_FAIL_MARK = "ferrous: grub:"
END_GRACE = 5.0                         # s an emulator may run on after `end` before it is stopped
STOP_LINE_WAIT = 2.0                    # s a Bochs magic break waits for its checkpoint/`end` line to
                                        # arrive (the guest drained the UART, so it is only host latency)


RUN_LOG = []                            # every Run of this process, in order (for measurements)
_LIVE = set()                           # emulator processes started and not yet reaped
_LIVE_LOCK = threading.Lock()


def _spawn(argv, **kw):
    """Popen in a new session (so a terminal ^C does not reach it directly), registered in _LIVE."""
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    return proc


def _reap(proc, first=signal.SIGTERM):
    """Stop proc if it still runs and forget it."""
    _kill(proc, first)
    with _LIVE_LOCK:
        _LIVE.discard(proc)


@atexit.register
def _kill_all():
    """At interpreter exit (e.g. pytest interrupted) no emulator may survive."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for p in procs:
        _reap(p, signal.SIGKILL)


class Outcome(str, enum.Enum):
    OK = "OK"
    FAIL = "FAIL"
    PANIC = "PANIC"
    TIMEOUT = "TIMEOUT"
    TRIPLE_FAULT = "TRIPLE_FAULT"
    EMULATOR_ERROR = "EMULATOR_ERROR"
    LOADER_ERROR = "LOADER_ERROR"

    def __str__(self):
        return self.value


class HarnessError(RuntimeError):
    """The harness itself could not set up a run (missing artefact, image tool failed)."""


_callback_state = threading.local()


def in_checkpoint_callback():
    """True while this thread runs an on_checkpoint callback (the guest is stopped; a boot from here
    would wait for a run that waits for this callback: conftest.BootCache refuses it)."""
    return getattr(_callback_state, "depth", 0) > 0


def _call_checkpoint(on_checkpoint, name, fields, machine):
    """Call on_checkpoint(name, fields, machine) with in_checkpoint_callback() true on this thread."""
    _callback_state.depth = getattr(_callback_state, "depth", 0) + 1
    try:
        return on_checkpoint(name, fields, machine)
    finally:
        _callback_state.depth -= 1


class TestResult:
    """Result of one ktest: status pass|fail|skip|incomplete and the fields of its closing event."""

    __test__ = False                    # not a pytest class

    def __init__(self, name, status, fields):
        self.name, self.status, self.fields = name, status, fields

    def describe(self):
        extra = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                         for k, v in self.fields.items() if k != "name")
        return f"ktest {self.name}: {self.status.upper()} {extra}".rstrip()

    def __repr__(self):
        return f"TestResult({self.name!r}, {self.status!r}, {self.fields!r})"


class Capture:
    """Serial bytes in, bounded transcript + parsed events out. Thread-safe; new events wake waiters."""

    def __init__(self):
        self.parser = LineParser()
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.events = []
        self.names = set()              # every event name seen (also of dropped events)
        self.events_dropped = 0
        self.first_event_at = None      # time.monotonic() when the first protocol line arrived
        self.cond = threading.Condition()

    def feed(self, data):
        """Append raw bytes to the bounded transcript (head kept, then a rolling tail)."""
        with self.cond:
            self.total += len(data)
            room = TRANSCRIPT_HEAD - len(self.head)
            if room > 0:
                self.head += data[:room]
                data = data[room:]
            if data:
                self.tail += data
                if len(self.tail) > 2 * TRANSCRIPT_TAIL:
                    del self.tail[:len(self.tail) - TRANSCRIPT_TAIL]
            self.cond.notify_all()

    def feed_events(self, data):
        """Feed bytes; return newly parsed events (after storing them)."""
        with self.cond:
            evs = self.parser.feed(data)
            self._store(evs)
        self.feed(data)
        return evs

    def _store(self, evs):
        """Keep events up to MAX_EVENTS; beyond, only KEEP_ALWAYS ones (and past 2x, only `end`)."""
        if evs and self.first_event_at is None:
            self.first_event_at = time.monotonic()
        for ev in evs:
            self.names.add(ev.name)
            n = len(self.events)
            if n < MAX_EVENTS or (ev.name in KEEP_ALWAYS and n < 2 * MAX_EVENTS) or ev.name == "end":
                self.events.append(ev)
            else:
                self.events_dropped += 1

    def finish(self):
        """End of stream: parse a pending partial line."""
        with self.cond:
            evs = self.parser.finish()
            self._store(evs)
            self.cond.notify_all()
        return evs

    def transcript(self):
        """(text, truncated): the kept head, a drop marker, the kept tail."""
        with self.cond:
            kept = len(self.head) + min(len(self.tail), TRANSCRIPT_TAIL)
            dropped = self.total - kept
            tail = bytes(self.tail[-TRANSCRIPT_TAIL:]) if self.tail else b""
            if dropped > 0:
                mid = f"\n[... {dropped} bytes dropped ...]\n".encode()
            else:
                mid = b""
            return (bytes(self.head) + mid + tail).decode("utf-8", "replace"), dropped > 0

    def has(self, name):
        """True once an event of that name has been parsed."""
        with self.cond:
            return name in self.names


class Run:
    """What one boot produced. See grade/README.md."""

    def __init__(self, **kw):
        self.outcome = None
        self.exit_code = None
        self.events = []
        self.transcript = ""
        self.transcript_bytes = 0
        self.truncated = False
        self.wall_time = 0.0
        self.first_event_time = None
        self.cmdline = ""
        self.boot = ""
        self.emu = ""
        self.argv = []
        self.dir = None
        self.notes = []
        self.checkpoint_errors = []
        self.checkpoints = []
        self.protocol_errors = []
        self.emulator_log_tail = ""
        self.gdb_port = None
        self.__dict__.update(kw)

    def first(self, name):
        """The first event of that name, or None."""
        return next((e for e in self.events if e.name == name), None)

    def last(self, name):
        """The last event of that name, or None."""
        return next((e for e in reversed(self.events) if e.name == name), None)

    def all(self, name):
        """Every event of that name, in order."""
        return [e for e in self.events if e.name == name]

    def tests(self):
        """{name: TestResult} from test_begin/pass/fail/skip events; begun-but-unfinished = incomplete."""
        out = {}
        for e in self.events:
            name = e.get("name")
            if e.name == "test_begin":
                out.setdefault(name, TestResult(name, "incomplete", dict(e.fields)))
            elif e.name in ("test_pass", "test_fail", "test_skip"):
                out[name] = TestResult(name, e.name[5:], dict(e.fields))
        return out

    def tail(self, n=30):
        """The last n lines of the (capped) transcript, carriage returns removed."""
        lines = self.transcript.replace("\r", "").rstrip("\n").split("\n")
        return "\n".join(lines[-n:])

    def describe(self, n=25):
        """Outcome, exit code, wall time, cmdline, notes, emulator log tail and serial tail, for messages."""
        notes = "".join(f"\n  note: {x}" for x in self.notes)
        notes += "".join(f"\n  malformed protocol line: {x}" for x in self.protocol_errors[:3])
        log = f"\n  emulator log tail:\n{self.emulator_log_tail}" if self.emulator_log_tail else ""
        return (f"{self.emu}/{self.boot} run: outcome={self.outcome} exit_code={self.exit_code} "
                f"wall={self.wall_time:.1f}s cmdline={self.cmdline!r}{notes}{log}\n"
                f"  --- serial tail ---\n{self.tail(n)}")

    def require_end(self):
        """Assert the run reached `end` and no checkpoint callback raised."""
        if self.checkpoint_errors:
            raise AssertionError(f"checkpoint callback failed: {self.checkpoint_errors[0]}\n{self.describe()}")
        assert self.first("end") is not None, f"run did not reach `end`\n{self.describe()}"

    def __repr__(self):
        return f"<Run {self.emu}/{self.boot} {self.outcome} exit={self.exit_code} {self.wall_time:.1f}s>"


# ----------------------------------------------------------------------------------------------------

def _mem_mib(mem):
    """"256M" / "1G" / 512 -> MiB as int."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGkmg]?)i?[bB]?\s*", str(mem))
    if not m:
        raise ValueError(f"bad memory size {mem!r}")
    n, unit = int(m.group(1)), m.group(2).upper()
    return {"K": n // 1024, "M": n, "G": n * 1024, "": n}[unit]


def _sh(argv, what):
    """Run a helper tool; HarnessError with its output if it fails."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise HarnessError(f"{what} failed ({p.returncode}): {' '.join(argv)}\n"
                           f"{p.stdout.decode(errors='replace')[-2000:]}")


def _need(path, hint):
    """HarnessError naming the missing build artefact and how to make it."""
    if not os.path.exists(path):
        raise HarnessError(f"{path} is missing ({hint})")


def _with_key(cmdline, key, value):
    """Append key=value unless the command line already has that key."""
    words = cmdline.split()
    if any(w.split("=", 1)[0] == key for w in words):
        return cmdline
    return " ".join(words + [f"{key}={value}"])


def _timeout_for(emu, boot, timeout):
    """Wall-clock limit in seconds: the given or default one, times FERROUS_TIMEOUT_SCALE."""
    if timeout is None:
        timeout = DEFAULT_TIMEOUT.get((emu, boot), 60)
    return timeout * float(os.environ.get("FERROUS_TIMEOUT_SCALE", "1"))


def run(boot="uefi", emu="qemu", cmdline="", mem="256M", smp=1, timeout=None, extra_args=(),
        esp_kernel=True, on_checkpoint=None, keep_dir=False, kernel=None, image=None,
        gdb_port=None, paused=False, on_started=None):
    """Boot once and return a Run (never raises for guest misbehaviour; HarnessError for setup).

    boot: "uefi" | "grub" | "raw" (raw: a floppy image `image=`, for harness self-tests).
    on_checkpoint(name, fields, machine) runs while the guest is stopped at each checkpoint.
    gdb_port/paused: QEMU gdbstub on 127.0.0.1:gdb_port, CPU halted at reset (-S). gdb_port=0: QEMU binds
    a free port itself (no window in which another process can take it); the port is r.gdb_port and,
    for on_started, read_gdb_port(run_dir).
    on_started(run_dir) is called once the emulator is up (e.g. to attach gdb)."""
    if emu not in ("qemu", "bochs"):
        raise ValueError(f"emu must be qemu or bochs, not {emu!r}")
    if boot not in ("uefi", "grub", "raw"):
        raise ValueError(f"boot must be uefi, grub or raw, not {boot!r}")
    if emu == "bochs" and boot == "uefi":
        raise HarnessError("Bochs runs the GRUB path only (OVMF under Bochs has no ACPI tables)")
    if on_checkpoint is not None:
        cmdline = _with_key(cmdline, "wait", "serial" if emu == "qemu" else "magic")
    elif emu == "bochs":
        cmdline = _with_key(cmdline, "wait", "magic")
    wall = _timeout_for(emu, boot, timeout)
    d = tempfile.mkdtemp(prefix=f"ferrous-{emu}-{boot}-")
    r = Run(cmdline=cmdline, boot=boot, emu=emu, dir=d)
    try:
        if emu == "qemu":
            _run_qemu(r, d, boot, cmdline, mem, smp, wall, extra_args, esp_kernel, on_checkpoint,
                      kernel or KERNEL_ELF, image, gdb_port, paused, on_started)
        else:
            _run_bochs(r, d, boot, cmdline, mem, smp, wall, extra_args, on_checkpoint, image, on_started)
    finally:
        with _LIVE_LOCK:
            mine = [p for p in _LIVE if _in_dir(p, d)]
        for p in mine:                      # normal path: already reaped; on an exception: kill now
            _reap(p, signal.SIGKILL if emu == "bochs" else signal.SIGTERM)
        for lock in _glob_locks(d):
            os.unlink(lock)
        if not keep_dir and os.environ.get("FERROUS_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)
        else:
            r.notes.append(f"run directory kept: {d}")
    with _LIVE_LOCK:
        RUN_LOG.append(r)
    return r


def _in_dir(proc, d):
    """True if proc was started for the run directory d (its cwd argument)."""
    return getattr(proc, "_ferrous_dir", None) == d


def _glob_locks(d):
    try:
        return [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".lock")]
    except OSError:
        return []


def _end_outcome(status):
    """The outcome an `end status=` word claims, or None for an unknown word."""
    return {"ok": Outcome.OK, "fail": Outcome.FAIL, "panic": Outcome.PANIC}.get(status)


def _classify(r, cap, timed_out, exit_code, log_text, emu, transcript="", end_confirmed=None):
    """Set r.outcome from the `end` line checked against the emulator, else from the exit code and log.

    The kernel's `end` line is a claim; the emulator confirms it. QEMU: the exit code must be the one
    `end status=` implies (33/35/37), else the outcome comes from the emulator alone (killed ->
    TIMEOUT, "Triple fault" in the log -> TRIPLE_FAULT, exit 37 -> PANIC, 35 -> FAIL, 39 -> LOADER_ERROR,
    anything else -> EMULATOR_ERROR), so printing `@@ end status=ok` and then hanging or crashing is not
    OK. Bochs has no exit code: end_confirmed says whether the run stopped at a magic break after the
    `end` line; without that the outcome comes from the log (TRIPLE_FAULT) or is TIMEOUT."""
    end = next((e for e in reversed(cap.events) if e.name == "end"), None)
    if end is not None:
        status = end.get("status")
        claimed = _end_outcome(status)
        if claimed is None:
            r.outcome = Outcome.EMULATOR_ERROR
            r.notes.append(f"`end` has an unknown status {status!r}")
            return
        if emu == "qemu":
            expect = {Outcome.OK: EXIT_OK, Outcome.FAIL: EXIT_FAIL, Outcome.PANIC: EXIT_PANIC}[claimed]
            if exit_code == expect and not timed_out:
                r.outcome = claimed
                return
            r.outcome = _qemu_exit_outcome(timed_out, exit_code, log_text, claimed)
            r.notes.append(f"`end status={status}` but QEMU exit code {exit_code} (expected {expect}): "
                           f"outcome {r.outcome} from the emulator, not the kernel's line")
            return
        if end_confirmed is False:
            if re.search(r"3rd \(\d+\) exception with no resolution|triple fault", log_text, re.I):
                r.outcome = Outcome.TRIPLE_FAULT
            elif timed_out or exit_code is None:
                r.outcome = Outcome.TIMEOUT
            else:
                r.outcome = Outcome.EMULATOR_ERROR
            r.notes.append(f"`end status={status}` was not followed by the exit magic break: "
                           f"outcome {r.outcome} from the emulator, not the kernel's line")
            return
        r.outcome = claimed
        return
    if timed_out:
        r.outcome = Outcome.TIMEOUT
    elif (emu == "qemu" and exit_code == EXIT_LOADER) or any(e.name == "loader_error" for e in cap.events) \
            or GRUB_FAIL_MARK in transcript:
        r.outcome = Outcome.LOADER_ERROR
    elif emu == "qemu" and "Triple fault" in log_text:
        r.outcome = Outcome.TRIPLE_FAULT
    elif emu == "bochs" and re.search(r"3rd \(\d+\) exception with no resolution|triple fault", log_text, re.I):
        r.outcome = Outcome.TRIPLE_FAULT
    elif emu == "qemu" and exit_code == EXIT_PANIC:
        r.outcome = Outcome.PANIC
        r.notes.append("exit code 37 (panic) without an `end` line")
    else:
        r.outcome = Outcome.EMULATOR_ERROR
        r.notes.append(f"no `end` line; emulator exited by itself with code {exit_code}")


def _qemu_exit_outcome(timed_out, exit_code, log_text, claimed):
    """Outcome of a QEMU run whose exit code disagrees with its `end` line: the emulator's view only.
    An exit code that says ok (33) never upgrades a worse claim (`end status=fail` + 33 stays FAIL)."""
    if timed_out or exit_code is None:
        return Outcome.TIMEOUT
    if "Triple fault" in log_text:
        return Outcome.TRIPLE_FAULT
    if exit_code == EXIT_PANIC:
        return Outcome.PANIC
    if exit_code == EXIT_FAIL:
        return Outcome.FAIL
    if exit_code == EXIT_LOADER:
        return Outcome.LOADER_ERROR
    if exit_code == EXIT_OK and claimed in (Outcome.FAIL, Outcome.PANIC):
        return claimed
    return Outcome.EMULATOR_ERROR


def _kill(proc, first=signal.SIGTERM):
    """Stop an emulator process group: `first` signal, then SIGKILL after 2 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, first)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _read_tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _grep_file(path, pattern, limit=64 << 20):
    """True if the regex (bytes) occurs in the first `limit` bytes of path."""
    try:
        with open(path, "rb") as f:
            return re.search(pattern, f.read(limit)) is not None
    except OSError:
        return False


def _finish(r, cap, t0, timed_out, exit_code, log_path, emu, end_confirmed=None):
    """Copy the capture into the Run and classify it (end_confirmed: Bochs, see _classify)."""
    r.wall_time = time.monotonic() - t0
    cap.finish()
    # Emulator start to the kernel's (or the loader's) first protocol line: the firmware's share.
    r.first_event_time = cap.first_event_at - t0 if cap.first_event_at is not None else None
    r.exit_code = exit_code
    r.events = list(cap.events)
    r.transcript, r.truncated = cap.transcript()
    r.transcript_bytes = cap.total
    r.protocol_errors = list(cap.parser.errors)
    if cap.events_dropped:
        r.notes.append(f"{cap.events_dropped} protocol events dropped (more than {MAX_EVENTS})")
    if emu == "qemu":
        log_hit = "Triple fault" if _grep_file(log_path, rb"Triple fault") else ""
    else:
        log_hit = _read_tail(log_path, 20000)
    _classify(r, cap, timed_out, exit_code, log_hit, emu, r.transcript, end_confirmed)
    if r.outcome not in (Outcome.OK, Outcome.FAIL, Outcome.PANIC, Outcome.TIMEOUT):
        r.emulator_log_tail = _read_tail(log_path, 1500)


def _pump(sock, cap, on_event=None):
    """Reader thread body: serial bytes from sock into cap until EOF or error; on_event(ev) for each
    parsed protocol event, in order, on this thread (QEMU serves checkpoints from here)."""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            return
        for ev in cap.feed_events(data):
            if on_event is not None:
                on_event(ev)


# ---- QEMU ------------------------------------------------------------------------------------------

def _make_esp(d, cmdline, esp_kernel, kernel):
    """A private ESP for this run; esp_kernel=False leaves the kernel out (loader error path)."""
    _need(EFI_LOADER, "build the UEFI loader: make")
    _need(MKESP, "tools/mkesp.sh (UEFI loader fragment)")
    if esp_kernel:
        _need(kernel, "build the kernel: make")
    esp = os.path.join(d, "esp.img")
    _sh([MKESP, esp, EFI_LOADER, kernel if esp_kernel else "-", cmdline], "mkesp.sh")
    return esp


def _qemu_argv(d, boot, cmdline, mem, smp, esp_kernel, kernel, image, gdb_port, paused):
    """QEMU's command line for one run (builds the run's ESP or GRUB command-line disk on the way)."""
    argv = [QEMU, "-nodefaults", "-display", "none", "-no-reboot",
            "-accel", os.environ.get("FERROUS_ACCEL", "tcg"),
            "-m", str(mem), "-smp", str(smp),
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-chardev", f"socket,id=ser0,path={d}/serial.sock,server=on,wait=on",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{d}/qmp.sock,server=on,wait=off",
            "-D", f"{d}/qemu.log", "-d", "cpu_reset"]
    if boot == "uefi":
        esp = _make_esp(d, cmdline, esp_kernel, kernel)
        argv += ["-bios", OVMF, "-drive", f"if=ide,format=raw,file={esp}"]
    elif boot == "grub":
        _need(GRUB_ISO, "build the GRUB ISO: make")
        _need(MKGRUBCMD, "tools/mkgrubcmd.sh (GRUB fragment)")
        cmd = os.path.join(d, "cmdline.img")
        _sh([MKGRUBCMD, cmd, cmdline], "mkgrubcmd.sh")
        argv += ["-drive", f"if=ide,index=0,media=cdrom,format=raw,readonly=on,file={GRUB_ISO}",
                 "-drive", f"if=floppy,index=0,format=raw,file={cmd}", "-boot", "d"]
    else:
        if not image:
            raise HarnessError("boot='raw' needs image=")
        argv += ["-drive", f"if=floppy,format=raw,readonly=on,file={image}", "-boot", "a"]
    if gdb_port is not None:
        argv += ["-gdb", f"tcp:127.0.0.1:{int(gdb_port)}"]
    if paused:
        argv += ["-S"]
    return argv


GDB_PORT_FILE = "gdb.port"


def _qemu_gdb_port(qmp, r):
    """The TCP port QEMU's gdbstub listens on (chardev "gdb", asked for with port 0), or None + a note."""
    try:
        if qmp is None:
            raise MachineError("no QMP connection")
        for ch in qmp.command("query-chardev"):
            m = re.search(r"tcp:127\.0\.0\.1:(\d+)", ch.get("filename", ""))
            if ch.get("label") == "gdb" and m:
                return int(m.group(1))
        raise MachineError("no `gdb` chardev in query-chardev")
    except (MachineError, OSError) as e:
        r.notes.append(f"gdbstub port unknown: {e}")
        return None


def read_gdb_port(run_dir):
    """For on_started callbacks of a run with gdb_port=0: the port QEMU's gdbstub listens on (int)."""
    with open(os.path.join(run_dir, GDB_PORT_FILE)) as f:
        text = f.read().strip()
    if not text:
        raise HarnessError(f"QEMU's gdbstub port is unknown (see the run's notes): {run_dir}")
    return int(text)


def _connect_unix(path, proc, timeout=15.0):
    """Connect to QEMU's listening unix socket; None if QEMU died or it never appeared."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if proc.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.02)


def _run_qemu(r, d, boot, cmdline, mem, smp, wall, extra_args, esp_kernel, on_checkpoint, kernel,
              image, gdb_port, paused, on_started):
    """One QEMU run: serial on a unix socket (read by a thread that also serves checkpoints), QMP."""
    argv = _qemu_argv(d, boot, cmdline, mem, smp, esp_kernel, kernel, image, gdb_port, paused)
    argv += list(extra_args)
    r.argv = argv
    out = open(os.path.join(d, "qemu.out"), "wb")
    t0 = time.monotonic()
    proc = _spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=d)
    proc._ferrous_dir = d
    out.close()
    cap = Capture()
    ser = _connect_unix(os.path.join(d, "serial.sock"), proc)
    qmp = None
    timed_out = False
    if ser is None:
        try:
            proc.wait(timeout=max(1, wall))
        except subprocess.TimeoutExpired:
            timed_out = True
            _reap(proc)
        r.notes.append("could not connect to QEMU's serial socket")
        _finish(r, cap, t0, timed_out, proc.returncode, os.path.join(d, "qemu.log"), "qemu")
        r.emulator_log_tail = _read_tail(os.path.join(d, "qemu.out"), 2000)
        r.outcome = Outcome.EMULATOR_ERROR if not timed_out else r.outcome
        return
    try:
        qmp = QMP(os.path.join(d, "qmp.sock"), timeout=10)
    except MachineError as e:
        r.notes.append(str(e))
    machine = QemuMachine(qmp, d) if qmp else None
    if machine:
        machine.events = cap.events                  # live: the events parsed so far
    r.gdb_port = gdb_port or None
    if gdb_port == 0:
        r.gdb_port = _qemu_gdb_port(qmp, r)
        with open(os.path.join(d, GDB_PORT_FILE), "w") as f:
            f.write(f"{r.gdb_port or ''}\n")

    def checkpoint(ev):
        """Serve one checkpoint; always answer with the byte (harmless if the kernel is not waiting)."""
        r.checkpoints.append(ev)
        try:
            if on_checkpoint is None:
                return
            if machine is None:
                raise MachineError("no QMP connection")
            qmp.command("stop")
            try:
                _call_checkpoint(on_checkpoint, ev.get("name"), dict(ev.fields), machine)
            finally:
                qmp.command("cont")
        except Exception as e:                       # recorded; require_end() re-raises the first
            r.checkpoint_errors.append(f"{type(e).__name__}: {e}")
        finally:
            try:
                ser.sendall(b"\n")
            except OSError:
                pass

    def on_event(ev):
        if ev.name == "checkpoint":
            checkpoint(ev)

    th = threading.Thread(target=_pump, args=(ser, cap, on_event), daemon=True)
    th.start()
    if on_started is not None:
        on_started(d)
    end_seen_at = None
    stopped_after_end = False
    while proc.poll() is None:
        left = wall - (time.monotonic() - t0)
        if left <= 0:
            if cap.has("end"):
                # `end` came just before the limit: let QEMU confirm it with its exit code first.
                try:
                    proc.wait(timeout=min(END_GRACE, 1.0))
                    break
                except subprocess.TimeoutExpired:
                    pass
            timed_out = True
            break
        if end_seen_at is None and cap.has("end"):
            end_seen_at = time.monotonic()
        if end_seen_at is not None and time.monotonic() - end_seen_at > END_GRACE:
            r.notes.append(f"QEMU did not exit within {END_GRACE}s after `end` (no isa-debug-exit write?)")
            stopped_after_end = True
            break
        try:
            proc.wait(timeout=min(left, 0.25))
        except subprocess.TimeoutExpired:
            pass
    _reap(proc)
    th.join(timeout=5)
    ser.close()
    if qmp:
        qmp.close()
    code = proc.returncode
    # Killed by us (QEMU exits 0 on SIGTERM): no exit code of its own.
    if timed_out or stopped_after_end or (code is not None and code < 0):
        code = None
    _finish(r, cap, t0, timed_out, code, os.path.join(d, "qemu.log"), "qemu")
    if r.outcome == Outcome.EMULATOR_ERROR:
        r.emulator_log_tail = _read_tail(os.path.join(d, "qemu.out"), 2000)


# ---- Bochs -----------------------------------------------------------------------------------------

def _free_tcp_listener():
    """A listening TCP socket on a free loopback port (Bochs' COM1 connects to it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def _bochsrc(d, boot, cmdline, mem, smp, image, port):
    """Write the run's bochsrc (from boot/multiboot2/bochsrc.in when present); return its path."""
    com1 = f"com1: enabled=1, mode=socket-client, dev=127.0.0.1:{port}"
    lines = [
        f"megs: {_mem_mib(mem)}",
        "cpu: model=corei7_sandy_bridge_2600k, ips=10000000, reset_on_triple_fault=0",
        "clock: sync=none, time0=1",
        f"romimage: file={BOCHS_SHARE}/BIOS-bochs-latest",
        f"vgaromimage: file={BOCHS_SHARE}/VGABIOS-lgpl-latest",
        com1,
        "port_e9_hack: enabled=1",
        "magic_break: enabled=1",
        "speaker: enabled=0",
        "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy",
        "display_library: term",
        f"log: {d}/bochs.log",
        "panic: action=fatal",
        "error: action=report",
    ]
    if smp and int(smp) > 1:
        lines.append(f"cpu: count={int(smp)}")
    if boot == "grub":
        _need(GRUB_ISO, "build the GRUB ISO: make")
        _need(MKGRUBCMD, "tools/mkgrubcmd.sh (GRUB fragment)")
        cmd = os.path.join(d, "cmdline.img")
        _sh([MKGRUBCMD, cmd, cmdline], "mkgrubcmd.sh")
        if os.path.exists(BOCHS_RC_TEMPLATE):
            # The GRUB fragment's template (its tuned settings), with COM1 on our socket instead of a file.
            with open(BOCHS_RC_TEMPLATE) as f:
                text = f.read()
            text = (text.replace("@ISO@", GRUB_ISO).replace("@CMDLINE_IMG@", cmd)
                    .replace("@SERIAL@", os.path.join(d, "serial.txt"))
                    .replace("@LOG@", os.path.join(d, "bochs.log"))
                    .replace("@MEM_MB@", str(_mem_mib(mem))))
            text = re.sub(r"(?m)^com1:.*$", com1, text)
            if smp and int(smp) > 1:
                text = re.sub(r"(?m)^(cpu:.*?)count=\d+", rf"\g<1>count={int(smp)}", text)
            lines = [text]
        else:
            lines += [f"ata0-master: type=cdrom, path={GRUB_ISO}, status=inserted",
                      f"floppya: 1_44={cmd}, status=inserted",
                      "boot: cdrom"]
    else:
        if not image:
            raise HarnessError("boot='raw' needs image=")
        lines += [f"floppya: 1_44={image}, status=inserted", "boot: floppy"]
    path = os.path.join(d, "bochsrc")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _run_bochs(r, d, boot, cmdline, mem, smp, wall, extra_args, on_checkpoint, image, on_started):
    """One Bochs run: COM1 to our TCP socket; the debugger on stdin/stdout serves magic breaks."""
    lst = _free_tcp_listener()
    rc = _bochsrc(d, boot, cmdline, mem, smp, image, lst.getsockname()[1])
    argv = [BOCHS, "-q", "-f", rc] + list(extra_args)
    r.argv = argv
    env = dict(os.environ, TERM="dumb")
    err = open(os.path.join(d, "bochs.err"), "wb")
    t0 = time.monotonic()
    proc = _spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=d, env=env)
    proc._ferrous_dir = d
    err.close()
    cap = Capture()
    dbg = BochsDebugger(proc)
    machine = BochsMachine(dbg, d)
    machine.events = cap.events
    timed_out = False
    lst.settimeout(1.0)
    conn = None

    def left():
        return wall - (time.monotonic() - t0)

    while conn is None and proc.poll() is None and left() > 0:
        try:
            conn, _ = lst.accept()
        except socket.timeout:
            pass
    lst.close()

    th = None
    if conn is not None:
        th = threading.Thread(target=_pump, args=(conn, cap), daemon=True)
        th.start()
    if on_started is not None:
        on_started(d)
    seen_events = 0                                   # events looked at by earlier stops
    first_stop = True                                 # Bochs' debugger stops once before the guest runs
    quitting = False
    end_seen_at = None
    stop_now = False
    # Whether the `end` line was complete at a magic break (kernel_exit: line, TEMT drain, xchg bx,bx).
    # Only a stop whose line had arrived confirms it: a break before the line (or a line completed only
    # after the stop was continued) confirms nothing, so `end` then a hang is TIMEOUT.
    end_confirmed = False
    empty_stops = 0                                   # magic breaks with no checkpoint/`end` line
    while proc.poll() is None:
        if left() <= 0:
            timed_out = True
            break
        out = dbg.wait_prompt(min(left(), 0.5))
        if out is None:
            if end_seen_at is None and cap.has("end"):
                end_seen_at = time.monotonic()
            if end_seen_at is not None and time.monotonic() - end_seen_at > STOP_LINE_WAIT:
                r.notes.append(f"`end` printed but no magic break followed in {STOP_LINE_WAIT:g} s"
                               + (f" ({empty_stops} magic break(s) without a complete line came earlier; "
                                  "the kernel must wait for UART TEMT before `xchg bx,bx`)"
                                  if empty_stops else ""))
                stop_now = True
                break
            continue
        if quitting:
            break
        if first_stop:
            first_stop = False
            dbg.send("c")
            continue
        # A magic break: the guest drained the UART, so its checkpoint or `end` line was sent before the
        # stop; wait for the host to deliver it (no guest byte can arrive while Bochs is stopped).
        deadline = time.monotonic() + STOP_LINE_WAIT
        with cap.cond:
            while time.monotonic() < deadline:
                new = cap.events[seen_events:]
                if any(e.name in ("end", "checkpoint") for e in new):
                    break
                cap.cond.wait(0.05)
            new = cap.events[seen_events:]
            seen_events = len(cap.events)
        cps = [e for e in new if e.name == "checkpoint"]
        if not cps and not any(e.name == "end" for e in new):
            empty_stops += 1
        r.checkpoints.extend(cps)
        if cps and on_checkpoint is not None:
            try:
                _call_checkpoint(on_checkpoint, cps[-1].get("name"), dict(cps[-1].fields), machine)
            except Exception as e:
                r.checkpoint_errors.append(f"{type(e).__name__}: {e}")
        if any(e.name == "end" for e in new):
            end_confirmed = True
            dbg.send("quit")
            quitting = True
            try:
                proc.wait(timeout=min(10, max(0.1, left())))
            except subprocess.TimeoutExpired:
                pass
            break
        dbg.send("c")
    if proc.poll() is None:
        if timed_out or stop_now:
            _reap(proc, signal.SIGHUP)
        else:
            try:
                proc.wait(timeout=max(0.1, left()))
            except subprocess.TimeoutExpired:
                timed_out = True
            _reap(proc, signal.SIGHUP)
    if th is not None:
        th.join(timeout=5)
        conn.close()
    try:
        proc.stdin.close()
    except OSError:
        pass
    _finish(r, cap, t0, timed_out, None if (timed_out or stop_now) else proc.returncode,
            os.path.join(d, "bochs.log"), "bochs", end_confirmed)
    if r.outcome == Outcome.EMULATOR_ERROR:
        r.emulator_log_tail = _read_tail(os.path.join(d, "bochs.log"), 1500) + \
            _read_tail(os.path.join(d, "bochs.err"), 800)
