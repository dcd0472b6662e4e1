/*
 * physmem.c - the physical memory window and the kernel-image translation.
 *
 * One window (virtual base, physical base, list of physical runs) serves the
 * kernel's direct map and the host tests' backing array alike; see physmem.h.
 */
#include "mm/physmem.h"
#include "panic.h"
#ifdef __FERROUS_KERNEL__
#include "boot_info.h"
#endif

/* Invariant: for every run, physical [start, end) is mapped at virt_base + (pa - phys_base), readable
 * (writable unless read_only); runs are sorted by start, disjoint and non-empty. Nothing else is in the
 * window: phys_to_virt never returns a pointer whose read faults. */
static struct {
	uintptr_t virt_base;
	uint64_t phys_base;
	unsigned nruns;
	unsigned hint;   /* run of the last successful lookup: only a guess, checked before use (< nruns or stale) */
	struct physmem_run runs[PHYSMEM_MAX_RUNS];
} window;

/* Invariant: kernel-image virtual [virt_base, virt_base + size) lies at physical phys_base. */
static struct {
	uint64_t virt_base;
	uint64_t phys_base;
	uint64_t size;
} kimg;

/* Sets the window to n sorted, disjoint runs reachable at base_ptr + (pa - phys_base); panics otherwise. */
void physmem_set_runs(void *base_ptr, uint64_t phys_base, const struct physmem_run *runs, unsigned n)
{
	if (n > PHYSMEM_MAX_RUNS)
		panic("physmem_set_runs: %u runs > PHYSMEM_MAX_RUNS %u", n, PHYSMEM_MAX_RUNS);
	for (unsigned i = 0; i < n; i++)
		if (runs[i].start < phys_base || runs[i].start >= runs[i].end || (i > 0 && runs[i].start < runs[i - 1].end))
			panic("physmem_set_runs: run %u [0x%lx, 0x%lx) is empty, below phys_base 0x%lx or overlaps the "
			      "run before (ends 0x%lx)", i, runs[i].start, runs[i].end, phys_base,
			      i > 0 ? runs[i - 1].end : 0);
	window.virt_base = (uintptr_t)base_ptr;
	window.phys_base = phys_base;
	window.nruns = n;
	window.hint = 0;
	for (unsigned i = 0; i < n; i++)
		window.runs[i] = runs[i];
}

/* Sets the window: physical [phys_base, phys_base + size) is reachable at base_ptr (one run; none if size 0). */
void physmem_set_window(void *base_ptr, uint64_t phys_base, uint64_t size)
{
	struct physmem_run r = { .start = phys_base, .end = phys_base + size, .read_only = false };
	physmem_set_runs(base_ptr, phys_base, &r, size ? 1 : 0);
}

/* Sets the kernel image range: virtual [virt_base, virt_base + size) lies at phys_base. */
void physmem_set_kimg(uint64_t virt_base, uint64_t phys_base, uint64_t size)
{
	kimg.virt_base = virt_base;
	kimg.phys_base = phys_base;
	kimg.size = size;
}

#ifdef __FERROUS_KERNEL__
/* Kernel: window = the loader's direct map of [0, direct_map_limit); image = bi's base and size. */
void physmem_init(const struct boot_info *bi)
{
	/* SAFETY: boot_info.h guarantees the loader's tables map [0, direct_map_limit) at
	 * DIRECT_MAP_BASE; boot_info_validate() checked the limit before pmm_init runs. */
	physmem_set_window((void *)DIRECT_MAP_BASE, 0, bi->direct_map_limit);
	physmem_set_kimg(KERNEL_VBASE, bi->kernel_phys_base, bi->kernel_phys_size);
}

/* Kernel: the direct map now covers exactly these runs (called by kas_init after the switch). */
void physmem_set_direct_map(const struct physmem_run *runs, unsigned n)
{
	/* SAFETY: the caller (kas_init) has mapped every run at DIRECT_MAP_BASE + start in the tables it
	 * just loaded into CR3 (the read_only ones read-only); the window holds nothing else. */
	physmem_set_runs((void *)DIRECT_MAP_BASE, 0, runs, n);
}
#endif

/* Physical end of the window (exclusive): the end of the highest run. */
uint64_t physmem_window_limit(void)
{
	return window.nruns ? window.runs[window.nruns - 1].end : window.phys_base;
}

/* run_of: index of the run holding pa (or, when at_end, also one ending exactly at pa), or -1. Fast path:
 * the run of the last hit (consecutive lookups mostly stay in one run: a frame's words, a page-table walk),
 * else a binary search. The hint is read and written with relaxed atomics: any value is only a guess that is
 * bounds-checked against nruns and the run's own limits before it is trusted. */
static int run_of(uint64_t pa, bool at_end)
{
	unsigned h = __atomic_load_n(&window.hint, __ATOMIC_RELAXED);
	if (h < window.nruns && window.runs[h].start <= pa && pa < window.runs[h].end)
		return (int)h;
	unsigned lo = 0, hi = window.nruns;   /* binary search: the first run with end > pa */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (window.runs[mid].end > pa)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < window.nruns && window.runs[lo].start <= pa) {
		__atomic_store_n(&window.hint, lo, __ATOMIC_RELAXED);
		return (int)lo;
	}
	if (at_end && lo > 0 && window.runs[lo - 1].end == pa)
		return (int)lo - 1;
	return -1;
}

/* Whether [p, p + len) lies inside the window's runs (a range may cross from a run into an adjacent one). */
bool physmem_in_window(paddr_t p, uint64_t len)
{
	int i = run_of(p.pa, len == 0);
	if (i < 0)
		return false;
	if (len == 0)
		return true;
	if (len - 1 > UINT64_MAX - p.pa)
		return false;   /* wraps around */
	uint64_t last = p.pa + (len - 1);
	for (unsigned r = (unsigned)i;; r++) {
		if (last < window.runs[r].end)
			return true;
		if (r + 1 >= window.nruns || window.runs[r + 1].start != window.runs[r].end)
			return false;
	}
}

/* Pointer to physical address p through the window; panics (naming the caller's file:line) outside it. */
void *phys_to_virt_at(paddr_t p, const char *file, int line)
{
	if (run_of(p.pa, false) < 0)
		panic_at(file, line, "phys_to_virt: pa 0x%lx outside the window (a hole or beyond: %u runs in "
			 "[0x%lx, 0x%lx))", p.pa, window.nruns, window.nruns ? window.runs[0].start : 0,
			 physmem_window_limit());
	/* SAFETY: p lies in a run, which the window invariant says is mapped (readable) at
	 * virt_base + (pa - phys_base); pa >= start >= phys_base, so the offset does not underflow. */
	return (void *)(window.virt_base + (uintptr_t)(p.pa - window.phys_base));
}

/* Physical address of a pointer into the window; panics outside it. */
paddr_t virt_to_phys_direct_at(const void *v, const char *file, int line)
{
	uintptr_t a = (uintptr_t)v;
	uint64_t pa = window.phys_base + (uint64_t)(a - window.virt_base);
	if (a < window.virt_base || pa < window.phys_base || run_of(pa, false) < 0)
		panic_at(file, line, "virt_to_phys_direct: va %p (pa 0x%lx) outside the window at 0x%lx (%u runs)",
			 v, pa, (uint64_t)window.virt_base, window.nruns);
	return paddr(pa);
}

/* Physical address of a kernel-image object; panics outside the image. */
paddr_t kimg_to_phys_at(const void *v, const char *file, int line)
{
	uint64_t a = (uint64_t)(uintptr_t)v;
	if (a < kimg.virt_base || a - kimg.virt_base >= kimg.size)
		panic_at(file, line, "kimg_to_phys: va %p outside the kernel image [0x%lx, 0x%lx)",
			 v, kimg.virt_base, kimg.virt_base + kimg.size);
	return paddr(kimg.phys_base + (a - kimg.virt_base));
}
