/*
 * test_paging.c - host tests of the page-table walker (kernel/mm/paging.c),
 * compiled from the kernel sources against a fake physical memory (the
 * physmem window over a malloc'd array) and the frame source of
 * tests/paging_host/. Run under ASan + UBSan by `make test-host`.
 *
 *   test_paging [--seed N] [--ops N]
 *
 * Unit tests first (flags, each error, huge pages, split, OOM at every
 * allocation), then a model test: a seeded random sequence of map / unmap /
 * protect / split / translate checked after every step against an independent
 * model of what must be mapped.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/frame.h"
#include "mm/paging.h"
#include "mm/physmem.h"
#include "mm/pte.h"
#include "panic.h"
#include "paging_host/frame_source.h"

#define PHYS_BASE   0x40000000ULL       /* the fake RAM does not start at 0 */
#define PHYS_FRAMES 8192u               /* 32 MiB of table frames */

static unsigned failures, checks;

#define CHECK(cond, ...) do { \
		checks++; \
		if (!(cond)) { \
			failures++; \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			if (failures > 20) exit(1); \
		} \
	} while (0)
#define CHECK_ERR(got, want) CHECK((got) == (want), "got %s, want %s", mm_strerror(got), mm_strerror(want))

static void *ram;

/* fresh: a new fake RAM, frame source and empty page table. */
static void fresh(struct page_table *pt)
{
	if (!ram) {
		ram = aligned_alloc(4096, (size_t)PHYS_FRAMES * 4096);
		if (!ram) { perror("aligned_alloc"); exit(2); }
	}
	memset(ram, 0x5a, (size_t)PHYS_FRAMES * 4096);
	physmem_set_window(ram, PHYS_BASE, (uint64_t)PHYS_FRAMES * 4096);
	frame_source_init(PHYS_BASE, PHYS_FRAMES);
	paging_have_1g = true;
	mm_err_t err = pt_create(pt);
	CHECK_ERR(err, MM_OK);
}

/* ---- a snapshot of every table reachable from the root, to prove "unchanged" ---- */
struct snapshot { size_t n; uint64_t pa[64]; uint64_t data[64][512]; };

static void snap_level(struct snapshot *s, paddr_t t, unsigned level)
{
	const pte_t *e = phys_to_virt(t);
	if (s->n < 64) {
		s->pa[s->n] = t.pa;
		memcpy(s->data[s->n], e, 4096);
		s->n++;
	}
	if (level > 0)
		for (unsigned i = 0; i < 512; i++)
			if (pte_present(e[i]) && !pte_is_leaf(e[i], level))
				snap_level(s, pte_addr(e[i]), level - 1);
}
static struct snapshot snap_a, snap_b;
static void snap(struct snapshot *s, const struct page_table *pt) { s->n = 0; snap_level(s, pt->root, 3); }
static bool snap_equal(const struct snapshot *a, const struct snapshot *b)
{
	return a->n == b->n && memcmp(a->pa, b->pa, a->n * 8) == 0 && memcmp(a->data, b->data, a->n * 4096) == 0;
}

static vaddr_t V(uint64_t x) { return vaddr_unchecked(x); }

static void test_flags(void)
{
	uint64_t hw;
	CHECK_ERR(pte_flags_to_hw(PG_READ, PAGE_4K, &hw), MM_OK);
	CHECK(hw == (PTE_P | PTE_NX), "read-only hw 0x%" PRIx64, hw);
	CHECK_ERR(pte_flags_to_hw(PG_READ | PG_WRITE | PG_EXEC | PG_GLOBAL, PAGE_2M, &hw), MM_OK);
	CHECK(hw == (PTE_P | PTE_RW | PTE_G | PTE_PS), "rwxg 2M hw 0x%" PRIx64, hw);
	CHECK_ERR(pte_flags_to_hw(PG_READ | PG_USER | PG_NOCACHE | PG_WRITETHROUGH, PAGE_4K, &hw), MM_OK);
	CHECK(hw == (PTE_P | PTE_US | PTE_PCD | PTE_PWT | PTE_NX), "hw 0x%" PRIx64, hw);
	CHECK_ERR(pte_flags_to_hw(PG_WRITE, PAGE_4K, &hw), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pte_flags_to_hw(PG_EXEC, PAGE_4K, &hw), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pte_flags_to_hw(0, PAGE_4K, &hw), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pte_flags_to_hw(PG_READ | PG_USER | PG_GLOBAL, PAGE_4K, &hw), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pte_flags_to_hw(PG_READ | 0x80u, PAGE_4K, &hw), MM_ERR_INVALID_FLAGS);
	/* round trip of every valid combination */
	for (pgflags_t f = 0; f <= PG_ALL_FLAGS; f++) {
		if (pte_flags_to_hw(f, PAGE_4K, &hw) != MM_OK)
			continue;
		pte_t e = { hw | 0x1234000 | PTE_A | PTE_D };
		CHECK(pte_flags_from_hw(e) == f, "round trip 0x%x -> 0x%x", f, pte_flags_from_hw(e));
	}
}

static void test_map_translate(void)
{
	struct page_table pt;
	fresh(&pt);
	size_t free0 = frame_source_free();
	struct pt_mapping m;
	CHECK_ERR(pt_map(&pt, V(0xffff800000123000), paddr(0x7654000), PAGE_4K, PG_READ | PG_WRITE), MM_OK);
	CHECK(pt_count_tables(&pt) == 4, "tables %zu", pt_count_tables(&pt));
	CHECK_ERR(pt_translate(&pt, V(0xffff800000123abc), &m), MM_OK);
	CHECK(m.pa.pa == 0x7654abc && m.base.pa == 0x7654000 && m.size == PAGE_4K, "pa 0x%" PRIx64, m.pa.pa);
	CHECK(m.flags == (PG_READ | PG_WRITE) && m.va_base.va == 0xffff800000123000, "flags 0x%x", m.flags);
	CHECK_ERR(pt_translate(&pt, V(0xffff800000124000), &m), MM_ERR_NOT_MAPPED);
	CHECK_ERR(pt_translate(&pt, V(0x0000800000000000), &m), MM_ERR_INVALID_ADDRESS);

	CHECK_ERR(pt_map(&pt, V(0x40000000), paddr(0x80000000), PAGE_2M, PG_READ | PG_EXEC), MM_OK);
	CHECK_ERR(pt_translate(&pt, V(0x401fffff), &m), MM_OK);
	CHECK(m.pa.pa == 0x801fffff && m.size == PAGE_2M && m.flags == (PG_READ | PG_EXEC), "2M pa 0x%" PRIx64, m.pa.pa);
	CHECK_ERR(pt_map(&pt, V(0x8000000000), paddr(0x100000000), PAGE_1G, PG_READ), MM_OK);
	CHECK_ERR(pt_translate(&pt, V(0x8012345678), &m), MM_OK);
	CHECK(m.pa.pa == 0x112345678 && m.size == PAGE_1G, "1G pa 0x%" PRIx64, m.pa.pa);

	char why[160];
	CHECK(pt_check(&pt, why, sizeof why), "%s", why);
	struct pt_walk_step st[PT_LEVELS];
	CHECK(pt_walk(&pt, V(0x401fffff), st) == 3, "2M walk is 3 steps");
	CHECK(st[2].level == 1 && (st[2].entry.raw & PTE_PS), "2M leaf at level 1");
	CHECK(pt_walk(&pt, V(0xffff800000123000), st) == 4 && st[3].entry.raw == (0x7654000 | PTE_P | PTE_RW | PTE_NX),
	      "4K leaf raw 0x%" PRIx64, st[3].entry.raw);
	CHECK(pt_walk(&pt, V(0x1234), st) == 2 && !pte_present(st[1].entry), "unmapped walk stops at level 2");

	/* unmap everything: every intermediate table is freed */
	CHECK_ERR(pt_unmap(&pt, V(0xffff800000123000), &m), MM_OK);
	CHECK(m.pa.pa == 0x7654000 && m.flags == (PG_READ | PG_WRITE), "unmap old pa 0x%" PRIx64, m.pa.pa);
	CHECK_ERR(pt_unmap(&pt, V(0x40000000), NULL), MM_OK);
	CHECK_ERR(pt_unmap(&pt, V(0x8000000000), NULL), MM_OK);
	CHECK(pt_count_tables(&pt) == 1, "tables after unmap %zu", pt_count_tables(&pt));
	CHECK(frame_source_free() == free0, "leak: free %zu, was %zu", frame_source_free(), free0);
	pt_destroy(&pt);
}

static void test_errors(void)
{
	struct page_table pt;
	fresh(&pt);
	const pgflags_t rw = PG_READ | PG_WRITE;
	CHECK_ERR(pt_map(&pt, V(0x200000), paddr(0x200000), PAGE_2M, rw), MM_OK);
	CHECK_ERR(pt_map(&pt, V(0x5000), paddr(0x5000), PAGE_4K, rw), MM_OK);
	snap(&snap_a, &pt);
	size_t free0 = frame_source_free();
	uint64_t inv0 = paging_tlb_invalidations;

	/* AlreadyMapped, tables unchanged */
	CHECK_ERR(pt_map(&pt, V(0x5000), paddr(0x9000), PAGE_4K, rw), MM_ERR_ALREADY_MAPPED);
	CHECK_ERR(pt_map(&pt, V(0x201000), paddr(0x9000), PAGE_4K, rw), MM_ERR_ALREADY_MAPPED); /* 4K inside 2M */
	CHECK_ERR(pt_map(&pt, V(0x0), paddr(0x0), PAGE_2M, rw), MM_ERR_ALREADY_MAPPED);        /* 2M over a PT */
	CHECK_ERR(pt_map(&pt, V(0x0), paddr(0x0), PAGE_1G, rw), MM_ERR_ALREADY_MAPPED);        /* 1G over a PD */
	CHECK_ERR(pt_map(&pt, V(0x200000), paddr(0x0), PAGE_2M, rw), MM_ERR_ALREADY_MAPPED);
	/* InvalidAddress: non-canonical, misaligned va, misaligned pa, pa beyond 52 bits */
	CHECK_ERR(pt_map(&pt, V(0x0000800000000000), paddr(0), PAGE_4K, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0xfff0000000000000), paddr(0), PAGE_4K, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0x7001), paddr(0x7000), PAGE_4K, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0x7000), paddr(0x7001), PAGE_4K, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0x600000), paddr(0x201000), PAGE_2M, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0x601000), paddr(0x200000), PAGE_2M, rw), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_map(&pt, V(0x7000), paddr(1ULL << 52), PAGE_4K, rw), MM_ERR_INVALID_ADDRESS);
	/* InvalidFlags */
	CHECK_ERR(pt_map(&pt, V(0x7000), paddr(0x7000), PAGE_4K, PG_WRITE), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pt_map(&pt, V(0x7000), paddr(0x7000), (enum page_size)3, rw), MM_ERR_INVALID_FLAGS);
	paging_have_1g = false;
	CHECK_ERR(pt_map(&pt, V(0x40000000), paddr(0x40000000), PAGE_1G, rw), MM_ERR_INVALID_FLAGS);
	paging_have_1g = true;
	/* NotMapped / InvalidAddress on unmap and protect */
	CHECK_ERR(pt_unmap(&pt, V(0x6000), NULL), MM_ERR_NOT_MAPPED);
	CHECK_ERR(pt_unmap(&pt, V(0x7fff00000000), NULL), MM_ERR_NOT_MAPPED);
	CHECK_ERR(pt_unmap(&pt, V(0x201000), NULL), MM_ERR_INVALID_ADDRESS);   /* inside the 2M page */
	CHECK_ERR(pt_unmap(&pt, V(0x5008), NULL), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_unmap(&pt, V(0x8000000000000000), NULL), MM_ERR_INVALID_ADDRESS);
	CHECK_ERR(pt_protect(&pt, V(0x6000), PG_READ), MM_ERR_NOT_MAPPED);
	CHECK_ERR(pt_protect(&pt, V(0x5000), PG_EXEC), MM_ERR_INVALID_FLAGS);
	CHECK_ERR(pt_split(&pt, V(0x5000)), MM_ERR_NOT_MAPPED);                /* 4K: nothing to split */
	CHECK_ERR(pt_split(&pt, V(0x800000)), MM_ERR_NOT_MAPPED);

	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "tables changed by failed calls");
	CHECK(frame_source_free() == free0, "frames leaked by failed calls");
	CHECK(paging_tlb_invalidations == inv0, "failed calls invalidated the TLB");

	/* OutOfMemory at each of the 3 table allocations of a map into an empty region */
	for (long k = 0; k < 3; k++) {
		frame_alloc_fail_after(k);
		CHECK_ERR(pt_map(&pt, V(0xffffffff80000000), paddr(0x1000), PAGE_4K, rw), MM_ERR_OUT_OF_MEMORY);
		frame_alloc_fail_after(-1);
		snap(&snap_b, &pt);
		CHECK(snap_equal(&snap_a, &snap_b), "tables changed by OOM after %ld allocations", k);
		CHECK(frame_source_free() == free0, "OOM after %ld allocations leaked %zu frames", k,
		      free0 - frame_source_free());
	}
	frame_alloc_fail_after(3);
	CHECK_ERR(pt_map(&pt, V(0xffffffff80000000), paddr(0x1000), PAGE_4K, rw), MM_OK);
	frame_alloc_fail_after(-1);
	/* OOM in split: unchanged */
	snap(&snap_a, &pt);
	frame_alloc_fail_after(0);
	CHECK_ERR(pt_split(&pt, V(0x200000)), MM_ERR_OUT_OF_MEMORY);
	frame_alloc_fail_after(-1);
	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "tables changed by OOM in split");
	pt_destroy(&pt);
}

static void test_protect_split(void)
{
	struct page_table pt;
	fresh(&pt);
	struct pt_mapping m;
	uint64_t inv0 = paging_tlb_invalidations;
	CHECK_ERR(pt_map(&pt, V(0x40000000), paddr(0xc0000000), PAGE_1G, PG_READ | PG_WRITE | PG_GLOBAL), MM_OK);
	CHECK(paging_tlb_invalidations == inv0, "map must not invalidate");
	CHECK_ERR(pt_protect(&pt, V(0x40000000), PG_READ | PG_EXEC), MM_OK);
	CHECK(paging_tlb_invalidations == inv0 + 1, "protect invalidates once");
	CHECK_ERR(pt_translate(&pt, V(0x7fffffff), &m), MM_OK);
	CHECK(m.flags == (PG_READ | PG_EXEC) && m.pa.pa == 0xffffffff, "protect flags 0x%x", m.flags);
	CHECK_ERR(pt_protect(&pt, V(0x40200000), PG_READ), MM_ERR_INVALID_ADDRESS);

	/* 1G -> 2M -> 4K; every translation stays the same */
	CHECK_ERR(pt_split(&pt, V(0x40000000 + 0x12345678)), MM_OK);
	CHECK_ERR(pt_translate(&pt, V(0x40000000 + 0x12345678), &m), MM_OK);
	CHECK(m.size == PAGE_2M && m.pa.pa == 0xc0000000 + 0x12345678 && m.flags == (PG_READ | PG_EXEC),
	      "after 1G split: size %d pa 0x%" PRIx64, m.size, m.pa.pa);
	CHECK_ERR(pt_split(&pt, V(0x40000000 + 0x12345678)), MM_OK);
	CHECK_ERR(pt_translate(&pt, V(0x40000000 + 0x12345678), &m), MM_OK);
	CHECK(m.size == PAGE_4K && m.pa.pa == 0xc0000000 + 0x12345678 && m.flags == (PG_READ | PG_EXEC),
	      "after 2M split: size %d pa 0x%" PRIx64, m.size, m.pa.pa);
	for (uint64_t off = 0; off < 0x40000000; off += 0x1ff000 + 0x123) {
		CHECK_ERR(pt_translate(&pt, V(0x40000000 + off), &m), MM_OK);
		CHECK(m.pa.pa == 0xc0000000 + off, "split translation off 0x%" PRIx64, off);
	}
	char why[160];
	CHECK(pt_check(&pt, why, sizeof why), "%s", why);
	/* now a 4K page inside can be unmapped and remapped */
	CHECK_ERR(pt_unmap(&pt, V(0x52345000), NULL), MM_OK);
	CHECK_ERR(pt_map(&pt, V(0x52345000), paddr(0x1000), PAGE_4K, PG_READ | PG_USER), MM_OK);
	struct pt_walk_step st[PT_LEVELS];
	CHECK(pt_walk(&pt, V(0x52345000), st) == 4, "walk 4 levels");
	for (unsigned i = 0; i < 4; i++)
		CHECK(st[i].entry.raw & PTE_US, "user page: US on level %u", st[i].level);
	CHECK(pt_count_tables(&pt) == 4, "tables %zu", pt_count_tables(&pt));
	pt_destroy(&pt);
}

static void test_map_range(void)
{
	struct page_table pt;
	fresh(&pt);
	size_t free0 = frame_source_free();
	uint64_t counts[3] = { 0, 0, 0 };
	/* [1 MiB, 3 GiB + 6 MiB + 8 KiB): 4K up to 2 MiB, 2M up to 1 GiB, 1G x2, 2M x3, 4K x2 */
	const uint64_t lo = 0x100000, len = 0xc0000000ULL + 0x600000 + 0x2000 - lo;
	CHECK_ERR(pt_map_range(&pt, V(0xffff800000000000 + lo), paddr(lo), len, PG_READ | PG_WRITE, PAGE_1G, counts), MM_OK);
	CHECK(counts[0] == 256 + 2 && counts[1] == 511 + 3 && counts[2] == 2, "counts %" PRIu64 " %" PRIu64 " %" PRIu64,
	      counts[0], counts[1], counts[2]);
	struct pt_mapping m;
	CHECK_ERR(pt_translate(&pt, V(0xffff800000000000 + 0x87654321), &m), MM_OK);
	CHECK(m.pa.pa == 0x87654321 && m.size == PAGE_1G, "range 1G pa 0x%" PRIx64, m.pa.pa);
	CHECK_ERR(pt_translate(&pt, V(0xffff800000000000 + lo + len), &m), MM_ERR_NOT_MAPPED);
	CHECK_ERR(pt_translate(&pt, V(0xffff800000000000 + lo - 1), &m), MM_ERR_NOT_MAPPED);
	/* max 2M: no 1G leaves; misaligned input rejected */
	CHECK_ERR(pt_map_range(&pt, V(0xffffc00000000000), paddr(0), 0x40000000, PG_READ, PAGE_2M, counts), MM_OK);
	CHECK_ERR(pt_translate(&pt, V(0xffffc00000000000), &m), MM_OK);
	CHECK(m.size == PAGE_2M, "max_size 2M gave size %d", m.size);
	CHECK_ERR(pt_map_range(&pt, V(0xffffd00000000000), paddr(0x800), 0x1000, PG_READ, PAGE_1G, NULL),
		  MM_ERR_INVALID_ADDRESS);
	pt_destroy(&pt);

	/* OOM in the middle: everything mapped so far is rolled back */
	fresh(&pt);
	free0 = frame_source_free();
	snap(&snap_a, &pt);
	frame_alloc_fail_after(5);
	CHECK_ERR(pt_map_range(&pt, V(0xffff800000000000), paddr(0), 8ULL << 20, PG_READ, PAGE_4K, NULL),
		  MM_ERR_OUT_OF_MEMORY);
	frame_alloc_fail_after(-1);
	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "map_range OOM left mappings behind");
	CHECK(frame_source_free() == free0, "map_range OOM leaked %zu frames", free0 - frame_source_free());
	/* overlapping an existing mapping: AlreadyMapped, and the first part is rolled back */
	CHECK_ERR(pt_map(&pt, V(0xffff800000003000), paddr(0x3000), PAGE_4K, PG_READ), MM_OK);
	snap(&snap_a, &pt);
	CHECK_ERR(pt_map_range(&pt, V(0xffff800000000000), paddr(0), 0x10000, PG_READ, PAGE_4K, NULL),
		  MM_ERR_ALREADY_MAPPED);
	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "map_range AlreadyMapped left mappings behind");
	pt_destroy(&pt);

	/* A user range over a kernel-only path: the first page goes in (and would mark the existing
	 * PML4/PDPT/PD entries US), the second collides. The rollback must leave every table byte as
	 * it was, the US bits of the existing intermediate entries included. */
	fresh(&pt);
	CHECK_ERR(pt_map(&pt, V(0x400000), paddr(0x1000), PAGE_4K, PG_READ), MM_OK);
	free0 = frame_source_free();
	snap(&snap_a, &pt);
	CHECK_ERR(pt_map_range(&pt, V(0x3ff000), paddr(0x2000), 0x2000, PG_READ | PG_USER, PAGE_4K, NULL),
		  MM_ERR_ALREADY_MAPPED);
	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "user map_range AlreadyMapped rollback changed the tables "
	      "(pml4[0] 0x%" PRIx64 " -> 0x%" PRIx64 ")", snap_a.data[0][0], snap_b.data[0][0]);
	CHECK(frame_source_free() == free0, "user map_range rollback leaked %zu frames", free0 - frame_source_free());
	/* the same with the failure being OOM: 0x5ff000 goes into the existing PT (no frame needed),
	 * 0x600000 needs a fresh PT that cannot be had */
	frame_alloc_fail_after(0);
	CHECK_ERR(pt_map_range(&pt, V(0x5ff000), paddr(0x2000), 0x2000, PG_READ | PG_USER, PAGE_4K, NULL),
		  MM_ERR_OUT_OF_MEMORY);
	frame_alloc_fail_after(-1);
	snap(&snap_b, &pt);
	CHECK(snap_equal(&snap_a, &snap_b), "user map_range OOM rollback changed the tables "
	      "(pml4[0] 0x%" PRIx64 " -> 0x%" PRIx64 ")", snap_a.data[0][0], snap_b.data[0][0]);
	CHECK(frame_source_free() == free0, "user map_range OOM leaked %zu frames", free0 - frame_source_free());
	/* and when it succeeds, the path is user (every level US), as pt_map makes it */
	CHECK_ERR(pt_map_range(&pt, V(0x200000), paddr(0x2000), 0x2000, PG_READ | PG_USER, PAGE_4K, NULL), MM_OK);
	struct pt_walk_step st[PT_LEVELS];
	CHECK(pt_walk(&pt, V(0x201000), st) == 4, "walk of the user range");
	for (unsigned i = 0; i < 4; i++)
		CHECK(st[i].entry.raw & PTE_US, "user range: no US on level %u", st[i].level);
	pt_destroy(&pt);
}

/* B6: the window is exactly its runs. A hole between two runs (after kas_init: memory the direct map does
 * not cover) is outside it: physmem_in_window says so, phys_to_virt panics there, and pt_walk stops at a
 * (corrupt) entry pointing into the hole instead of reading it. */
static void test_window_runs(void)
{
	struct page_table pt;
	fresh(&pt);
	CHECK_ERR(pt_map(&pt, V(0x7000), paddr(0x1000), PAGE_4K, PG_READ), MM_OK);
	/* the tables were allocated from the lowest frames; the hole is the upper half of the fake RAM */
	const uint64_t half = (uint64_t)PHYS_FRAMES / 2 * 4096, hole = PHYS_BASE + half;
	const struct physmem_run runs[] = {
		{ .start = PHYS_BASE, .end = hole },
		{ .start = hole + 0x100000, .end = PHYS_BASE + 2 * half, .read_only = true },
	};
	physmem_set_runs(ram, PHYS_BASE, runs, 2);
	CHECK(physmem_in_window(paddr(PHYS_BASE), 4096), "first run");
	CHECK(physmem_in_window(paddr(hole - 4096), 4096), "end of the first run");
	CHECK(!physmem_in_window(paddr(hole - 4096), 8192), "range running into the hole");
	CHECK(!physmem_in_window(paddr(hole), 4096), "hole");
	CHECK(!physmem_in_window(paddr(hole + 0xff000), 4096), "end of the hole");
	CHECK(physmem_in_window(paddr(hole + 0x100000), 4096), "second run");
	CHECK(physmem_in_window(paddr(hole), 0), "len 0 at the end of a run");
	CHECK(!physmem_in_window(paddr(PHYS_BASE + 2 * half), 4096), "beyond the last run");
	CHECK(physmem_window_limit() == PHYS_BASE + 2 * half, "limit 0x%" PRIx64, physmem_window_limit());
	jmp_buf jb;
	host_panic_jmp = &jb;
	if (setjmp(jb) == 0) {
		(void)phys_to_virt(paddr(hole + 0x1000));
		host_panic_jmp = NULL;
		CHECK(false, "phys_to_virt into the hole did not panic");
	} else {
		CHECK(strstr(host_panic_msg, "outside the window") != NULL, "panic message: %s", host_panic_msg);
	}
	/* a corrupt PT entry: the PD entry now points at a "table" in the hole */
	struct pt_walk_step st[PT_LEVELS];
	CHECK(pt_walk(&pt, V(0x7000), st) == 4, "walk before corruption");
	pte_t *pd = phys_to_virt(pte_addr(st[1].entry));   /* the PD table */
	pte_t saved = pd[0];
	pd[0].raw = (hole + 0x2000) | PTE_P | PTE_RW;
	unsigned n = pt_walk(&pt, V(0x7000), st);
	CHECK(n == 3 && st[2].entry.raw == pd[0].raw, "walk through a hole entry read %u levels", n);
	pd[0] = saved;
	physmem_set_window(ram, PHYS_BASE, (uint64_t)PHYS_FRAMES * 4096);
	pt_destroy(&pt);
}

/* ---- model test ---- */

static uint64_t rng;
static uint64_t rnd(void)   /* splitmix64 */
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The universe: NREG regions of 1 GiB at these bases (low, across a PML4 slot, high half). */
#define NREG 4
static const uint64_t region_base[NREG] = {
	0x0000000000000000ULL, 0x0000007fc0000000ULL, 0x0000008000000000ULL, 0xffffffff80000000ULL - 0x40000000ULL,
};
struct mslot { uint64_t pa; pgflags_t flags; bool used; };
static struct {
	struct mslot g1[NREG];
	struct mslot m2[NREG][512];
	struct mslot k4[NREG][512 * 512];
	uint32_t cnt2[NREG][512];   /* 4K mappings inside each 2M slot */
	uint32_t cnt1[NREG];        /* mappings of any size inside each region */
	size_t total;
} model;

static struct mslot *model_slot(unsigned r, uint64_t off, enum page_size s)
{
	if (s == PAGE_1G) return &model.g1[r];
	if (s == PAGE_2M) return &model.m2[r][off >> 21];
	return &model.k4[r][off >> 12];
}

/* model_find: the mapping containing region r offset off (NULL if none), its size in *s. */
static struct mslot *model_find(unsigned r, uint64_t off, enum page_size *s)
{
	if (model.g1[r].used) { *s = PAGE_1G; return &model.g1[r]; }
	if (model.m2[r][off >> 21].used) { *s = PAGE_2M; return &model.m2[r][off >> 21]; }
	if (model.k4[r][off >> 12].used) { *s = PAGE_4K; return &model.k4[r][off >> 12]; }
	return NULL;
}

static bool model_overlaps(unsigned r, uint64_t off, enum page_size s)
{
	enum page_size fs;
	if (s == PAGE_1G) return model.cnt1[r] != 0;
	if (s == PAGE_2M) return model.g1[r].used || model.m2[r][off >> 21].used || model.cnt2[r][off >> 21] != 0;
	return model_find(r, off, &fs) != NULL;
}

static void model_set(unsigned r, uint64_t off, enum page_size s, uint64_t pa, pgflags_t f, bool used)
{
	struct mslot *m = model_slot(r, off, s);
	int d = used ? 1 : -1;
	m->pa = pa; m->flags = f; m->used = used;
	model.cnt1[r] += d;
	model.total += d;
	if (s == PAGE_4K) model.cnt2[r][off >> 21] += d;
}

static pgflags_t random_flags(void)
{
	static const pgflags_t choices[] = {
		PG_READ, PG_READ | PG_WRITE, PG_READ | PG_EXEC, PG_READ | PG_USER, PG_READ | PG_WRITE | PG_USER,
		PG_READ | PG_GLOBAL, PG_READ | PG_WRITE | PG_GLOBAL | PG_NOCACHE, PG_READ | PG_WRITETHROUGH,
		PG_WRITE /* invalid */, PG_READ | PG_USER | PG_GLOBAL /* invalid */,
	};
	return choices[rnd() % (sizeof choices / sizeof choices[0])];
}

static bool flags_valid(pgflags_t f) { uint64_t hw; return pte_flags_to_hw(f, PAGE_4K, &hw) == MM_OK; }

static enum page_size random_size(void)
{
	unsigned x = (unsigned)(rnd() % 100);
	return x < 85 ? PAGE_4K : x < 98 ? PAGE_2M : PAGE_1G;
}

/* random_off: an offset in a region aligned to s; clustered so that collisions happen. */
static uint64_t random_off(enum page_size s)
{
	uint64_t span = page_size_bytes(s);
	uint64_t off = (rnd() % 3 == 0) ? (rnd() % 0x40000000ULL) : (rnd() % 0x1000000ULL) + ((rnd() % 4) << 28);
	return off & ~(span - 1);
}

static void model_test(uint64_t seed, uint64_t ops)
{
	struct page_table pt;
	fresh(&pt);
	memset(&model, 0, sizeof model);
	rng = seed;
	const size_t free0 = frame_source_free();
	uint64_t n_ok = 0, n_err = 0, n_oom = 0, snaps = 0;
	char why[160];

	for (uint64_t i = 0; i < ops; i++) {
		unsigned r = (unsigned)(rnd() % NREG);
		unsigned op = (unsigned)(rnd() % 100);
		enum page_size s = random_size();
		uint64_t off = random_off(s);
		vaddr_t va = V(region_base[r] + off);
		struct pt_mapping m;
		enum page_size fs;
		struct mslot *cur;
		mm_err_t got, want;
		bool check_unchanged = (i < 20000) || (i % 64 == 0);
		if (check_unchanged)
			snap(&snap_a, &pt);
		size_t free_before = frame_source_free();

		if (op < 45) {                       /* map */
			pgflags_t f = random_flags();
			uint64_t pa = (rnd() & 0xffffffffffULL) & ~(page_size_bytes(s) - 1);
			bool inject = rnd() % 16 == 0;
			if (inject) frame_alloc_fail_after((long)(rnd() % 3));
			want = !flags_valid(f) ? MM_ERR_INVALID_FLAGS
			     : model_overlaps(r, off, s) ? MM_ERR_ALREADY_MAPPED : MM_OK;
			got = pt_map(&pt, va, paddr(pa), s, f);
			if (inject) frame_alloc_fail_after(-1);
			if (inject && want == MM_OK && got == MM_ERR_OUT_OF_MEMORY) {
				want = got;
				n_oom++;
			}
			CHECK(got == want, "op %" PRIu64 " map va 0x%" PRIx64 " size %d flags 0x%x: got %s want %s",
			      i, va.va, s, f, mm_strerror(got), mm_strerror(want));
			if (got == MM_OK)
				model_set(r, off, s, pa, f, true);
		} else if (op < 75) {                /* unmap: usually something that exists */
			if (rnd() % 4 != 0 && (cur = model_find(r, off, &fs)) != NULL) {
				s = fs;
				off &= ~(page_size_bytes(fs) - 1);
				va = V(region_base[r] + off);
			}
			cur = model_find(r, off, &fs);
			want = cur == NULL ? MM_ERR_NOT_MAPPED
			     : (off & (page_size_bytes(fs) - 1)) ? MM_ERR_INVALID_ADDRESS : MM_OK;
			got = pt_unmap(&pt, va, &m);
			CHECK(got == want, "op %" PRIu64 " unmap va 0x%" PRIx64 ": got %s want %s",
			      i, va.va, mm_strerror(got), mm_strerror(want));
			if (got == MM_OK && want == MM_OK) {
				CHECK(m.base.pa == cur->pa && m.flags == cur->flags && m.size == fs,
				      "op %" PRIu64 " unmap returned pa 0x%" PRIx64 " flags 0x%x", i, m.base.pa, m.flags);
				model_set(r, off, fs, 0, 0, false);
			}
		} else if (op < 85) {                /* protect */
			pgflags_t f = random_flags();
			if ((cur = model_find(r, off, &fs)) != NULL && rnd() % 4 != 0)
				off &= ~(page_size_bytes(fs) - 1), va = V(region_base[r] + off);
			cur = model_find(r, off, &fs);
			want = cur == NULL ? MM_ERR_NOT_MAPPED
			     : (off & (page_size_bytes(fs) - 1)) ? MM_ERR_INVALID_ADDRESS
			     : !flags_valid(f) ? MM_ERR_INVALID_FLAGS : MM_OK;
			got = pt_protect(&pt, va, f);
			CHECK(got == want, "op %" PRIu64 " protect va 0x%" PRIx64 ": got %s want %s",
			      i, va.va, mm_strerror(got), mm_strerror(want));
			if (got == MM_OK && want == MM_OK)
				cur->flags = f;
		} else if (op < 88) {                /* split */
			cur = model_find(r, off, &fs);
			want = (cur == NULL || fs == PAGE_4K) ? MM_ERR_NOT_MAPPED : MM_OK;
			got = pt_split(&pt, va);
			CHECK(got == want, "op %" PRIu64 " split va 0x%" PRIx64 ": got %s want %s",
			      i, va.va, mm_strerror(got), mm_strerror(want));
			if (got == MM_OK && want == MM_OK) {
				uint64_t span = page_size_bytes(fs), base = off & ~(span - 1), pa = cur->pa;
				pgflags_t f = cur->flags;
				enum page_size child = (enum page_size)(fs - 1);
				model_set(r, base, fs, 0, 0, false);
				for (unsigned k = 0; k < 512; k++)
					model_set(r, base + k * page_size_bytes(child), child,
						  pa + k * page_size_bytes(child), f, true);
			}
		} else {                             /* translate at a random byte */
			uint64_t boff = (off + (rnd() % page_size_bytes(s))) & 0x3fffffffULL;
			cur = model_find(r, boff, &fs);
			got = pt_translate(&pt, V(region_base[r] + boff), &m);
			want = cur ? MM_OK : MM_ERR_NOT_MAPPED;
			CHECK(got == want, "op %" PRIu64 " translate: got %s want %s", i, mm_strerror(got), mm_strerror(want));
			if (got == MM_OK && cur) {
				uint64_t span = page_size_bytes(fs);
				CHECK(m.pa.pa == cur->pa + (boff & (span - 1)) && m.flags == cur->flags && m.size == fs,
				      "op %" PRIu64 " translate 0x%" PRIx64 ": pa 0x%" PRIx64 " want 0x%" PRIx64,
				      i, region_base[r] + boff, m.pa.pa, cur->pa + (boff & (span - 1)));
			}
			continue;
		}
		if (got != MM_OK) {
			n_err++;
			CHECK(frame_source_free() == free_before, "op %" PRIu64 ": failed call leaked frames", i);
			if (check_unchanged) {
				snaps++;
				snap(&snap_b, &pt);
				CHECK(snap_equal(&snap_a, &snap_b), "op %" PRIu64 ": failed call (%s) changed the tables",
				      i, mm_strerror(got));
			}
		} else {
			n_ok++;
		}
		if (i % 4096 == 0)
			CHECK(pt_check(&pt, why, sizeof why), "op %" PRIu64 ": %s", i, why);
	}
	CHECK(pt_check(&pt, why, sizeof why), "end: %s", why);

	/* tear down through the walker: every table must come back */
	for (unsigned r = 0; r < NREG; r++) {
		if (model.g1[r].used) { CHECK_ERR(pt_unmap(&pt, V(region_base[r]), NULL), MM_OK); model_set(r, 0, PAGE_1G, 0, 0, false); }
		for (unsigned j = 0; j < 512; j++)
			if (model.m2[r][j].used) {
				CHECK_ERR(pt_unmap(&pt, V(region_base[r] + ((uint64_t)j << 21)), NULL), MM_OK);
				model_set(r, (uint64_t)j << 21, PAGE_2M, 0, 0, false);
			}
		for (unsigned j = 0; j < 512 * 512; j++)
			if (model.k4[r][j].used) {
				CHECK_ERR(pt_unmap(&pt, V(region_base[r] + ((uint64_t)j << 12)), NULL), MM_OK);
				model_set(r, (uint64_t)j << 12, PAGE_4K, 0, 0, false);
			}
	}
	CHECK(pt_count_tables(&pt) == 1, "after teardown %zu tables", pt_count_tables(&pt));
	CHECK(frame_source_free() == free0, "model test leaked %zu frames", free0 - frame_source_free());
	printf("model: seed %" PRIu64 " ops %" PRIu64 ": %" PRIu64 " ok, %" PRIu64 " errors (%" PRIu64
	       " injected OOM), %" PRIu64 " snapshot comparisons\n", seed, ops, n_ok, n_err, n_oom, snaps);
	pt_destroy(&pt);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, ops = 1000000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--ops")) ops = strtoull(argv[i + 1], NULL, 0);
	}
	test_flags();
	test_map_translate();
	test_errors();
	test_protect_split();
	test_map_range();
	test_window_runs();
	model_test(seed, ops);
	printf("test_paging: %u checks, %u failures (replay: --seed %" PRIu64 " --ops %" PRIu64 ")\n",
	       checks, failures, seed, ops);
	return failures ? 1 : 0;
}
