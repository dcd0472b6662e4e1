"""pytest plumbing for the Ferrous graders: options, the cached `boot` fixture, points and the score
table, Gradescope results.json. See grade/README.md."""
import os
import random
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ferrous import runner, scoring  # noqa: E402


def pytest_addoption(parser):
    g = parser.getgroup("ferrous")
    g.addoption("--emu", default=os.environ.get("EMU") or "qemu", choices=("qemu", "bochs"),
                help="emulator for the graders (default qemu)")
    g.addoption("--boot", default=None, choices=("uefi", "grub"),
                help="boot path (default uefi under QEMU, grub under Bochs)")
    g.addoption("--seed", default=os.environ.get("SEED") or None, type=int,
                help="kernel test seed (default: random, printed as SEED=N)")
    g.addoption("--lab", default=os.environ.get("LAB") or None,
                help="run only the tests marked for this lab")
    g.addoption("--results-json", default=None, metavar="PATH",
                help="write Gradescope results.json here")


def pytest_configure(config):
    config.addinivalue_line("markers", "ferrous_points(n, title, hidden, emu): points for the table")
    config.addinivalue_line("markers", "lab(name): the lab a grader belongs to (--lab)")
    if config.getoption("--seed") is None:
        config.option.seed = random.SystemRandom().randrange(1, 1 << 31)
    if config.getoption("--boot") is None:
        config.option.boot = "grub" if config.getoption("--emu") == "bochs" else "uefi"
    config._ferrous_records = {}


def pytest_report_header(config):
    return (f"ferrous: emu={config.option.emu} boot={config.option.boot} SEED={config.option.seed}"
            f"{' lab=' + config.option.lab if config.option.lab else ''}")


def pytest_collection_modifyitems(config, items):
    lab = config.getoption("--lab")
    emu = config.getoption("--emu")
    keep, drop = [], []
    for item in items:
        labs = [m.args[0] for m in item.iter_markers("lab")]
        if lab and lab not in labs:
            drop.append(item)
            continue
        keep.append(item)
        pm = item.get_closest_marker("ferrous_points")
        if pm is not None:
            emus = pm.kwargs.get("emu")
            if emus and emu not in emus:
                item.add_marker(pytest.mark.skip(reason=f"not runnable under {emu} (needs {'/'.join(emus)})"))
    if lab and not keep:
        known = sorted({m.args[0] for it in items for m in it.iter_markers("lab")})
        raise pytest.UsageError(f"--lab {lab}: no grader is marked for this lab; known labs: "
                                f"{', '.join(known) or '(none)'}")
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session):
    """One score record per selected test with points (after -k/-m/--lab deselection)."""
    for item in session.items:
        pm = item.get_closest_marker("ferrous_points")
        if pm is not None:
            session.config._ferrous_records[item.nodeid] = scoring.Record(
                item.nodeid, pm.kwargs["title"], pm.kwargs["n"], pm.kwargs.get("hidden", False))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rec = item.config._ferrous_records.get(item.nodeid)
    if rec is None:
        return
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        rec.duration += rep.duration
        if rep.passed:
            rec.status, rec.reason = "PASS", ""
        elif rep.skipped:
            rec.status = "SKIP"
            rec.reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        else:
            rec.status = "FAIL" if rep.when == "call" else "ERROR"
            msg = ""
            if call.excinfo is not None:
                msg = str(call.excinfo.value) or call.excinfo.typename
            rec.reason = scoring.first_line(msg) or scoring.first_line(str(rep.longrepr))
            rec.output = msg[:6000]
    elif rep.when == "setup":
        rec.duration += rep.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    recs = list(config._ferrous_records.values())
    runs = list(runner.RUN_LOG)
    tr = terminalreporter
    if runs:
        tr.write_sep("-", "ferrous emulator runs")
        for r in runs:
            tr.write_line(f"  {r.emu}/{r.boot:<5} {str(r.outcome):<14} {r.wall_time:6.1f}s  {r.cmdline}")
        tot = sum(r.wall_time for r in runs)
        by = {}
        for r in runs:
            by[f"{r.emu}/{r.boot}"] = by.get(f"{r.emu}/{r.boot}", 0) + 1
        fw = sum(1 for r in runs if r.boot in ("uefi", "grub"))
        tr.write_line(f"  runs: {len(runs)}, firmware boots: {fw} "
                      f"({', '.join(f'{k} {v}' for k, v in sorted(by.items()))}), "
                      f"emulator wall time {tot:.1f}s")
    if recs:
        tr.write_sep("=", "ferrous score")
        tr.write_line(scoring.table(recs))
    tr.write_line(f"SEED={config.option.seed} (replay: make grade SEED={config.option.seed}"
                  f"{' LAB=' + config.option.lab if config.option.lab else ''} EMU={config.option.emu})")
    path = config.getoption("--results-json")
    if path:
        scoring.results_json(recs, path, extra_output=f"SEED={config.option.seed} emu={config.option.emu}")
        tr.write_line(f"results.json written to {path}")


class BootCache:
    """Session cache of runs: the same (path, emu, cmdline, mem, smp, ...) boots once, also when two
    threads ask at the same time (the second waits on the key's lock for the first one's Run)."""

    def __init__(self, config):
        self.config = config
        self.cache = {}
        self.key_locks = {}             # key -> Lock held while that key boots
        self.lock = threading.Lock()    # guards cache and key_locks

    def __call__(self, cmdline="", mem="256M", smp=1, boot=None, emu=None, timeout=None,
                 extra_args=(), on_checkpoint=None, cache=True, esp_kernel=True, seed=True):
        """Boot (or return the cached Run of) this configuration; seed=True appends seed=--seed.
        Raises HarnessError inside an on_checkpoint callback: the guest is stopped there, and a boot of
        the same key (or of a key whose own callback boots this one) would wait for itself."""
        if runner.in_checkpoint_callback():
            raise runner.HarnessError("boot() called from an on_checkpoint callback")
        opt = self.config.option
        emu = emu or opt.emu
        boot = boot or (opt.boot if emu == "qemu" else "grub")
        if seed:
            cmdline = runner._with_key(cmdline, "seed", str(opt.seed))
        kw = dict(boot=boot, emu=emu, cmdline=cmdline, mem=mem, smp=smp, timeout=timeout,
                  extra_args=extra_args, on_checkpoint=on_checkpoint, esp_kernel=esp_kernel)
        if not cache:
            return runner.run(**kw)
        key = (boot, emu, cmdline, str(mem), int(smp), tuple(extra_args), on_checkpoint, esp_kernel)
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:                  # one boot per key; other keys boot in parallel
            with self.lock:
                if key in self.cache:
                    return self.cache[key]
            r = runner.run(**kw)
            with self.lock:
                self.cache[key] = r
            return r


@pytest.fixture(scope="session")
def boot(request):
    """Callable: boot(cmdline=..., mem=..., ...) -> runner.Run, cached for the session."""
    return BootCache(request.config)


@pytest.fixture(scope="session")
def emu(request):
    """The --emu value: "qemu" or "bochs"."""
    return request.config.option.emu


@pytest.fixture
def all_runs(request):
    """Every (cmdline, Run) booted so far in this process, through the fixture or runner.run()."""
    return [(r.cmdline, r) for r in runner.RUN_LOG]


@pytest.fixture(scope="session")
def seed(request):
    """The session's seed (--seed, or the random one printed as SEED=)."""
    return request.config.option.seed
