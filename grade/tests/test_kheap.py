"""kheap.* graders: the kernel heap (kmalloc/kzalloc/kfree/krealloc).

Boot 1 `test=kheap.*` (slab heap, the default), boot 2 `test=kheap.* kheap=list` (the Phase 1 list heap behind
kmalloc), boot 3 `test=fault.kheap_double_free` (must panic naming the pointer)."""
from ferrous.scoring import points

CMD = "test=kheap.*"


@points(5, "kheap: sizes, alignment, kzalloc/krealloc, many objects")
def test_kheap_ktests(boot):
    run = boot(cmdline=CMD)
    run.require_end()
    tests = run.tests()
    for n in ("kheap.kmalloc_kfree_sizes", "kheap.alignment", "kheap.kzalloc_krealloc", "kheap.many_objects",
              "kheap.list_private"):
        assert n in tests, "%s did not run\n%s" % (n, run.describe())
        assert tests[n].status == "pass", tests[n].describe()


@points(3, "kheap: exhaustion returns NULL and recovers; no frame leaked")
def test_kheap_oom_and_leak(boot):
    run = boot(cmdline=CMD)
    run.require_end()
    t = run.tests()["kheap.oom_returns_null"]
    assert t.status == "pass", t.describe()
    f = run.first("frames")
    assert f["leaked"] == 0, f.raw


@points(3, "kheap: the list heap (kheap=list) passes the same tests, no leak")
def test_kheap_list_backend(boot):
    run = boot(cmdline=CMD + " kheap=list")
    run.require_end()
    assert run.first("kheap")["backend"] == "list", run.describe()
    tests = run.tests()
    for n in ("kheap.kmalloc_kfree_sizes", "kheap.alignment", "kheap.kzalloc_krealloc", "kheap.many_objects",
              "kheap.oom_returns_null"):
        assert tests[n].status == "pass", tests[n].describe()
    assert run.first("frames")["leaked"] == 0, run.first("frames").raw


@points(2, "kheap: double free panics naming the pointer")
def test_kheap_double_free(boot):
    run = boot(cmdline="test=fault.kheap_double_free")
    assert run.outcome == "PANIC", run.describe()
    msg = run.first("panic")["msg"]
    assert "kfree: 0x" in msg and "already free (double free?)" in msg, msg
