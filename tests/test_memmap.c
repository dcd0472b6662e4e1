/* test_memmap.c - host tests of the pure memory-map parser (kernel/mm/memmap.c). */
#include <stdlib.h>
#include "ctest.h"
#include "mm/memmap.h"
#include "boot_info.h"

CTEST_DEFINE_GLOBALS;

#define MIB (1024ULL * 1024)

static struct memmap_range out_ranges[64];

static struct memmap fresh(void)
{
	return (struct memmap){ .ranges = out_ranges, .cap = 64 };
}

static struct boot_mem_desc d(uint32_t type, uint64_t start, uint64_t pages)
{
	return (struct boot_mem_desc){ .type = type, .phys_start = start, .num_pages = pages };
}

/* Kind of the range holding pfn p, or MEMMAP_NONE. */
static enum memmap_kind kind_at(const struct memmap *m, uint64_t p)
{
	for (size_t i = 0; i < m->count; i++)
		if (p >= m->ranges[i].base_pfn && p < m->ranges[i].base_pfn + m->ranges[i].npages)
			return m->ranges[i].kind;
	return MEMMAP_NONE;
}

/* Output is sorted, non-overlapping, non-empty, and adjacent equal kinds are merged. */
static void check_well_formed(const struct memmap *m)
{
	for (size_t i = 0; i < m->count; i++) {
		CHECK(m->ranges[i].npages > 0);
		CHECK(m->ranges[i].kind != MEMMAP_NONE);
		if (i > 0) {
			const struct memmap_range *a = &m->ranges[i - 1], *b = &m->ranges[i];
			CHECK(a->base_pfn + a->npages <= b->base_pfn);
			CHECK(!(a->base_pfn + a->npages == b->base_pfn && a->kind == b->kind));
		}
	}
}

static void test_empty_and_one(void)
{
	struct memmap m = fresh();
	CHECK_EQ(memmap_build(NULL, 0, sizeof(struct boot_mem_desc), NULL, 0, &m), MM_OK);
	CHECK_EQ(m.count, 0);
	struct boot_mem_desc one = d(EFI_CONVENTIONAL_MEMORY, 0x200000, 1);
	CHECK_EQ(memmap_build(&one, 1, sizeof one, NULL, 0, &m), MM_OK);
	CHECK_EQ(m.count, 1);
	CHECK_EQ(m.ranges[0].base_pfn, 0x200);
	CHECK_EQ(m.ranges[0].npages, 1);
	CHECK(m.ranges[0].kind == MEMMAP_USABLE);
}

/* A realistic OVMF-like map with carve-outs. */
static void test_classes_and_carves(void)
{
	struct boot_mem_desc map[] = {
		d(EFI_BOOT_SERVICES_CODE, 0, 0xa0),
		d(EFI_CONVENTIONAL_MEMORY, 0x100000, 0x700),           /* 1 MiB .. 8 MiB */
		d(EFI_LOADER_DATA, 0x800000, 0x10),
		d(EFI_ACPI_RECLAIM_MEMORY, 0x810000, 0x10),
		d(EFI_ACPI_MEMORY_NVS, 0x820000, 0x10),
		d(EFI_RUNTIME_SERVICES_DATA, 0x830000, 0x10),
		d(EFI_CONVENTIONAL_MEMORY, 0x840000, 0x7c0),
		d(EFI_RESERVED_MEMORY_TYPE, 0x1000000, 0x10),
		d(EFI_UNUSABLE_MEMORY, 0x1010000, 1),
		d(EFI_PERSISTENT_MEMORY, 0x1011000, 1),
		d(99, 0x1012000, 1),   /* unknown type: never usable */
		d(EFI_MEMORY_MAPPED_IO, 0xfec00000, 1),
	};
	struct memmap_carve carves[] = {
		{ .base = 0x200000, .size = 0x1234, .kind = MEMMAP_KERNEL },    /* rounds to 2 pages */
		{ .base = 0x800000, .size = 0x3000, .kind = MEMMAP_BOOT_TABLES },
		{ .base = 0x900000, .size = 0x1000, .kind = MEMMAP_INITRD },
		{ .base = 0, .size = MIB, .kind = MEMMAP_LOW },
		{ .base = 0x2000000, .size = 0x1000, .kind = MEMMAP_INITRD },   /* in a hole: ignored */
	};
	struct memmap m = fresh();
	CHECK_EQ(memmap_build(map, 12, sizeof map[0], carves, 5, &m), MM_OK);
	check_well_formed(&m);
	CHECK(kind_at(&m, 0) == MEMMAP_LOW);
	CHECK(kind_at(&m, 0x9f) == MEMMAP_LOW);
	CHECK(kind_at(&m, 0xa0) == MEMMAP_NONE);          /* hole below 1 MiB stays a hole */
	CHECK(kind_at(&m, 0x100) == MEMMAP_USABLE);
	CHECK(kind_at(&m, 0x200) == MEMMAP_KERNEL);
	CHECK(kind_at(&m, 0x201) == MEMMAP_KERNEL);
	CHECK(kind_at(&m, 0x202) == MEMMAP_USABLE);
	CHECK(kind_at(&m, 0x800) == MEMMAP_BOOT_TABLES);
	CHECK(kind_at(&m, 0x803) == MEMMAP_LOADER);
	CHECK(kind_at(&m, 0x810) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x820) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x830) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x900) == MEMMAP_INITRD);
	CHECK(kind_at(&m, 0xfec00) == MEMMAP_NOT_RAM);
	CHECK(kind_at(&m, 0x1000) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x1012) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x2000) == MEMMAP_NONE);
	CHECK_EQ(memmap_pages_of(&m, MEMMAP_KERNEL), 2);
	CHECK_EQ(memmap_pages_of(&m, MEMMAP_USABLE), 0x700 - 2 + 0x7c0 - 1);
	CHECK_EQ(memmap_pages_of(&m, MEMMAP_LOW), 0xa0);
	CHECK(!m.unsorted);
	CHECK_EQ(m.overlaps, 0);
}

/* Unsorted, overlapping and zero-length entries: handled, counted, most restrictive class wins. */
static void test_unsorted_overlap_zero(void)
{
	struct boot_mem_desc map[] = {
		d(EFI_CONVENTIONAL_MEMORY, 0x400000, 0x100),
		d(EFI_CONVENTIONAL_MEMORY, 0x100000, 0x100),
		d(EFI_RUNTIME_SERVICES_CODE, 0x480000, 0x10),   /* inside the first */
		d(EFI_LOADER_DATA, 0x4f0000, 0x20),             /* straddles its end */
		d(EFI_CONVENTIONAL_MEMORY, 0x300000, 0),        /* zero length */
	};
	struct memmap m = fresh();
	CHECK_EQ(memmap_build(map, 5, sizeof map[0], NULL, 0, &m), MM_OK);
	check_well_formed(&m);
	CHECK(m.unsorted);
	CHECK_EQ(m.overlaps, 2);
	CHECK_EQ(m.zero_length, 1);
	CHECK(kind_at(&m, 0x100) == MEMMAP_USABLE);
	CHECK(kind_at(&m, 0x47f) == MEMMAP_USABLE);
	CHECK(kind_at(&m, 0x480) == MEMMAP_FIRMWARE);
	CHECK(kind_at(&m, 0x490) == MEMMAP_USABLE);
	CHECK(kind_at(&m, 0x4f0) == MEMMAP_LOADER);
	CHECK(kind_at(&m, 0x50f) == MEMMAP_LOADER);
	CHECK(kind_at(&m, 0x510) == MEMMAP_NONE);
	CHECK(kind_at(&m, 0x300) == MEMMAP_NONE);
	CHECK_EQ(memmap_pages_of(&m, MEMMAP_USABLE), 0x100 + 0xf0 - 0x10);
}

/* Descriptors stepped by a firmware desc_size larger than the struct (48 bytes, as OVMF uses). */
static void test_stride(void)
{
	uint64_t raw[12] = { 0 };   /* two 48-byte descriptors */
	struct boot_mem_desc *a = (void *)&raw[0], *b = (void *)&raw[6];
	*a = d(EFI_CONVENTIONAL_MEMORY, 0x100000, 4);
	*b = d(EFI_LOADER_CODE, 0x104000, 4);
	struct memmap m = fresh();
	CHECK_EQ(memmap_build(raw, 2, 48, NULL, 0, &m), MM_OK);
	CHECK_EQ(m.count, 2);
	CHECK(kind_at(&m, 0x104) == MEMMAP_LOADER);
}

/* Malformed maps are rejected with a message and no output. */
static void test_rejects(void)
{
	struct memmap m = fresh();
	struct boot_mem_desc bad = d(EFI_CONVENTIONAL_MEMORY, 0x100800, 1);
	CHECK_EQ(memmap_build(&bad, 1, sizeof bad, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK(strstr(m.err, "unaligned descriptor start: 0x100800") != NULL);
	CHECK_EQ(m.count, 0);
	bad = d(EFI_CONVENTIONAL_MEMORY, 0xfffffffffffff000ULL, 2);
	CHECK_EQ(memmap_build(&bad, 1, sizeof bad, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK(strstr(m.err, "past 2^52") != NULL);
	bad = d(EFI_CONVENTIONAL_MEMORY, 0x1000, 0x8000000000000000ULL);
	CHECK_EQ(memmap_build(&bad, 1, sizeof bad, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK_EQ(memmap_build(&bad, 1, 24, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK(strstr(m.err, "bad descriptor size: 0x18") != NULL);
	CHECK_EQ(memmap_build(&bad, 1, 44, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK_EQ(memmap_build(&bad, MEMMAP_MAX_DESCS + 1, sizeof bad, NULL, 0, &m), MM_ERR_INVALID_ADDRESS);
	CHECK(strstr(m.err, "too many") != NULL);
	struct memmap_carve c = { .base = 0, .size = 1, .kind = MEMMAP_USABLE };
	CHECK_EQ(memmap_build(NULL, 0, sizeof bad, &c, 1, &m), MM_ERR_INVALID_ADDRESS);
	/* Capacity: 3 alternating ranges into room for 2. */
	struct boot_mem_desc alt[] = {
		d(EFI_CONVENTIONAL_MEMORY, 0x1000, 1), d(EFI_LOADER_DATA, 0x2000, 1), d(EFI_CONVENTIONAL_MEMORY, 0x3000, 1),
	};
	struct memmap small = { .ranges = out_ranges, .cap = 2 };
	CHECK_EQ(memmap_build(alt, 3, sizeof alt[0], NULL, 0, &small), MM_ERR_INVALID_ADDRESS);
	CHECK(strstr(small.err, "capacity") != NULL);
	CHECK_EQ(small.count, 0);
}

/* Random maps: the output must agree, frame by frame, with a brute-force classification. */
static void test_random_vs_bruteforce(void)
{
	srand(12345);
	for (int round = 0; round < 2000; round++) {
		struct boot_mem_desc map[12];
		struct memmap_carve carves[3];
		int n = rand() % 12, nc = rand() % 4;
		for (int i = 0; i < n; i++)
			map[i] = d((uint32_t)(rand() % 16), (uint64_t)(rand() % 64) * PAGE_SIZE, (uint64_t)(rand() % 16));
		for (int i = 0; i < nc && i < 3; i++)
			carves[i] = (struct memmap_carve){ .base = (uint64_t)(rand() % 64 * 1000),
							   .size = (uint64_t)(rand() % 20000),
							   .kind = (enum memmap_kind)(MEMMAP_BOOT_TABLES + rand() % 5) };
		if (nc > 3)
			nc = 3;
		struct memmap m = fresh();
		CHECK_EQ(memmap_build(map, (uint64_t)n, sizeof map[0], carves, (size_t)nc, &m), MM_OK);
		check_well_formed(&m);
		for (uint64_t p = 0; p < 96; p++) {
			enum memmap_kind want = MEMMAP_NONE, carve = MEMMAP_NONE;
			for (int i = 0; i < n; i++)
				if (p >= map[i].phys_start / PAGE_SIZE && p < map[i].phys_start / PAGE_SIZE + map[i].num_pages &&
				    memmap_classify(map[i].type) > want)
					want = memmap_classify(map[i].type);
			for (int i = 0; i < nc; i++)
				if (carves[i].size && p >= carves[i].base / PAGE_SIZE &&
				    p < (carves[i].base + carves[i].size + PAGE_SIZE - 1) / PAGE_SIZE && carves[i].kind > carve)
					carve = carves[i].kind;
			if (carve && want >= MEMMAP_USABLE && want <= MEMMAP_FIRMWARE)
				want = carve;
			CHECK(kind_at(&m, p) == want);
		}
	}
}

int main(void)
{
	test_empty_and_one();
	test_classes_and_carves();
	test_unsorted_overlap_zero();
	test_stride();
	test_rejects();
	test_random_vs_bruteforce();
	return ctest_finish("test_memmap");
}
