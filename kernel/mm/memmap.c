/*
 * memmap.c - the pure memory-map parser (see memmap.h).
 *
 * Algorithm: a sweep over page numbers. The interval boundaries are the
 * starts and ends of all descriptors and carve-outs; between two consecutive
 * boundaries the class is constant, and is the highest-priority descriptor
 * class covering it, overridden by the highest carve-out covering it when that
 * class is RAM. Each step finds the next boundary and classifies one interval:
 * O((descriptors + carves)^2), with descriptors <= MEMMAP_MAX_DESCS. Nothing is
 * copied or sorted, so the input is only read.
 */
#include "mm/memmap.h"
#include "boot_info.h"
#include "printk.h"

#define MAX_PFN (1ULL << (52 - PAGE_SHIFT))   /* physical addresses are < 2^52 */

/* Name of a kind. */
const char *memmap_kind_name(enum memmap_kind k)
{
	static const char *const names[MEMMAP_KIND_COUNT] = {
		"none", "usable", "loader", "firmware", "reserved", "not_ram", "boot_tables", "initrd", "rsdp", "low",
		"kernel",
	};
	return (unsigned)k < MEMMAP_KIND_COUNT ? names[k] : "invalid";
}

/* Writes "msg 0x<value>" into out->err and rejects the map (snprintk only formats: this file stays pure). */
static mm_err_t reject(struct memmap *out, const char *msg, uint64_t value)
{
	snprintk(out->err, sizeof out->err, "%s 0x%lx", msg, value);
	out->count = 0;
	return MM_ERR_INVALID_ADDRESS;
}

/* Descriptor i of the array. */
static const struct boot_mem_desc *desc_at(const void *descs, uint64_t desc_size, uint64_t i)
{
	return (const struct boot_mem_desc *)((const char *)descs + i * desc_size);
}

/* Appends [lo, hi) of kind k to out, merging with the previous range when adjacent and equal. */
static bool emit(struct memmap *out, uint64_t lo, uint64_t hi, enum memmap_kind k)
{
	if (k == MEMMAP_NONE || lo == hi)
		return true;
	if (out->count > 0) {
		struct memmap_range *last = &out->ranges[out->count - 1];
		if (last->kind == k && last->base_pfn + last->npages == lo) {
			last->npages += hi - lo;
			return true;
		}
	}
	if (out->count == out->cap)
		return false;
	out->ranges[out->count++] = (struct memmap_range){ .base_pfn = lo, .npages = hi - lo, .kind = k };
	return true;
}

/* carve_applies: whether a carve-out of kind carve overrides descriptor class cls: only RAM, and a
 * reclaimable carve-out (boot tables, freed with loader data) only usable or loader RAM, so firmware RAM
 * under it is never handed out after pmm_reclaim_loader. */
static bool carve_applies(enum memmap_kind carve, enum memmap_kind cls)
{
	if (carve == MEMMAP_BOOT_TABLES)
		return cls == MEMMAP_USABLE || cls == MEMMAP_LOADER;
	return cls == MEMMAP_USABLE || cls == MEMMAP_LOADER || cls == MEMMAP_FIRMWARE;
}

/* Builds the classified range list (see memmap.h). */
mm_err_t memmap_build(const void *descs, uint64_t count, uint64_t desc_size,
		      const struct memmap_carve *carves, size_t ncarves, struct memmap *out)
{
	out->count = 0;
	out->zero_length = 0;
	out->overlaps = 0;
	out->unsorted = false;
	out->err[0] = '\0';

	/* Validate everything first; nothing is emitted from a map that fails. */
	if (count > MEMMAP_MAX_DESCS)
		return reject(out, "memmap_build: too many descriptors:", count);
	if (desc_size < sizeof(struct boot_mem_desc) || desc_size % 8 != 0 || desc_size > 4096)
		return reject(out, "memmap_build: bad descriptor size:", desc_size);
	if (count > 0 && descs == NULL)
		return reject(out, "memmap_build: NULL descriptor array, count", count);
	uint64_t prev_start = 0;
	for (uint64_t i = 0; i < count; i++) {
		const struct boot_mem_desc *d = desc_at(descs, desc_size, i);
		if (d->phys_start & PAGE_MASK)
			return reject(out, "memmap_build: unaligned descriptor start:", d->phys_start);
		if (d->num_pages > MAX_PFN || (d->phys_start >> PAGE_SHIFT) > MAX_PFN - d->num_pages)
			return reject(out, "memmap_build: descriptor ends past 2^52, start", d->phys_start);
		if (d->num_pages == 0) {
			out->zero_length++;
			continue;
		}
		if (d->phys_start < prev_start)
			out->unsorted = true;
		prev_start = d->phys_start;
		for (uint64_t j = 0; j < i; j++) {
			const struct boot_mem_desc *e = desc_at(descs, desc_size, j);
			uint64_t a0 = d->phys_start >> PAGE_SHIFT, a1 = a0 + d->num_pages;
			uint64_t b0 = e->phys_start >> PAGE_SHIFT, b1 = b0 + e->num_pages;
			if (e->num_pages && a0 < b1 && b0 < a1)
				out->overlaps++;
		}
	}
	for (size_t c = 0; c < ncarves; c++) {
		if (carves[c].kind < MEMMAP_BOOT_TABLES || carves[c].kind >= MEMMAP_KIND_COUNT)
			return reject(out, "memmap_build: bad carve-out kind:", (uint64_t)carves[c].kind);
		if (carves[c].size && (carves[c].base >= (MAX_PFN << PAGE_SHIFT) ||
				       carves[c].size > (MAX_PFN << PAGE_SHIFT) - carves[c].base))
			return reject(out, "memmap_build: carve-out past 2^52, base", carves[c].base);
	}

	/* The sweep: cur is the start of the next elementary interval. */
	uint64_t cur = 0;
	for (;;) {
		uint64_t next = UINT64_MAX;
		enum memmap_kind cls = MEMMAP_NONE, carve = MEMMAP_NONE;
		for (uint64_t i = 0; i < count; i++) {
			const struct boot_mem_desc *d = desc_at(descs, desc_size, i);
			uint64_t lo = d->phys_start >> PAGE_SHIFT, hi = lo + d->num_pages;
			if (lo == hi)
				continue;
			if (lo > cur && lo < next)
				next = lo;
			if (hi > cur && hi < next)
				next = hi;
			if (lo <= cur && cur < hi) {
				enum memmap_kind k = memmap_classify(d->type);
				if (k > cls)
					cls = k;
			}
		}
		for (size_t c = 0; c < ncarves; c++) {
			if (carves[c].size == 0)
				continue;
			uint64_t lo = carves[c].base >> PAGE_SHIFT;
			uint64_t hi = align_up(carves[c].base + carves[c].size, PAGE_SIZE) >> PAGE_SHIFT;
			if (lo > cur && lo < next)
				next = lo;
			if (hi > cur && hi < next)
				next = hi;
			if (lo <= cur && cur < hi && carves[c].kind > carve && carve_applies(carves[c].kind, cls))
				carve = carves[c].kind;
		}
		if (next == UINT64_MAX)
			break;   /* nothing starts or ends after cur: the rest is a hole */
		if (carve != MEMMAP_NONE)
			cls = carve;
		if (!emit(out, cur, next, cls))
			return reject(out, "memmap_build: more output ranges than capacity", (uint64_t)out->cap);
		cur = next;
	}
	return MM_OK;
}

/* Frames of kind k in a built map. */
uint64_t memmap_pages_of(const struct memmap *m, enum memmap_kind k)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->count; i++)
		if (m->ranges[i].kind == k)
			n += m->ranges[i].npages;
	return n;
}

/* Frames of RAM at or above from_pfn in a built map. */
uint64_t memmap_ram_pages(const struct memmap *m, uint64_t from_pfn)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct memmap_range *r = &m->ranges[i];
		uint64_t lo = r->base_pfn > from_pfn ? r->base_pfn : from_pfn, hi = r->base_pfn + r->npages;
		if (memmap_kind_is_ram(r->kind) && lo < hi)
			n += hi - lo;
	}
	return n;
}
