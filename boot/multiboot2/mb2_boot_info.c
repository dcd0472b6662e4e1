/*
 * mb2_boot_info.c - converts the Multiboot2 information (mbi) from GRUB into
 * the loader/kernel contract of boot_info.h.
 *
 * Runs before anything in the kernel is initialised: no printk, no library
 * calls, no globals except the kernel-only output storage at the bottom. The
 * mbi is read byte-wise (it is data from outside; nothing here assumes its
 * alignment), every tag is bounds-checked against the mbi's total_size.
 *
 * Memory map rules (boot_info.h wants UEFI-typed, 4 KiB-page descriptors):
 *   Multiboot2 type 1 (available)    -> EFI_CONVENTIONAL_MEMORY, rounded inwards
 *                   3 (ACPI reclaim) -> EFI_ACPI_RECLAIM_MEMORY, rounded outwards
 *                   4 (ACPI NVS)     -> EFI_ACPI_MEMORY_NVS,     rounded outwards
 *                   5 (bad RAM)      -> EFI_UNUSABLE_MEMORY,     rounded outwards
 *                   anything else    -> EFI_RESERVED_MEMORY_TYPE, rounded outwards
 *   carve-outs (.boot32 area, kernel image, the mbi, every module)
 *                                    -> EFI_LOADER_DATA, rounded outwards.
 * Available entries are merged with each other before the inward rounding, so
 * a page split between two touching available entries is not lost. Where
 * inputs overlap, the more restrictive type wins:
 *   RESERVED > UNUSABLE > ACPI_NVS > ACPI_RECLAIM > LOADER_DATA > CONVENTIONAL,
 * and a carve-out that overlaps anything but available memory is an error
 * (the kernel would otherwise free firmware memory or lose its own image).
 * The output is sorted, non-overlapping, without empty entries, and adjacent
 * entries of one type are merged.
 */
#include "mb2_boot_info.h"

#define PAGE_SIZE_4K     4096ull
#define MB2_MBI_MAX      (1u << 20)      /* sanity bound on the mbi's total_size */
#define FOUR_GIB         0x100000000ull

/* entry32.S emits struct mb2_layout as six .quad in this order. */
_Static_assert(offsetof(struct mb2_layout, boot32_start) == 0, "mb2_layout order");
_Static_assert(offsetof(struct mb2_layout, boot32_end) == 8, "mb2_layout order");
_Static_assert(offsetof(struct mb2_layout, boot_tables_phys) == 16, "mb2_layout order");
_Static_assert(offsetof(struct mb2_layout, boot_tables_size) == 24, "mb2_layout order");
_Static_assert(offsetof(struct mb2_layout, kernel_phys_base) == 32, "mb2_layout order");
_Static_assert(offsetof(struct mb2_layout, kernel_phys_size) == 40, "mb2_layout order");
_Static_assert(sizeof(struct mb2_layout) == 48, "mb2_layout size");
_Static_assert(sizeof(struct boot_mem_desc) == 40, "boot_mem_desc is EFI_MEMORY_DESCRIPTOR");

/* ---- little helpers (no libc here) ---- */

/* Little-endian loads from possibly unaligned mbi bytes. */
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Round down / up to 4 KiB; round-up saturates at the last page boundary below 2^64. */
static uint64_t page_down(uint64_t x)
{
	return x & ~(PAGE_SIZE_4K - 1);
}

static uint64_t page_up(uint64_t x)
{
	if (x > UINT64_MAX - (PAGE_SIZE_4K - 1))
		return page_down(UINT64_MAX);
	return page_down(x + PAGE_SIZE_4K - 1);
}

/* base + len, saturated at UINT64_MAX (a map entry may run to the top). */
static uint64_t end_of(uint64_t base, uint64_t len)
{
	return len > UINT64_MAX - base ? UINT64_MAX : base + len;
}

/* Zero n bytes. Written as a volatile byte loop so the compiler cannot turn it
 * into a memset call (no library is usable yet). */
static void zero_bytes(void *p, size_t n)
{
	volatile uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = 0;
}

/* Message builder for st->error: appends, always NUL-terminated, truncates silently
 * (the message is diagnostic only). */
struct msg {
	char *buf;
	size_t cap;
	size_t len;
};

static void msg_str(struct msg *m, const char *s)
{
	while (*s && m->len + 1 < m->cap)
		m->buf[m->len++] = *s++;
	m->buf[m->len] = '\0';
}

static void msg_hex(struct msg *m, uint64_t v)
{
	char tmp[19];
	int n = 0;
	tmp[n++] = '0';
	tmp[n++] = 'x';
	int shift = 60;
	while (shift > 0 && ((v >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		tmp[n++] = "0123456789abcdef"[(v >> shift) & 0xf];
	tmp[n] = '\0';
	msg_str(m, tmp);
}

/* Start st->error with the function name; returns the builder for details. */
static struct msg fail_begin(struct mb2_boot_state *st, const char *what)
{
	struct msg m = { st->error, MB2_ERROR_MAX, 0 };
	msg_str(&m, "\nferrous: mb2_convert: ");
	msg_str(&m, what);
	return m;
}

/* Finish a failure message; returns the error result of mb2_convert. */
static int fail_end(struct msg *m)
{
	msg_str(m, "; halting\n");
	return -1;
}

/* A failure without values. */
static int fail(struct mb2_boot_state *st, const char *what)
{
	struct msg m = fail_begin(st, what);
	return fail_end(&m);
}

/* ---- memory map ---- */

/* Overlap rank: the higher rank wins where inputs overlap. */
static unsigned type_rank(uint32_t efi_type)
{
	switch (efi_type) {
	case EFI_CONVENTIONAL_MEMORY:  return 1;
	case EFI_LOADER_DATA:          return 2;
	case EFI_ACPI_RECLAIM_MEMORY:  return 3;
	case EFI_ACPI_MEMORY_NVS:      return 4;
	case EFI_UNUSABLE_MEMORY:      return 5;
	default:                       return 6;   /* EFI_RESERVED_MEMORY_TYPE */
	}
}

/* Multiboot2 memory type -> EFI type for the non-available kinds. */
static uint32_t efi_type_of_mb2(uint32_t mb2_type)
{
	switch (mb2_type) {
	case MB2_MEM_AVAILABLE:    return EFI_CONVENTIONAL_MEMORY;
	case MB2_MEM_ACPI_RECLAIM: return EFI_ACPI_RECLAIM_MEMORY;
	case MB2_MEM_NVS:          return EFI_ACPI_MEMORY_NVS;
	case MB2_MEM_BADRAM:       return EFI_UNUSABLE_MEMORY;
	default:                   return EFI_RESERVED_MEMORY_TYPE;
	}
}

/* Sort ranges by start (insertion sort: n is small and this runs once). */
static void sort_ranges(struct mb2_range *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct mb2_range key = r[i];
		size_t j = i;
		while (j > 0 && r[j - 1].start > key.start) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = key;
	}
}

/* Sort n values ascending and drop duplicates; returns the new count. */
static size_t sort_unique(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t key = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > key) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = key;
	}
	size_t out = 0;
	for (size_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/* Conversion context: the state being built and its scratch. */
struct conv {
	struct mb2_boot_state *st;
	struct mb2_scratch *sc;
	size_t nranges;
	size_t navail;
	size_t nmmap;
};

/* Add a typed range [start, end) (already rounded); empty ranges are dropped.
 * Returns 0, or -1 (with st->error) when the scratch is full. */
static int add_range(struct conv *c, uint64_t start, uint64_t end, uint32_t type)
{
	if (start >= end)
		return 0;
	if (c->nranges == MB2_RANGES_MAX)
		return fail(c->st, "more than MB2_RANGES_MAX memory ranges in the mbi");
	c->sc->ranges[c->nranges++] = (struct mb2_range){ start, end, type };
	return 0;
}

/* Append [start, end) of `type` to the output, merging with the previous
 * descriptor when it touches and has the same type. Inputs arrive sorted. */
static int emit_desc(struct conv *c, uint64_t start, uint64_t end, uint32_t type)
{
	struct boot_mem_desc *d = c->st->mmap;
	if (c->nmmap > 0) {
		struct boot_mem_desc *last = &d[c->nmmap - 1];
		if (last->type == type && last->phys_start + last->num_pages * PAGE_SIZE_4K == start) {
			last->num_pages += (end - start) / PAGE_SIZE_4K;
			return 0;
		}
	}
	if (c->nmmap == MB2_MMAP_MAX)
		return fail(c->st, "more than MB2_MMAP_MAX descriptors after conversion");
	struct boot_mem_desc *n = &d[c->nmmap++];
	n->type = type;
	n->pad = 0;
	n->phys_start = start;
	n->virt_start = 0;
	n->num_pages = (end - start) / PAGE_SIZE_4K;
	n->attribute = 0;
	return 0;
}

/* Merge the raw available ranges, round them inwards and add them as conventional memory. */
static int add_available(struct conv *c)
{
	struct mb2_range *a = c->sc->avail;
	sort_ranges(a, c->navail);
	size_t i = 0;
	while (i < c->navail) {
		uint64_t start = a[i].start, end = a[i].end;
		size_t j = i + 1;
		while (j < c->navail && a[j].start <= end) {
			if (a[j].end > end)
				end = a[j].end;
			j++;
		}
		if (add_range(c, page_up(start), page_down(end), EFI_CONVENTIONAL_MEMORY) != 0)
			return -1;
		i = j;
	}
	return 0;
}

/* Resolve overlaps by rank over the elementary intervals between all range
 * boundaries, and emit the sorted descriptors. */
static int sweep(struct conv *c)
{
	struct mb2_scratch *sc = c->sc;
	size_t np = 0;
	for (size_t i = 0; i < c->nranges; i++) {
		sc->points[np++] = sc->ranges[i].start;
		sc->points[np++] = sc->ranges[i].end;
	}
	np = sort_unique(sc->points, np);
	for (size_t p = 0; p + 1 < np; p++) {
		uint64_t a = sc->points[p], b = sc->points[p + 1];
		unsigned best_rank = 0;
		uint32_t best_type = 0;
		for (size_t i = 0; i < c->nranges; i++) {
			const struct mb2_range *r = &sc->ranges[i];
			if (r->start <= a && r->end >= b && type_rank(r->type) > best_rank) {
				best_rank = type_rank(r->type);
				best_type = r->type;
			}
		}
		if (best_rank == 0)
			continue;   /* a hole in the map */
		if (emit_desc(c, a, b, best_type) != 0)
			return -1;
	}
	return 0;
}

/* A carve-out [start, end) must come out as EFI_LOADER_DATA everywhere, i.e. it
 * overlapped only available memory (or holes). */
static int check_carve_out(struct conv *c, const char *what, uint64_t start, uint64_t end)
{
	start = page_down(start);
	end = page_up(end);
	for (size_t i = 0; i < c->nmmap; i++) {
		const struct boot_mem_desc *d = &c->st->mmap[i];
		uint64_t d_end = d->phys_start + d->num_pages * PAGE_SIZE_4K;
		if (d->phys_start < end && start < d_end && d->type != EFI_LOADER_DATA) {
			struct msg m = fail_begin(c->st, what);
			msg_str(&m, " [");
			msg_hex(&m, start);
			msg_str(&m, ", ");
			msg_hex(&m, end);
			msg_str(&m, ") overlaps firmware memory of EFI type ");
			msg_hex(&m, d->type);
			msg_str(&m, " at ");
			msg_hex(&m, d->phys_start);
			return fail_end(&m);
		}
	}
	return 0;
}

/* ---- the mbi ---- */

/* Copy the NUL-terminated string of a tag (bytes [8, size) of the tag) into
 * dst[cap]. Returns its length, or -1 when it is unterminated or does not fit
 * and `must_fit`; when !must_fit it is truncated to cap - 1 bytes. */
static long copy_tag_string(const uint8_t *tag, uint32_t size, size_t skip, char *dst, size_t cap,
			    int must_fit)
{
	const uint8_t *s = tag + skip;
	size_t avail = size - skip;
	size_t len = 0;
	while (len < avail && s[len] != 0)
		len++;
	if (len == avail)
		return -1;   /* no NUL inside the tag */
	if (len + 1 > cap) {
		if (must_fit)
			return -1;
		len = cap - 1;
	}
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)s[i];
	dst[len] = '\0';
	return (long)len;
}

/* Add every entry of an mmap tag as a raw range. */
static int parse_mmap(struct conv *c, const uint8_t *tag, uint32_t size)
{
	if (size < 16)
		return fail(c->st, "mmap tag shorter than its 16-byte header");
	uint32_t entry_size = rd32(tag + 8);
	if (entry_size < 24 || entry_size % 8 != 0) {
		struct msg m = fail_begin(c->st, "mmap tag entry_size ");
		msg_hex(&m, entry_size);
		msg_str(&m, " is not a multiple of 8 that is >= 24");
		return fail_end(&m);
	}
	for (uint32_t off = 16; off + entry_size <= size; off += entry_size) {
		const uint8_t *e = tag + off;
		uint64_t base = rd64(e), len = rd64(e + 8);
		uint32_t type = rd32(e + 16);
		if (len == 0)
			continue;
		uint64_t end = end_of(base, len);
		if (type == MB2_MEM_AVAILABLE) {
			if (c->navail == MB2_RANGES_MAX)
				return fail(c->st, "more than MB2_RANGES_MAX available entries in the mmap tag");
			c->sc->avail[c->navail++] = (struct mb2_range){ base, end, EFI_CONVENTIONAL_MEMORY };
		} else if (add_range(c, page_down(base), page_up(end), efi_type_of_mb2(type)) != 0) {
			return -1;
		}
	}
	return 0;
}

int mb2_convert(const void *mbi_v, uint64_t mbi_phys, const struct mb2_layout *layout,
		struct mb2_boot_state *st, uint64_t st_phys, struct mb2_scratch *scratch)
{
	const uint8_t *mbi = mbi_v;
	struct conv c = { st, scratch, 0, 0, 0 };
	struct boot_info *bi = &st->info;

	zero_bytes(bi, sizeof(*bi));
	st->error[0] = '\0';

	if (mbi_phys % 8 != 0 || mbi_phys == 0) {
		struct msg m = fail_begin(st, "mbi address ");
		msg_hex(&m, mbi_phys);
		msg_str(&m, " is 0 or not 8-byte aligned");
		return fail_end(&m);
	}
	uint32_t total = rd32(mbi);
	if (total < 16 || total > MB2_MBI_MAX) {
		struct msg m = fail_begin(st, "mbi total_size ");
		msg_hex(&m, total);
		msg_str(&m, " outside [0x10, 0x100000]");
		return fail_end(&m);
	}
	if (layout->kernel_phys_base % PAGE_SIZE_4K != 0 || layout->boot_tables_phys % PAGE_SIZE_4K != 0 ||
	    layout->boot32_start >= layout->boot32_end || layout->kernel_phys_size == 0)
		return fail(st, "mb2_layout from entry32.S is inconsistent (alignment or empty range)");

	int have_mmap = 0, have_end = 0, have_acpi_new = 0, have_cmdline = 0, have_name = 0;
	uint64_t rsdp = 0;
	unsigned nmodules = 0;

	uint32_t off = 8;
	while (off + 8 <= total) {
		const uint8_t *tag = mbi + off;
		uint32_t type = rd32(tag), size = rd32(tag + 4);
		if (size < 8 || size > total - off) {
			struct msg m = fail_begin(st, "tag at mbi+");
			msg_hex(&m, off);
			msg_str(&m, " type ");
			msg_hex(&m, type);
			msg_str(&m, " has size ");
			msg_hex(&m, size);
			msg_str(&m, " outside the mbi (total_size ");
			msg_hex(&m, total);
			msg_str(&m, ")");
			return fail_end(&m);
		}
		if (type == MB2_TAG_END) {
			have_end = 1;
			break;
		}
		switch (type) {
		case MB2_TAG_CMDLINE: {
			long len = copy_tag_string(tag, size, 8, st->cmdline, MB2_CMDLINE_MAX, 1);
			if (len < 0)
				return fail(st, "cmdline tag unterminated or longer than MB2_CMDLINE_MAX - 1 bytes");
			bi->cmdline_phys = st_phys + offsetof(struct mb2_boot_state, cmdline);
			bi->cmdline_len = (uint64_t)len;
			have_cmdline = 1;
			break;
		}
		case MB2_TAG_LOADER_NAME:
			if (copy_tag_string(tag, size, 8, bi->loader_name, sizeof(bi->loader_name), 0) < 0)
				return fail(st, "boot loader name tag unterminated");
			have_name = 1;
			break;
		case MB2_TAG_MODULE: {
			if (size < 17)
				return fail(st, "module tag shorter than 17 bytes");
			uint64_t mod_start = rd32(tag + 8), mod_end = rd32(tag + 12);
			if (mod_end < mod_start) {
				struct msg m = fail_begin(st, "module ends before it starts: ");
				msg_hex(&m, mod_start);
				msg_str(&m, " .. ");
				msg_hex(&m, mod_end);
				return fail_end(&m);
			}
			if (nmodules == 0) {
				bi->initrd_phys = mod_start;
				bi->initrd_size = mod_end - mod_start;
			}
			nmodules++;
			/* an empty module occupies no memory (add_range drops empty ranges, but
			 * rounding an unaligned empty one outwards would make it a page) */
			if (mod_end > mod_start &&
			    add_range(&c, page_down(mod_start), page_up(mod_end), EFI_LOADER_DATA) != 0)
				return -1;
			break;
		}
		case MB2_TAG_MMAP:
			if (have_mmap)
				return fail(st, "more than one mmap tag");
			if (parse_mmap(&c, tag, size) != 0)
				return -1;
			have_mmap = 1;
			break;
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW:
			if (size < 8 + 20)
				return fail(st, "ACPI tag too short for an RSDP");
			/* The tag holds a copy of the RSDP: record where that copy is. */
			if (type == MB2_TAG_ACPI_NEW) {
				rsdp = mbi_phys + off + 8;
				have_acpi_new = 1;
			} else if (!have_acpi_new) {
				rsdp = mbi_phys + off + 8;
			}
			break;
		default:
			break;   /* tags the kernel does not use */
		}
		off += (size + 7) & ~7u;
	}
	if (!have_end)
		return fail(st, "mbi has no end tag within total_size");
	if (!have_mmap)
		return fail(st, "mbi has no memory map (tag 6)");

	/* Carve-outs (the modules were added while parsing). */
	uint64_t kernel_size = page_up(layout->kernel_phys_size);
	uint64_t kernel_end = layout->kernel_phys_base + kernel_size;
	if (add_range(&c, page_down(layout->boot32_start), page_up(layout->boot32_end), EFI_LOADER_DATA) != 0 ||
	    add_range(&c, layout->kernel_phys_base, kernel_end, EFI_LOADER_DATA) != 0 ||
	    add_range(&c, page_down(mbi_phys), page_up(mbi_phys + total), EFI_LOADER_DATA) != 0)
		return -1;
	if (add_available(&c) != 0 || sweep(&c) != 0)
		return -1;
	if (c.nmmap == 0)
		return fail(st, "memory map is empty after conversion");
	if (check_carve_out(&c, ".boot32 area", layout->boot32_start, layout->boot32_end) != 0 ||
	    check_carve_out(&c, "kernel image", layout->kernel_phys_base, kernel_end) != 0 ||
	    check_carve_out(&c, "mbi", mbi_phys, mbi_phys + total) != 0)
		return -1;
	for (size_t i = 0; i < c.nranges; i++) {
		/* every module is a LOADER_DATA input range; the three above are too */
		const struct mb2_range *r = &scratch->ranges[i];
		if (r->type == EFI_LOADER_DATA && check_carve_out(&c, "module", r->start, r->end) != 0)
			return -1;
	}

	bi->magic = BOOT_INFO_MAGIC;
	bi->version = BOOT_INFO_VERSION;
	bi->size = sizeof(struct boot_info);
	bi->boot_path = BOOT_PATH_MULTIBOOT2;
	bi->mmap_phys = st_phys + offsetof(struct mb2_boot_state, mmap);
	bi->mmap_count = c.nmmap;
	bi->mmap_desc_size = sizeof(struct boot_mem_desc);
	bi->rsdp_phys = rsdp;
	bi->kernel_phys_base = layout->kernel_phys_base;
	bi->kernel_phys_size = kernel_size;
	if (!have_cmdline) {
		st->cmdline[0] = '\0';
		bi->cmdline_phys = 0;
		bi->cmdline_len = 0;
	}
	bi->boot_tables_phys = layout->boot_tables_phys;
	bi->boot_tables_size = layout->boot_tables_size;
	bi->direct_map_limit = FOUR_GIB;
	if (!have_name) {
		const char *dflt = "multiboot2";
		size_t i = 0;
		for (; dflt[i]; i++)
			bi->loader_name[i] = dflt[i];
		bi->loader_name[i] = '\0';
	}
	return 0;
}

#ifdef __FERROUS_KERNEL__
/* The output lives in .data (see struct mb2_boot_state); the scratch in .bss. */
static struct mb2_boot_state mb2_state __attribute__((section(".data.mb2_boot_state")));
static struct mb2_scratch mb2_scratch;

uint64_t mb2_boot_info_from_mbi(uint64_t mbi_phys, const struct mb2_layout *layout, const char **error)
{
	/* mb2_state is part of the kernel image, which GRUB loaded at kernel_phys_base. */
	uint64_t st_phys = (uint64_t)(uintptr_t)&mb2_state - KERNEL_VBASE + layout->kernel_phys_base;
	/* SAFETY: GRUB passed mbi_phys in EBX, so it is below 4 GiB, and entry32.S's
	 * boot tables identity-map [0, 4 GiB): the mbi is readable at its physical
	 * address. Nothing has reused its memory yet (it is carved out as LOADER_DATA). */
	const void *mbi = (const void *)(uintptr_t)mbi_phys;

	if (mb2_convert(mbi, mbi_phys, layout, &mb2_state, st_phys, &mb2_scratch) != 0) {
		*error = mb2_state.error;
		return 0;
	}
	*error = 0;
	return st_phys + offsetof(struct mb2_boot_state, info);
}
#endif
