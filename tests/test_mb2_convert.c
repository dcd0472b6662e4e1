/*
 * test_mb2_convert.c - host tests of the Multiboot2 -> boot_info converter
 * (boot/multiboot2/mb2_boot_info.c), built with ASan/UBSan by
 * `make test-host-mb2` (boot/multiboot2/build.mk).
 *
 * Fixed cases check exact outputs (a QEMU-like map, rounding, overlaps, ACPI
 * and module tags, every refusal); a seeded random test compares the
 * converter page by page with an independent per-page model of the rules and
 * checks the structural invariants of the output. SEED=N replays a run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mb2_boot_info.h"

static int failures;
static const char *current;

#define CHECK(cond) do { if (!(cond)) { \
	printf("FAIL %s: %s:%d: %s\n", current, __FILE__, __LINE__, #cond); failures++; return; } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long a_ = (a), b_ = (b); if (a_ != b_) { \
	printf("FAIL %s: %s:%d: %s == %s (left=0x%llx right=0x%llx)\n", current, __FILE__, __LINE__, \
	       #a, #b, a_, b_); failures++; return; } } while (0)

/* ---- building an mbi ---- */

struct mbi {
	uint8_t *buf;   /* 8-byte aligned */
	uint32_t len;
	uint32_t cap;
};

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* One mbi at a time, in static storage (a failing CHECK returns early; nothing to free). */
static _Alignas(8) uint8_t mbi_storage[1 << 16];

static void mbi_init(struct mbi *m)
{
	m->cap = sizeof(mbi_storage);
	m->buf = mbi_storage;
	memset(m->buf, 0xa5, m->cap);   /* garbage beyond what is written */
	m->len = 8;
	put32(m->buf + 4, 0);
}

/* Start a tag of `size` bytes (header included); returns a pointer to it. */
static uint8_t *mbi_tag(struct mbi *m, uint32_t type, uint32_t size)
{
	uint8_t *t = m->buf + m->len;
	memset(t, 0, (size + 7) & ~7u);
	put32(t, type);
	put32(t + 4, size);
	m->len += (size + 7) & ~7u;
	return t;
}

static void mbi_string(struct mbi *m, uint32_t type, const char *s)
{
	uint8_t *t = mbi_tag(m, type, 8 + (uint32_t)strlen(s) + 1);
	memcpy(t + 8, s, strlen(s) + 1);
}

struct mmap_in { uint64_t base, len; uint32_t type; };

static void mbi_mmap(struct mbi *m, const struct mmap_in *e, size_t n)
{
	uint8_t *t = mbi_tag(m, MB2_TAG_MMAP, 16 + 24 * (uint32_t)n);
	put32(t + 8, 24);
	put32(t + 12, 0);
	for (size_t i = 0; i < n; i++) {
		put64(t + 16 + 24 * i, e[i].base);
		put64(t + 24 + 24 * i, e[i].len);
		put32(t + 32 + 24 * i, e[i].type);
	}
}

static void mbi_module(struct mbi *m, uint32_t start, uint32_t end)
{
	uint8_t *t = mbi_tag(m, MB2_TAG_MODULE, 16 + 4);
	put32(t + 8, start);
	put32(t + 12, end);
	memcpy(t + 16, "mod", 4);
}

/* Returns the offset of the tag within the mbi. */
static uint32_t mbi_acpi(struct mbi *m, uint32_t type)
{
	uint32_t off = m->len;
	uint8_t *t = mbi_tag(m, type, 8 + (type == MB2_TAG_ACPI_NEW ? 36 : 20));
	memcpy(t + 8, "RSD PTR ", 8);
	return off;
}

static void mbi_end(struct mbi *m)
{
	mbi_tag(m, MB2_TAG_END, 8);
	put32(m->buf, m->len);
}

/* ---- running the converter ---- */

#define MBI_PHYS 0x118000ull
#define ST_PHYS  0x204000ull

static const struct mb2_layout layout_default = {
	.boot32_start = 0x100000, .boot32_end = 0x10d000,
	.boot_tables_phys = 0x101000, .boot_tables_size = 0x8000,
	.kernel_phys_base = 0x200000, .kernel_phys_size = 0x11000,
};

static struct mb2_boot_state st;
static struct mb2_scratch scratch;

static int run(struct mbi *m, uint64_t mbi_phys, const struct mb2_layout *l)
{
	memset(&st, 0x5a, sizeof(st));   /* the converter must set every field it reports */
	memset(&scratch, 0x5a, sizeof(scratch));
	return mb2_convert(m->buf, mbi_phys, l, &st, ST_PHYS, &scratch);
}

struct desc_exp { uint64_t start, end; uint32_t type; };

/* Compare the output map with an expected list; prints both on mismatch. */
static int map_equals(const struct desc_exp *e, size_t n)
{
	int ok = st.info.mmap_count == n;
	for (size_t i = 0; ok && i < n; i++) {
		const struct boot_mem_desc *d = &st.mmap[i];
		ok = d->phys_start == e[i].start && d->phys_start + d->num_pages * 4096 == e[i].end &&
		     d->type == e[i].type && d->attribute == 0 && d->virt_start == 0;
	}
	if (!ok) {
		printf("  got %llu descriptors:\n", (unsigned long long)st.info.mmap_count);
		for (size_t i = 0; i < st.info.mmap_count && i < MB2_MMAP_MAX; i++)
			printf("    [0x%llx, 0x%llx) type %u\n", (unsigned long long)st.mmap[i].phys_start,
			       (unsigned long long)(st.mmap[i].phys_start + st.mmap[i].num_pages * 4096),
			       st.mmap[i].type);
		printf("  expected %zu:\n", n);
		for (size_t i = 0; i < n; i++)
			printf("    [0x%llx, 0x%llx) type %u\n", (unsigned long long)e[i].start,
			       (unsigned long long)e[i].end, e[i].type);
	}
	return ok;
}

/* Structural rules of boot_info.h: sorted, non-overlapping, page aligned, non-empty, merged. */
static int map_well_formed(void)
{
	for (uint64_t i = 0; i < st.info.mmap_count; i++) {
		const struct boot_mem_desc *d = &st.mmap[i];
		if (d->num_pages == 0 || d->phys_start % 4096 != 0)
			return 0;
		if (i > 0) {
			const struct boot_mem_desc *p = &st.mmap[i - 1];
			uint64_t p_end = p->phys_start + p->num_pages * 4096;
			if (p_end > d->phys_start)
				return 0;
			if (p_end == d->phys_start && p->type == d->type)
				return 0;   /* should have been merged */
		}
	}
	return 1;
}

enum { CONV = EFI_CONVENTIONAL_MEMORY, LDATA = EFI_LOADER_DATA, RSVD = EFI_RESERVED_MEMORY_TYPE,
       RECL = EFI_ACPI_RECLAIM_MEMORY, NVS = EFI_ACPI_MEMORY_NVS, BAD = EFI_UNUSABLE_MEMORY };

/* ---- fixed cases ---- */

static void test_qemu_like_map(void)
{
	struct mbi m;
	mbi_init(&m);
	mbi_string(&m, MB2_TAG_CMDLINE, "test=pmm.*,kheap.* seed=7");
	mbi_string(&m, MB2_TAG_LOADER_NAME, "GRUB 2.06-13+deb12u2");
	struct mmap_in e[] = {
		{ 0x0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 },
		{ 0x100000, 0xfee0000, 1 }, { 0xffe0000, 0x20000, 2 }, { 0xfffc0000, 0x40000, 2 },
	};
	mbi_mmap(&m, e, 6);
	uint32_t acpi_off = mbi_acpi(&m, MB2_TAG_ACPI_OLD);
	mbi_end(&m);
	CHECK_EQ(run(&m, MBI_PHYS, &layout_default), 0);
	const struct desc_exp x[] = {
		{ 0x0, 0x9f000, CONV }, { 0x9f000, 0xa0000, RSVD }, { 0xf0000, 0x100000, RSVD },
		{ 0x100000, 0x10d000, LDATA }, { 0x10d000, 0x118000, CONV }, { 0x118000, 0x119000, LDATA },
		{ 0x119000, 0x200000, CONV }, { 0x200000, 0x211000, LDATA }, { 0x211000, 0xffe0000, CONV },
		{ 0xffe0000, 0x10000000, RSVD }, { 0xfffc0000, 0x100000000, RSVD },
	};
	CHECK(map_equals(x, sizeof(x) / sizeof(x[0])));
	const struct boot_info *bi = &st.info;
	CHECK_EQ(bi->magic, BOOT_INFO_MAGIC);
	CHECK_EQ(bi->version, BOOT_INFO_VERSION);
	CHECK_EQ(bi->size, sizeof(struct boot_info));
	CHECK_EQ(bi->boot_path, BOOT_PATH_MULTIBOOT2);
	CHECK_EQ(bi->reserved0, 0);
	CHECK_EQ(bi->mmap_phys, ST_PHYS + offsetof(struct mb2_boot_state, mmap));
	CHECK_EQ(bi->mmap_desc_size, 40);
	CHECK_EQ(bi->rsdp_phys, MBI_PHYS + acpi_off + 8);
	CHECK_EQ(bi->kernel_phys_base, 0x200000);
	CHECK_EQ(bi->kernel_phys_size, 0x11000);
	CHECK_EQ(bi->cmdline_phys, ST_PHYS + offsetof(struct mb2_boot_state, cmdline));
	CHECK_EQ(bi->cmdline_len, strlen("test=pmm.*,kheap.* seed=7"));
	CHECK(strcmp(st.cmdline, "test=pmm.*,kheap.* seed=7") == 0);
	CHECK_EQ(bi->initrd_phys, 0);
	CHECK_EQ(bi->initrd_size, 0);
	CHECK_EQ(bi->boot_tables_phys, 0x101000);
	CHECK_EQ(bi->boot_tables_size, 0x8000);
	CHECK_EQ(bi->direct_map_limit, 0x100000000ull);
	CHECK(strcmp(bi->loader_name, "GRUB 2.06-13+deb12u2") == 0);
	CHECK(map_well_formed());
}

static void test_rounding_overlap_and_types(void)
{
	struct mbi m;
	mbi_init(&m);
	struct mmap_in e[] = {
		/* two touching available entries split inside a page: the page survives */
		{ 0x1000, 0x1800, 1 }, { 0x2800, 0x1800, 1 },
		/* unaligned available: rounded inwards */
		{ 0x6100, 0x2e00, 1 },
		/* unaligned reserved inside available: rounded outwards, wins */
		{ 0x10000, 0x20000, 1 }, { 0x14800, 0x1000, 2 },
		/* ACPI types and bad RAM */
		{ 0x40000, 0x1000, 3 }, { 0x41000, 0x1000, 4 }, { 0x42000, 0x1000, 5 }, { 0x43000, 0x1000, 77 },
		/* ACPI reclaim overlapping available; NVS overlapping reclaim */
		{ 0x50000, 0x4000, 1 }, { 0x51000, 0x2000, 3 }, { 0x52000, 0x2000, 4 },
		/* zero-length entries vanish */
		{ 0x60000, 0, 2 }, { 0x61000, 0, 1 },
		/* the image's area */
		{ 0x100000, 0x1000000, 1 },
		/* an entry that runs to the top of the address space */
		{ 0xfffffffffffff000ull, 0x2000, 2 },
	};
	mbi_mmap(&m, e, sizeof(e) / sizeof(e[0]));
	mbi_end(&m);
	CHECK_EQ(run(&m, 0x300000, &layout_default), 0);
	const struct desc_exp x[] = {
		{ 0x1000, 0x4000, CONV }, { 0x7000, 0x8000, CONV },
		{ 0x10000, 0x14000, CONV }, { 0x14000, 0x16000, RSVD }, { 0x16000, 0x30000, CONV },
		{ 0x40000, 0x41000, RECL }, { 0x41000, 0x42000, NVS }, { 0x42000, 0x43000, BAD },
		{ 0x43000, 0x44000, RSVD },
		{ 0x50000, 0x51000, CONV }, { 0x51000, 0x52000, RECL }, { 0x52000, 0x54000, NVS },
		{ 0x100000, 0x10d000, LDATA }, { 0x10d000, 0x200000, CONV }, { 0x200000, 0x211000, LDATA },
		{ 0x211000, 0x300000, CONV }, { 0x300000, 0x301000, LDATA }, { 0x301000, 0x1100000, CONV },
	};
	/* The entry at the top saturates: its end rounds to the last page boundary, which is
	 * its start, so it is empty and dropped (2^64 is not representable as an end). */
	CHECK(map_equals(x, sizeof(x) / sizeof(x[0])));
	CHECK(map_well_formed());
	CHECK_EQ(st.info.cmdline_phys, 0);
	CHECK_EQ(st.info.cmdline_len, 0);
	CHECK_EQ(st.info.rsdp_phys, 0);
	CHECK(strcmp(st.info.loader_name, "multiboot2") == 0);
}

static void test_acpi_new_preferred_and_modules(void)
{
	for (int order = 0; order < 2; order++) {
		struct mbi m;
		mbi_init(&m);
		struct mmap_in e[] = { { 0x0, 0x9fc00, 1 }, { 0x100000, 0x3f00000, 1 } };
		mbi_mmap(&m, e, 2);
		uint32_t off_new, off_old;
		if (order == 0) {
			off_old = mbi_acpi(&m, MB2_TAG_ACPI_OLD);
			off_new = mbi_acpi(&m, MB2_TAG_ACPI_NEW);
		} else {
			off_new = mbi_acpi(&m, MB2_TAG_ACPI_NEW);
			off_old = mbi_acpi(&m, MB2_TAG_ACPI_OLD);
		}
		(void)off_old;
		mbi_module(&m, 0x400000, 0x412345);
		mbi_module(&m, 0x500000, 0x500800);
		mbi_end(&m);
		CHECK_EQ(run(&m, MBI_PHYS, &layout_default), 0);
		CHECK_EQ(st.info.rsdp_phys, MBI_PHYS + off_new + 8);
		CHECK_EQ(st.info.initrd_phys, 0x400000);
		CHECK_EQ(st.info.initrd_size, 0x12345);
		const struct desc_exp x[] = {
			{ 0x0, 0x9f000, CONV },
			{ 0x100000, 0x10d000, LDATA }, { 0x10d000, 0x118000, CONV }, { 0x118000, 0x119000, LDATA },
			{ 0x119000, 0x200000, CONV }, { 0x200000, 0x211000, LDATA }, { 0x211000, 0x400000, CONV },
			{ 0x400000, 0x413000, LDATA }, { 0x413000, 0x500000, CONV }, { 0x500000, 0x501000, LDATA },
			{ 0x501000, 0x4000000, CONV },
		};
		CHECK(map_equals(x, sizeof(x) / sizeof(x[0])));
	}
}

/* Each refusal: the converter returns -1 and names the problem. */
static void expect_refusal(struct mbi *m, uint64_t mbi_phys, const struct mb2_layout *l, const char *needle)
{
	int r = run(m, mbi_phys, l);
	CHECK_EQ(r, -1);
	if (!strstr(st.error, needle) || !strstr(st.error, "mb2_convert")) {
		printf("FAIL %s: error message \"%s\" lacks \"%s\"\n", current, st.error, needle);
		failures++;
	}
}

static void test_refusals(void)
{
	struct mmap_in ok_map[] = { { 0x0, 0x9fc00, 1 }, { 0x100000, 0x3f00000, 1 } };
	struct mbi m;

	mbi_init(&m);   /* no memory map */
	mbi_string(&m, MB2_TAG_CMDLINE, "x");
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "no memory map");
	expect_refusal(&m, MBI_PHYS + 4, &layout_default, "not 8-byte aligned");

	mbi_init(&m);   /* a tag whose size runs past total_size */
	mbi_mmap(&m, ok_map, 2);
	uint8_t *t = mbi_tag(&m, MB2_TAG_CMDLINE, 16);
	mbi_end(&m);
	put32(t + 4, 0x1000);
	expect_refusal(&m, MBI_PHYS, &layout_default, "outside the mbi");

	mbi_init(&m);   /* no end tag */
	mbi_mmap(&m, ok_map, 2);
	put32(m.buf, m.len);
	expect_refusal(&m, MBI_PHYS, &layout_default, "no end tag");

	mbi_init(&m);   /* total_size absurd */
	mbi_mmap(&m, ok_map, 2);
	mbi_end(&m);
	put32(m.buf, 4);
	expect_refusal(&m, MBI_PHYS, &layout_default, "total_size");

	mbi_init(&m);   /* unterminated cmdline */
	mbi_mmap(&m, ok_map, 2);
	t = mbi_tag(&m, MB2_TAG_CMDLINE, 12);
	memcpy(t + 8, "abcd", 4);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "cmdline");

	mbi_init(&m);   /* cmdline one byte too long */
	mbi_mmap(&m, ok_map, 2);
	static char longline[MB2_CMDLINE_MAX + 1];
	memset(longline, 'a', MB2_CMDLINE_MAX);
	longline[MB2_CMDLINE_MAX] = '\0';
	mbi_string(&m, MB2_TAG_CMDLINE, longline);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "MB2_CMDLINE_MAX");

	mbi_init(&m);   /* the longest cmdline that fits is accepted */
	mbi_mmap(&m, ok_map, 2);
	longline[MB2_CMDLINE_MAX - 1] = '\0';
	mbi_string(&m, MB2_TAG_CMDLINE, longline);
	mbi_end(&m);
	CHECK_EQ(run(&m, MBI_PHYS, &layout_default), 0);
	CHECK_EQ(st.info.cmdline_len, MB2_CMDLINE_MAX - 1);

	mbi_init(&m);   /* bad entry_size */
	t = mbi_tag(&m, MB2_TAG_MMAP, 16 + 20);
	put32(t + 8, 20);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "entry_size");

	mbi_init(&m);   /* kernel image inside firmware-reserved memory */
	struct mmap_in bad_map[] = { { 0x0, 0x9fc00, 1 }, { 0x100000, 0x3f00000, 1 }, { 0x208000, 0x1000, 2 } };
	mbi_mmap(&m, bad_map, 3);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "kernel image [0x200000, 0x211000) overlaps");

	mbi_init(&m);   /* a module over ACPI NVS */
	struct mmap_in nvs_map[] = { { 0x0, 0x9fc00, 1 }, { 0x100000, 0x3f00000, 1 }, { 0x800000, 0x1000, 4 } };
	mbi_mmap(&m, nvs_map, 3);
	mbi_module(&m, 0x7ff000, 0x800001);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "module");

	/* too many descriptors: alternating available/reserved pages */
	mbi_init(&m);
	struct mmap_in many[MB2_MMAP_MAX + 2];
	for (size_t i = 0; i < MB2_MMAP_MAX + 2; i++)
		many[i] = (struct mmap_in){ 0x1000000 + i * 0x1000, 0x1000, (uint32_t)(i % 2 ? 2 : 1) };
	mbi_mmap(&m, many, MB2_MMAP_MAX + 2);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "MB2_MMAP_MAX");

	/* too many input ranges */
	mbi_init(&m);
	static struct mmap_in lots[MB2_RANGES_MAX + 1];
	for (size_t i = 0; i < MB2_RANGES_MAX + 1; i++)
		lots[i] = (struct mmap_in){ 0x1000000 + i * 0x1000, 0x1000, 2 };
	mbi_mmap(&m, lots, MB2_RANGES_MAX + 1);
	mbi_end(&m);
	expect_refusal(&m, MBI_PHYS, &layout_default, "MB2_RANGES_MAX");
}

/* ---- seeded random comparison with a per-page model ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#define SPACE     (4ull << 20)          /* model the first 4 MiB */
#define BLK       256ull                /* entry bounds are multiples of 256 bytes */
#define NPAGES    (SPACE / 4096)
#define NBLKS     (SPACE / BLK)

static unsigned rank_of(uint32_t t)
{
	switch (t) {
	case CONV: return 1;
	case LDATA: return 2;
	case RECL: return 3;
	case NVS: return 4;
	case BAD: return 5;
	default: return 6;
	}
}

static uint32_t efi_of(uint32_t mb2)
{
	switch (mb2) {
	case 1: return CONV;
	case 3: return RECL;
	case 4: return NVS;
	case 5: return BAD;
	default: return RSVD;
	}
}

/* Type of the page at `pa` in the output, or UINT32_MAX for a hole. */
static uint32_t out_type_at(uint64_t pa)
{
	for (uint64_t i = 0; i < st.info.mmap_count; i++) {
		const struct boot_mem_desc *d = &st.mmap[i];
		if (pa >= d->phys_start && pa < d->phys_start + d->num_pages * 4096)
			return d->type;
	}
	return UINT32_MAX;
}

static int random_ok, random_refused;

static void test_random_against_model(uint64_t seed, int iterations)
{
	static unsigned char avail[NBLKS];
	static unsigned page_rank[NPAGES];
	static uint32_t page_type[NPAGES];
	rng_state = seed ? seed : 1;
	for (int it = 0; it < iterations; it++) {
		struct mbi m;
		mbi_init(&m);
		size_t n = 1 + rnd() % 24;
		struct mmap_in e[24];
		for (size_t i = 0; i < n; i++) {
			/* mostly short entries (so the image usually survives), sometimes long ones */
			uint64_t a = (rnd() % NBLKS) * BLK;
			uint64_t maxlen = rnd() % 8 == 0 ? NBLKS : NBLKS / 64;
			uint64_t b = a + (rnd() % maxlen) * BLK;
			if (b > SPACE)
				b = SPACE;
			static const uint32_t types[] = { 1, 1, 1, 1, 2, 3, 4, 5, 9 };
			e[i] = (struct mmap_in){ a, b - a, types[rnd() % 9] };
		}
		/* usually one big available entry under the image, so most runs succeed */
		if (rnd() % 4 != 0 && n < 24)
			e[n++] = (struct mmap_in){ 0x80000, 0x300000, 1 };
		mbi_mmap(&m, e, n);
		uint32_t mods[2][2];
		size_t nmods = rnd() % 3;
		for (size_t i = 0; i < nmods; i++) {
			uint32_t a = (uint32_t)((rnd() % NBLKS) * BLK), len = (uint32_t)(rnd() % 0x3000);
			if (a + len > SPACE)
				len = (uint32_t)(SPACE - a);
			mods[i][0] = a;
			mods[i][1] = a + len;
			mbi_module(&m, a, a + len);
		}
		mbi_end(&m);
		uint64_t mbi_phys = 0x300000 + (rnd() % 0x100) * 8;

		/* the model, page by page */
		memset(avail, 0, sizeof(avail));
		memset(page_rank, 0, sizeof(page_rank));
		for (size_t i = 0; i < n; i++)
			if (e[i].type == 1)
				for (uint64_t b = e[i].base / BLK; b < (e[i].base + e[i].len) / BLK; b++)
					avail[b] = 1;
		struct model_range { uint64_t s, e; uint32_t t; } in[24 + 5];
		size_t nin = 0;
		for (size_t i = 0; i < n; i++)
			if (e[i].type != 1)
				in[nin++] = (struct model_range){ e[i].base, e[i].base + e[i].len, efi_of(e[i].type) };
		size_t first_carve = nin;
		in[nin++] = (struct model_range){ layout_default.boot32_start, layout_default.boot32_end, LDATA };
		in[nin++] = (struct model_range){ 0x200000, 0x211000, LDATA };
		in[nin++] = (struct model_range){ mbi_phys, mbi_phys + m.len, LDATA };
		for (size_t i = 0; i < nmods; i++)
			in[nin++] = (struct model_range){ mods[i][0], mods[i][1], LDATA };
		for (uint64_t p = 0; p < NPAGES; p++) {
			unsigned best = 1;
			for (uint64_t b = p * 16; b < p * 16 + 16; b++)
				best &= avail[b];
			uint32_t type = best ? CONV : 0;
			uint64_t ps = p * 4096, pe = ps + 4096;
			for (size_t i = 0; i < nin; i++) {
				/* an empty range (zero-length entry, empty module) covers no page */
				if (in[i].s < in[i].e && in[i].s < pe && ps < in[i].e && rank_of(in[i].t) > best) {
					best = rank_of(in[i].t);
					type = in[i].t;
				}
			}
			page_rank[p] = best;
			page_type[p] = best ? type : UINT32_MAX;
		}
		int expect_fail = 0;
		for (size_t i = first_carve; i < nin; i++) {
			uint64_t s = in[i].s & ~4095ull, en = in[i].s < in[i].e ? (in[i].e + 4095) & ~4095ull : s;
			for (uint64_t pa = s; pa < en && pa < SPACE; pa += 4096)
				if (page_type[pa / 4096] != LDATA)
					expect_fail = 1;
		}

		int r = run(&m, mbi_phys, &layout_default);
		if (expect_fail)
			random_refused++;
		else
			random_ok++;
		if (expect_fail) {
			if (r != -1 || !strstr(st.error, "overlaps")) {
				printf("FAIL random seed=%llu iteration %d: expected an overlap refusal, got %d \"%s\"\n",
				       (unsigned long long)seed, it, r, r ? st.error : "");
				failures++;
				return;
			}
		} else {
			if (r != 0) {
				printf("FAIL random seed=%llu iteration %d: refused: %s\n", (unsigned long long)seed, it,
				       st.error);
				failures++;
				return;
			}
			if (!map_well_formed()) {
				printf("FAIL random seed=%llu iteration %d: map not well formed\n",
				       (unsigned long long)seed, it);
				failures++;
				return;
			}
			for (uint64_t p = 0; p < NPAGES; p++) {
				uint32_t got = out_type_at(p * 4096);
				if (got != page_type[p]) {
					printf("FAIL random seed=%llu iteration %d: page 0x%llx type %d, model says %d\n",
					       (unsigned long long)seed, it, (unsigned long long)(p * 4096), (int)got,
					       (int)page_type[p]);
					failures++;
					return;
				}
			}
			/* nothing beyond the modelled space */
			if (st.info.mmap_count > 0) {
				const struct boot_mem_desc *last = &st.mmap[st.info.mmap_count - 1];
				if (last->phys_start + last->num_pages * 4096 > SPACE) {
					printf("FAIL random seed=%llu iteration %d: descriptor beyond the inputs\n",
					       (unsigned long long)seed, it);
					failures++;
					return;
				}
			}
		}
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint64_t seed = 1;
	const char *s = getenv("SEED");
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	struct { const char *name; void (*fn)(void); } cases[] = {
		{ "mb2.qemu_like_map", test_qemu_like_map },
		{ "mb2.rounding_overlap_and_types", test_rounding_overlap_and_types },
		{ "mb2.acpi_new_preferred_and_modules", test_acpi_new_preferred_and_modules },
		{ "mb2.refusals", test_refusals },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = failures;
		current = cases[i].name;
		cases[i].fn();
		printf("%s %s\n", failures == before ? "PASS" : "FAIL", current);
	}
	int before = failures;
	current = "mb2.random_against_model";
	test_random_against_model(seed, 2000);
	printf("%s %s seed=%llu iterations=2000 (converted %d, refused as overlapping %d)\n",
	       failures == before ? "PASS" : "FAIL", current, (unsigned long long)seed, random_ok, random_refused);
	printf("test_mb2_convert: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
