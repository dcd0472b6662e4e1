/*
 * test_pmm.c - host unit tests of the pmm node, the bitmap and buddy allocators and the frame API.
 *
 * Every test runs against both allocator kinds on private nodes built over a fake map; the frame_* tests
 * install a private node as the global pmm. Memory for fills is a malloc'd array set as the physmem window.
 */
#include <stdlib.h>
#include "ctest.h"
#include "mm/pmm.h"
#include "mm/physmem.h"
#include "mm/memmap.h"
#include "boot_info.h"

CTEST_DEFINE_GLOBALS;

/* A node plus its metadata, over [base, base + n) frames, with the given ranges FREE and the rest RESERVED. */
struct fixture {
	struct pmm_node node;
	void *meta;
};

static void fixture_init(struct fixture *f, enum pmm_kind kind, uint64_t base, uint64_t n)
{
	f->meta = malloc(pmm_node_meta_bytes(kind, base, n) + 1);
	pmm_node_init(&f->node, 0, kind, base, n, f->meta);
}

static void fixture_fini(struct fixture *f)
{
	free(f->meta);
}

static const enum pmm_kind kinds[] = { PMM_BITMAP, PMM_BUDDY };

/* Allocates single frames until OOM; returns how many, checking each is unique and was FREE. */
static uint64_t drain(struct pmm_node *n, uint64_t *pfns, uint64_t cap)
{
	uint64_t got = 0;
	pfn_t p;
	while (pmm_node_alloc(n, 1, 1, FRAME_ALLOCATED, &p) == MM_OK) {
		CHECK(got < cap);
		if (got >= cap)
			break;
		CHECK(pmm_node_state(n, p) == FRAME_ALLOCATED);
		pfns[got++] = p.n;
	}
	return got;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Every usable frame is handed out once and only once, then OOM, then recovery after freeing. */
static void test_exhaust_and_recover(enum pmm_kind kind)
{
	struct fixture f;
	fixture_init(&f, kind, 0x100, 4096);
	pmm_node_set_state(&f.node, 0x100, 4096, FRAME_RESERVED);
	pmm_node_set_state(&f.node, 0x105, 1000, FRAME_FREE);    /* unaligned starts and ends */
	pmm_node_set_state(&f.node, 0x800, 1500, FRAME_FREE);
	pmm_node_set_state(&f.node, 0x900, 3, FRAME_KERNEL);     /* a hole in the middle */
	pmm_node_check(&f.node);
	uint64_t usable = 1000 + 1500 - 3;
	struct pmm_stats st;
	pmm_node_stats(&f.node, &st);
	CHECK_EQ(st.free, usable);
	CHECK_EQ(st.total, 4096);
	uint64_t *pfns = malloc(8192 * sizeof *pfns);
	uint64_t got = drain(&f.node, pfns, 8192);
	CHECK_EQ(got, usable);
	qsort(pfns, got, sizeof *pfns, cmp_u64);
	for (uint64_t i = 1; i < got; i++)
		CHECK(pfns[i] != pfns[i - 1]);
	for (uint64_t i = 0; i < got; i++)
		CHECK((pfns[i] >= 0x105 && pfns[i] < 0x105 + 1000) ||
		      (pfns[i] >= 0x800 && pfns[i] < 0x800 + 1500 && !(pfns[i] >= 0x900 && pfns[i] < 0x903)));
	pfn_t p;
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	/* Recovery: free one, get exactly that one back. */
	pmm_node_free(&f.node, pfn(pfns[7]), 1, FRAME_ALLOCATED, 0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n, pfns[7]);
	for (uint64_t i = 0; i < got; i++)
		pmm_node_free(&f.node, pfn(pfns[i]), 1, FRAME_ALLOCATED, 0);
	pmm_node_check(&f.node);
	pmm_node_stats(&f.node, &st);
	CHECK_EQ(st.free, usable);
	CHECK_EQ(st.count[FRAME_ALLOCATED], 0);
	free(pfns);
	fixture_fini(&f);
}

/* Double free, freeing reserved/kernel frames, the wrong kind and a range of mixed kinds all panic with names. */
static void test_ownership_panics(enum pmm_kind kind)
{
	struct fixture f;
	fixture_init(&f, kind, 0, 256);
	pmm_node_set_state(&f.node, 0, 16, FRAME_RESERVED);
	pmm_node_set_state(&f.node, 16, 16, FRAME_KERNEL);
	pmm_node_set_state(&f.node, 32, 200, FRAME_FREE);
	pfn_t a, b;
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &a), MM_OK);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_PAGETABLE, &b), MM_OK);
	pmm_node_free(&f.node, a, 1, FRAME_ALLOCATED, 0x1234);
	char want[64];
	snprintf(want, sizeof want, "pfn 0x%lx is FREE (double free?)", a.n);
	EXPECT_PANIC(pmm_node_free(&f.node, a, 1, FRAME_STATE_COUNT, 0x1234), want);
	EXPECT_PANIC(pmm_node_free(&f.node, a, 1, FRAME_STATE_COUNT, 0x1234), "called from 0x1234");
	EXPECT_PANIC(pmm_node_free(&f.node, pfn(3), 1, FRAME_STATE_COUNT, 0), "pfn 0x3 is RESERVED");
	EXPECT_PANIC(pmm_node_free(&f.node, pfn(20), 1, FRAME_STATE_COUNT, 0), "pfn 0x14 is KERNEL");
	EXPECT_PANIC(pmm_node_free(&f.node, b, 1, FRAME_HEAP, 0), "is PAGETABLE (wrong kind), expected HEAP");
	EXPECT_PANIC(pmm_node_free(&f.node, pfn(300), 1, FRAME_STATE_COUNT, 0), "not in node");
	EXPECT_PANIC(pmm_node_transfer(&f.node, b, FRAME_ALLOCATED, FRAME_HEAP, 0), "is PAGETABLE, expected ALLOCATED");
	EXPECT_PANIC(pmm_node_transfer(&f.node, b, FRAME_PAGETABLE, FRAME_RESERVED, 0), "not between owned kinds");
	/* A mixed range: b is PAGETABLE, the next allocation ALLOCATED. */
	pfn_t c;
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 2, FRAME_ALLOCATED, &c), MM_OK);
	pmm_node_transfer(&f.node, pfn(c.n + 1), FRAME_ALLOCATED, FRAME_HEAP, 0);
	EXPECT_PANIC(pmm_node_free(&f.node, c, 2, FRAME_STATE_COUNT, 0), "mixed kinds");
	/* Nothing changed by the failed frees. */
	pmm_node_check(&f.node);
	pmm_node_transfer(&f.node, b, FRAME_PAGETABLE, FRAME_ALLOCATED, 0);
	pmm_node_free(&f.node, b, 1, FRAME_ALLOCATED, 0);
	pmm_node_free(&f.node, c, 1, FRAME_ALLOCATED, 0);
	pmm_node_free(&f.node, pfn(c.n + 1), 1, FRAME_HEAP, 0);
	struct pmm_stats st;
	pmm_node_stats(&f.node, &st);
	CHECK_EQ(st.free, 200);
	CHECK_EQ(pmm_node_alloc(&f.node, 0, 1, FRAME_ALLOCATED, &c), MM_ERR_INVALID_FLAGS);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 3, FRAME_ALLOCATED, &c), MM_ERR_INVALID_FLAGS);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_RESERVED, &c), MM_ERR_INVALID_FLAGS);
	pmm_node_check(&f.node);
	fixture_fini(&f);
}

/* Contiguous aligned runs: alignment is of the absolute pfn, runs are free, wholly inside usable memory. */
static void test_contig_alignment(enum pmm_kind kind)
{
	struct fixture f;
	uint64_t base = 0x12345;   /* deliberately unaligned node base */
	fixture_init(&f, kind, base, 8192);
	pmm_node_set_state(&f.node, base, 8192, FRAME_FREE);
	pfn_t p;
	uint64_t aligns[] = { 1, 2, 8, 64, 512, 1024 };
	for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
		for (uint64_t count = 1; count <= 1024; count = count * 3 + 1) {
			mm_err_t e = pmm_node_alloc(&f.node, count, aligns[i], FRAME_ALLOCATED, &p);
			CHECK_EQ(e, MM_OK);
			if (e)
				continue;
			CHECK_EQ(p.n % aligns[i], 0);
			for (uint64_t j = 0; j < count; j++)
				CHECK(pmm_node_state(&f.node, pfn(p.n + j)) == FRAME_ALLOCATED);
			pmm_node_free(&f.node, p, count, FRAME_ALLOCATED, 0);
		}
	}
	/* 2 MiB = 512 frames aligned 512: the common huge-page request. */
	CHECK_EQ(pmm_node_alloc(&f.node, 512, 512, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n % 512, 0);
	/* A run that cannot exist: more frames than free. */
	CHECK_EQ(pmm_node_alloc(&f.node, 8192, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	pmm_node_check(&f.node);
	fixture_fini(&f);
}

/* Frames around the 4 GiB boundary (pfn 0x100000) and a node of one frame and one with no usable frame. */
static void test_edges(enum pmm_kind kind)
{
	struct fixture f;
	fixture_init(&f, kind, 0xFFFF0, 32);
	pmm_node_set_state(&f.node, 0xFFFF0, 32, FRAME_FREE);
	pfn_t p;
	CHECK_EQ(pmm_node_alloc(&f.node, 32, 32, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY); /* 0xFFFF0 is not 32-aligned */
	CHECK_EQ(pmm_node_alloc(&f.node, 32, 16, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n, 0xFFFF0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	pmm_node_free(&f.node, pfn(0xFFFF0), 32, FRAME_ALLOCATED, 0);
	/* 16 frames crossing 4 GiB, aligned 16: must be [0xFFFF0,..) or [0x100000,..). */
	CHECK_EQ(pmm_node_alloc(&f.node, 16, 16, FRAME_ALLOCATED, &p), MM_OK);
	CHECK(p.n == 0xFFFF0 || p.n == 0x100000);
	CHECK_EQ(pmm_node_alloc(&f.node, 16, 16, FRAME_ALLOCATED, &p), MM_OK);
	CHECK(p.n == 0xFFFF0 || p.n == 0x100000);
	pmm_node_check(&f.node);
	fixture_fini(&f);

	fixture_init(&f, kind, 0x100000, 1);
	pmm_node_set_state(&f.node, 0x100000, 1, FRAME_FREE);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n, 0x100000);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	pmm_node_free(&f.node, pfn(0x100000), 1, FRAME_ALLOCATED, 0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_OK);
	fixture_fini(&f);

	fixture_init(&f, kind, 0, 64);   /* all ABSENT: empty map */
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	struct pmm_stats st;
	pmm_node_stats(&f.node, &st);
	CHECK_EQ(st.total, 0);
	CHECK_EQ(st.free, 0);
	pmm_node_check(&f.node);
	fixture_fini(&f);
}

/* Fragmentation: a checkerboard of used frames leaves no 2-frame run; freeing the rest restores big runs. */
static void test_checkerboard(enum pmm_kind kind)
{
	struct fixture f;
	fixture_init(&f, kind, 0x400, 2048);
	pmm_node_set_state(&f.node, 0x400, 2048, FRAME_FREE);
	uint64_t *pfns = malloc(2048 * sizeof *pfns);
	CHECK_EQ(drain(&f.node, pfns, 2048), 2048);
	for (uint64_t i = 0; i < 2048; i++)
		if (pfns[i] % 2 == 0)
			pmm_node_free(&f.node, pfn(pfns[i]), 1, FRAME_ALLOCATED, 0);
	pfn_t p;
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 2, FRAME_ALLOCATED, &p), MM_OK);   /* even frames are free */
	CHECK_EQ(p.n % 2, 0);
	pmm_node_free(&f.node, p, 1, FRAME_ALLOCATED, 0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 4, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n % 4, 0);
	pmm_node_free(&f.node, p, 1, FRAME_ALLOCATED, 0);
	for (uint64_t i = 0; i < 2048; i++)
		if (pfns[i] % 2 == 1)
			pmm_node_free(&f.node, pfn(pfns[i]), 1, FRAME_ALLOCATED, 0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1024, 1024, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(pmm_node_alloc(&f.node, 1024, 1024, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_ERR_OUT_OF_MEMORY);
	pmm_node_check(&f.node);
	free(pfns);
	fixture_fini(&f);
}

/* pmm_node_from_map: states per kind, usable RAM beyond the window held back, metadata placement, reclaim. */
static void test_from_map(enum pmm_kind kind)
{
	const uint64_t MiB = 1 << 20;
	uint8_t *ram = malloc(48 * MiB);
	physmem_set_window(ram, 0, 16 * MiB);   /* the "boot direct map" reaches 16 MiB only */
	struct boot_mem_desc descs[] = {
		{ .type = EFI_CONVENTIONAL_MEMORY, .phys_start = 0, .num_pages = 0x9f },
		{ .type = EFI_CONVENTIONAL_MEMORY, .phys_start = 1 * MiB, .num_pages = 31 * 256 },
		{ .type = EFI_LOADER_DATA, .phys_start = 32 * MiB, .num_pages = 256 },
		{ .type = EFI_ACPI_RECLAIM_MEMORY, .phys_start = 33 * MiB, .num_pages = 256 },
		{ .type = EFI_BOOT_SERVICES_DATA, .phys_start = 34 * MiB, .num_pages = 6 * 256 },
		{ .type = EFI_MEMORY_MAPPED_IO, .phys_start = 0xfec00000, .num_pages = 1 },
		{ .type = EFI_RUNTIME_SERVICES_DATA, .phys_start = 0x100000000ULL, .num_pages = 16 },
	};
	struct memmap_carve carves[] = {
		{ 1 * MiB, 64 * 1024, MEMMAP_KERNEL },         /* the kernel sits where the metadata would go */
		{ 32 * MiB, 16 * 1024, MEMMAP_BOOT_TABLES },
		{ 5 * MiB, 100, MEMMAP_RSDP },
		{ 0, MiB, MEMMAP_LOW },
	};
	struct memmap_range ranges[32];
	struct memmap m = { .ranges = ranges, .cap = 32 };
	CHECK_EQ(memmap_build(descs, 7, sizeof descs[0], carves, 4, &m), MM_OK);
	struct pmm_node n;
	struct pmm_map_layout lay;
	physmem_set_window(ram, 0, MiB + 4096);   /* too small for the metadata: an error, not a panic */
	CHECK_EQ(pmm_node_from_map(&n, kind, &m, &lay), MM_ERR_OUT_OF_MEMORY);
	physmem_set_window(ram, 0, 16 * MiB);
	CHECK_EQ(pmm_node_from_map(&n, kind, &m, &lay), MM_OK);
	CHECK_EQ(lay.span, 40 * MiB / 4096);                       /* ends with the last usable RAM */
	CHECK_EQ(lay.meta_pfn, (MiB + 64 * 1024) / 4096);          /* first usable run above 1 MiB, after the kernel */
	CHECK(pmm_node_state(&n, pfn(0)) == FRAME_RESERVED);       /* first MiB */
	CHECK(pmm_node_state(&n, pfn(0xa0)) == FRAME_ABSENT);      /* hole */
	CHECK(pmm_node_state(&n, pfn(0x100)) == FRAME_KERNEL);
	CHECK(pmm_node_state(&n, pfn(lay.meta_pfn)) == FRAME_KERNEL);
	CHECK(pmm_node_state(&n, pfn(lay.meta_pfn + lay.meta_pages)) == FRAME_FREE);
	CHECK(pmm_node_state(&n, pfn(5 * 256)) == FRAME_RESERVED);  /* RSDP page */
	CHECK(pmm_node_state(&n, pfn(16 * 256 - 1)) == FRAME_FREE);
	CHECK(pmm_node_state(&n, pfn(16 * 256)) == FRAME_LOADER);   /* beyond the window: held back */
	CHECK(pmm_node_state(&n, pfn(32 * 256)) == FRAME_LOADER);   /* boot tables */
	CHECK(pmm_node_state(&n, pfn(32 * 256 + 8)) == FRAME_LOADER);
	CHECK(pmm_node_state(&n, pfn(33 * 256)) == FRAME_RESERVED); /* ACPI */
	CHECK(pmm_node_state(&n, pfn(35 * 256)) == FRAME_LOADER);
	CHECK(pmm_node_state(&n, pfn(0x100000)) == FRAME_ABSENT);   /* past the span */
	pmm_node_check(&n);
	struct pmm_stats st;
	pmm_node_stats(&n, &st);
	uint64_t free_before = st.free;
	CHECK_EQ(free_before, 15 * 256 - 16 - lay.meta_pages - 1);
	/* Nothing handed out lies beyond the window before reclaim. */
	pfn_t p;
	while (pmm_node_alloc(&n, 1, 1, FRAME_ALLOCATED, &p) == MM_OK)
		CHECK(p.n < 16 * 256);
	pmm_node_stats(&n, &st);
	CHECK_EQ(st.count[FRAME_ALLOCATED], free_before);
	EXPECT_PANIC(pmm_node_reclaim_loader(&n), "still outside the direct map");
	physmem_set_window(ram, 0, 48 * MiB);   /* the switch: all RAM mapped */
	CHECK_EQ(pmm_node_reclaim_loader(&n), 16 * 256 + 256 + 6 * 256);
	pmm_node_stats(&n, &st);
	CHECK_EQ(st.free, 16 * 256 + 256 + 6 * 256);
	CHECK_EQ(st.count[FRAME_LOADER], 0);
	pmm_node_check(&n);
	free(ram);
	physmem_set_window(NULL, 0, 0);
}

/* Buddy: freeing everything coalesces back to the start state (same free blocks per order). */
static void test_buddy_coalesce(void)
{
	struct fixture f;
	fixture_init(&f, PMM_BUDDY, 0, 5000);
	pmm_node_set_state(&f.node, 0, 5000, FRAME_FREE);
	struct pmm_stats before, after;
	pmm_node_stats(&f.node, &before);
	CHECK_EQ(before.free_blocks[BUDDY_MAX_ORDER], 4);   /* 4 x 1024 + 512 + 256 + 128 + 8 */
	CHECK_EQ(before.free_blocks[9], 1);
	CHECK_EQ(before.free_blocks[3], 1);
	uint64_t *pfns = malloc(5000 * sizeof *pfns);
	uint64_t got = drain(&f.node, pfns, 5000);
	CHECK_EQ(got, 5000);
	/* Free in a scrambled order. */
	for (uint64_t i = 0; i < got; i++) {
		uint64_t j = (i * 2654435761u) % got;
		uint64_t t = pfns[i]; pfns[i] = pfns[j]; pfns[j] = t;
	}
	for (uint64_t i = 0; i < got; i++)
		pmm_node_free(&f.node, pfn(pfns[i]), 1, FRAME_ALLOCATED, 0);
	pmm_node_stats(&f.node, &after);
	CHECK_EQ(after.hot, BUDDY_HOT);   /* the last single frees sit in the hot cache */
	pmm_node_check(&f.node);
	pmm_node_drain(&f.node);
	pmm_node_stats(&f.node, &after);
	CHECK_EQ(after.hot, 0);
	for (int k = 0; k <= BUDDY_MAX_ORDER; k++)
		CHECK_EQ(after.free_blocks[k], before.free_blocks[k]);
	pmm_node_check(&f.node);
	free(pfns);
	fixture_fini(&f);

	/* A run that needs the hot frames merged back: 128 frames freed singly, then all 128 at once. */
	fixture_init(&f, PMM_BUDDY, 0x800, 128);
	pmm_node_set_state(&f.node, 0x800, 128, FRAME_FREE);
	uint64_t p128[128];
	CHECK_EQ(drain(&f.node, p128, 128), 128);
	for (int i = 0; i < 128; i++)
		pmm_node_free(&f.node, pfn(p128[i]), 1, FRAME_ALLOCATED, 0);
	pmm_node_stats(&f.node, &after);
	CHECK_EQ(after.hot, BUDDY_HOT);
	pfn_t p;
	CHECK_EQ(pmm_node_alloc(&f.node, 128, 128, FRAME_ALLOCATED, &p), MM_OK);
	CHECK_EQ(p.n, 0x800);
	pmm_node_check(&f.node);
	fixture_fini(&f);
}

/* Debug fill: fresh frames read 0xa5, freed frames 0x6b, through the physmem window. */
static void test_fill_patterns(enum pmm_kind kind)
{
	uint64_t base = 0x40;
	uint8_t *ram = malloc(16 * PAGE_SIZE);
	memset(ram, 0, 16 * PAGE_SIZE);
	physmem_set_window(ram, base * PAGE_SIZE, 16 * PAGE_SIZE);
	struct fixture f;
	fixture_init(&f, kind, base, 16);
	f.node.debug_fill = true;
	pmm_node_set_state(&f.node, base, 16, FRAME_FREE);
	pfn_t p;
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 1, FRAME_ALLOCATED, &p), MM_OK);
	uint8_t *v = phys_to_virt(pfn_to_paddr(p));
	CHECK(v[0] == 0xa5 && v[2 * PAGE_SIZE - 1] == 0xa5);
	v[100] = 1;
	pmm_node_free(&f.node, p, 2, FRAME_ALLOCATED, 0);
	CHECK(v[0] == 0x6b && v[100] == 0x6b && v[2 * PAGE_SIZE - 1] == 0x6b);
	/* A write after free is caught when the frame is handed out again. */
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &p), MM_OK);
	uint8_t *w = phys_to_virt(pfn_to_paddr(p));
	pmm_node_free(&f.node, p, 1, FRAME_ALLOCATED, 0);
	pfn_t again;
	CHECK_EQ(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &again), MM_OK);   /* clean reuse: no panic */
	CHECK_EQ(again.n, p.n);
	CHECK(w[5] == 0xa5);
	pmm_node_free(&f.node, again, 1, FRAME_ALLOCATED, 0);
	w[4095] = 0;   /* the bug */
	char want[96];
	snprintf(want, sizeof want, "pfn 0x%lx was written after it was freed (use after free?): word at +0xff8", p.n);
	EXPECT_PANIC(pmm_node_alloc(&f.node, 1, 1, FRAME_ALLOCATED, &again), want);
	EXPECT_PANIC(phys_to_virt(paddr((base + 16) * PAGE_SIZE)), "outside the window");
	EXPECT_PANIC(phys_to_virt(paddr(0)), "test_pmm.c");
	CHECK(virt_to_phys_direct(ram + 5).pa == base * PAGE_SIZE + 5);
	fixture_fini(&f);
	free(ram);
	physmem_set_window(NULL, 0, 0);
}

/* Use after free in a long run and in a mixed run: the poisoned frames are exactly the ones checked. Runs over
 * 512 frames take their poisoned bits a chunk per lock hold; a write to a frame past the first chunk is caught,
 * frames that were never poisoned (boot-free, set_state) are not checked whatever they hold, and the node lock
 * is free when the use-after-free panic fires (contents are read after the unlock). */
static void test_poison_runs(enum pmm_kind kind)
{
	uint64_t base = 0x400, n = 2048;
	uint8_t *ram = malloc(n * PAGE_SIZE);
	memset(ram, 0x12, n * PAGE_SIZE);   /* never-freed frames hold junk, not the freed pattern */
	physmem_set_window(ram, base * PAGE_SIZE, n * PAGE_SIZE);
	struct fixture f;
	fixture_init(&f, kind, base, n);
	f.node.debug_fill = true;
	pmm_node_set_state(&f.node, base, n, FRAME_FREE);
	pfn_t p, q;
	CHECK_EQ(pmm_node_alloc(&f.node, 1100, 1, FRAME_ALLOCATED, &p), MM_OK);   /* junk, no bits: no panic */
	pmm_node_free(&f.node, p, 1100, FRAME_ALLOCATED, 0);
	CHECK_EQ(pmm_node_alloc(&f.node, 1100, 1, FRAME_ALLOCATED, &q), MM_OK);   /* clean reuse of three chunks */
	CHECK_EQ(q.n, p.n);
	CHECK(!f.node.lock.held);
	pmm_node_free(&f.node, q, 1100, FRAME_ALLOCATED, 0);
	uint8_t *late = phys_to_virt(pfn_to_paddr(pfn(p.n + 700)));
	late[8] = 0x00;   /* the bug, in the second chunk */
	char want[112];
	snprintf(want, sizeof want, "frame_alloc: pfn 0x%lx was written after it was freed (use after free?): "
		 "word at +0x8 is 0x6b6b6b6b6b6b6b00", p.n + 700);
	EXPECT_PANIC(pmm_node_alloc(&f.node, 1100, 1, FRAME_ALLOCATED, &q), want);
	CHECK(!f.node.lock.held);
	CHECK(pmm_node_state(&f.node, pfn(p.n + 700)) == FRAME_ALLOCATED);   /* the run was the caller's */
	pmm_node_check(&f.node);
	pmm_node_set_state(&f.node, base, n, FRAME_FREE);   /* back to all free, no bits, contents as they are */

	/* Mixed run: frame a is not poisoned (set FREE by set_state, holding junk), a + 1 is (freed). */
	pfn_t a;
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 2, FRAME_ALLOCATED, &a), MM_OK);
	pmm_node_set_state(&f.node, base, n, FRAME_RESERVED);
	pmm_node_set_state(&f.node, a.n, 2, FRAME_ALLOCATED);
	pmm_node_free(&f.node, pfn(a.n + 1), 1, FRAME_ALLOCATED, 0);   /* a + 1 poisoned */
	pmm_node_set_state(&f.node, a.n, 1, FRAME_FREE);               /* a free, not poisoned */
	uint8_t *va = phys_to_virt(pfn_to_paddr(a));
	va[0] = 0x77;
	CHECK_EQ(pmm_node_alloc(&f.node, 2, 2, FRAME_ALLOCATED, &q), MM_OK);   /* a's junk is not checked */
	CHECK_EQ(q.n, a.n);
	pmm_node_free(&f.node, q, 2, FRAME_ALLOCATED, 0);                      /* both poisoned now */
	va[PAGE_SIZE + 16] = 0x01;                                              /* write after free to a + 1 */
	snprintf(want, sizeof want, "pfn 0x%lx was written after it was freed (use after free?): word at +0x10",
		 a.n + 1);
	EXPECT_PANIC(pmm_node_alloc(&f.node, 2, 2, FRAME_ALLOCATED, &q), want);
	CHECK(!f.node.lock.held);
	pmm_node_check(&f.node);
	fixture_fini(&f);
	free(ram);
	physmem_set_window(NULL, 0, 0);
}

/* The global frame_* API over a private node: handles, poisoning, transfer, fault injection. */
static uint64_t fake_owner_frames;
static uint64_t fake_owner(void) { return fake_owner_frames; }

static void test_frame_api(enum pmm_kind kind)
{
	struct fixture f;
	fixture_init(&f, kind, 0x1000, 128);
	pmm_node_set_state(&f.node, 0x1000, 128, FRAME_FREE);
	pmm_set_global(&f.node, 1);
	struct frame a, b;
	CHECK_EQ(frame_alloc(&a, FRAME_ALLOCATED), MM_OK);
	CHECK(!frame_is_none(a));
	CHECK(frame_state_of(a.pfn) == FRAME_ALLOCATED);
	CHECK_EQ(pmm_leaked(), 1);
	frame_transfer(&a, FRAME_ALLOCATED, FRAME_PAGETABLE);
	CHECK(frame_state_of(a.pfn) == FRAME_PAGETABLE);
	struct frame copy = a;
	frame_free_as(&a, FRAME_PAGETABLE);
	CHECK(frame_is_none(a));
	EXPECT_PANIC(frame_free(&a), "poisoned handle");
	EXPECT_PANIC(frame_free(&copy), "(double free?)");
	CHECK(frame_state_of(pfn(5)) == FRAME_ABSENT);
	/* Fault injection: two more succeed, then OOM until reset. */
	frame_alloc_fail_after(2);
	struct frame h[3];
	CHECK_EQ(frame_alloc(&h[0], FRAME_ALLOCATED), MM_OK);
	CHECK_EQ(frame_alloc_contig(&h[1], 4, 4, FRAME_HEAP), MM_OK);
	CHECK_EQ(frame_alloc(&h[2], FRAME_ALLOCATED), MM_ERR_OUT_OF_MEMORY);
	CHECK(frame_is_none(h[2]));
	CHECK_EQ(frame_alloc(&b, FRAME_ALLOCATED), MM_ERR_OUT_OF_MEMORY);
	frame_alloc_fail_after(-1);
	CHECK_EQ(frame_alloc(&b, FRAME_ALLOCATED), MM_OK);
	/* Leak accounting: 1 + 4 + 1 owned, a registered owner claims the 4 heap frames. */
	pmm_register_owner("fake", fake_owner);
	fake_owner_frames = 4;
	CHECK_EQ(pmm_leaked(), 2);
	frame_free(&h[0]);
	frame_free(&b);
	CHECK_EQ(pmm_leaked(), 0);
	frame_free_contig(&h[1], 4);
	CHECK_EQ(pmm_leaked(), -4);
	fake_owner_frames = 0;
	CHECK_EQ(pmm_leaked(), 0);
	struct pmm_stats st;
	CHECK_EQ(pmm_stats(0, &st), MM_OK);
	CHECK_EQ(st.free, 128);
	CHECK_EQ(pmm_stats(1, &st), MM_ERR_NUMA_NODE_NOT_FOUND);
	pmm_set_global(NULL, 0);
	CHECK_EQ(frame_alloc(&b, FRAME_ALLOCATED), MM_ERR_OUT_OF_MEMORY);
	fixture_fini(&f);
}

/* The window's last-hit fast path never answers for a hole or a run that is gone: lookups alternate between
 * runs, probe the bytes just outside the hinted run, and go on after the window shrinks under a stale hint. */
static void test_physmem_hint(void)
{
	static uint8_t ram[0x10000];
	struct physmem_run runs[3] = {
		{ .start = 0x1000, .end = 0x3000 }, { .start = 0x4000, .end = 0x6000 }, { .start = 0x8000, .end = 0x10000 },
	};
	physmem_set_runs(ram, 0, runs, 3);
	CHECK(phys_to_virt(paddr(0x4000)) == ram + 0x4000);       /* hint: run 1 */
	CHECK(phys_to_virt(paddr(0x5fff)) == ram + 0x5fff);       /* hit */
	EXPECT_PANIC(phys_to_virt(paddr(0x6000)), "outside the window");   /* just past the hinted run: a hole */
	EXPECT_PANIC(phys_to_virt(paddr(0x3fff)), "outside the window");   /* just before it: a hole */
	CHECK(phys_to_virt(paddr(0x1000)) == ram + 0x1000);       /* miss, then hint: run 0 */
	CHECK(phys_to_virt(paddr(0xffff)) == ram + 0xffff);       /* miss, then hint: run 2 */
	CHECK(physmem_in_window(paddr(0x6000), 0));               /* at the end of run 1 (not the hinted run) */
	CHECK(!physmem_in_window(paddr(0x5000), 0x2000));         /* crosses into the hole */
	CHECK(virt_to_phys_direct(ram + 0x8001).pa == 0x8001);
	physmem_set_runs(ram, 0, runs, 1);                        /* the hinted run 2 is gone */
	EXPECT_PANIC(phys_to_virt(paddr(0xffff)), "outside the window");
	EXPECT_PANIC(phys_to_virt(paddr(0x4000)), "outside the window");
	CHECK(phys_to_virt(paddr(0x2fff)) == ram + 0x2fff);
	physmem_set_window(NULL, 0, 0);
}

/* Types: canonical check, conversions, error names. */
static void test_types(void)
{
	vaddr_t v;
	CHECK_EQ(vaddr_checked(0x00007fffffffffffULL, &v), MM_OK);
	CHECK_EQ(v.va, 0x00007fffffffffffULL);
	CHECK_EQ(vaddr_checked(0x0000800000000000ULL, &v), MM_ERR_INVALID_ADDRESS);
	CHECK_EQ(vaddr_checked(0xffff800000000000ULL, &v), MM_OK);
	CHECK_EQ(vaddr_checked(0xfffe800000000000ULL, &v), MM_ERR_INVALID_ADDRESS);
	CHECK_EQ(pfn_of(paddr(0x12345678)).n, 0x12345);
	CHECK_EQ(pfn_to_paddr(pfn(0x12345)).pa, 0x12345000);
	CHECK_EQ(align_up(4097, 4096), 8192);
	CHECK_EQ(align_down(4097, 4096), 4096);
	CHECK(strcmp(mm_strerror(MM_ERR_OUT_OF_MEMORY), "OutOfMemory") == 0);
	CHECK(strcmp(mm_strerror(MM_ERR_NUMA_NODE_NOT_FOUND), "NumaNodeNotFound") == 0);
	CHECK(strcmp(mm_strerror((mm_err_t)99), "UnknownError") == 0);
	CHECK(strcmp(frame_state_name(FRAME_PAGETABLE), "PAGETABLE") == 0);
	physmem_set_kimg(0xFFFFFFFF80000000ULL, 0x200000, 0x10000);
	CHECK_EQ(kimg_to_phys((void *)0xFFFFFFFF80001234ULL).pa, 0x201234);
	EXPECT_PANIC(kimg_to_phys((void *)0xFFFFFFFF80010000ULL), "outside the kernel image");
}

int main(void)
{
	test_types();
	test_physmem_hint();
	for (size_t i = 0; i < 2; i++) {
		test_exhaust_and_recover(kinds[i]);
		test_ownership_panics(kinds[i]);
		test_contig_alignment(kinds[i]);
		test_edges(kinds[i]);
		test_fill_patterns(kinds[i]);
		test_poison_runs(kinds[i]);
		test_frame_api(kinds[i]);
		test_checkerboard(kinds[i]);
		test_from_map(kinds[i]);
	}
	test_buddy_coalesce();
	return ctest_finish("test_pmm");
}
