/*
 * pmm_map.c - building a pmm node from a classified memory map (kernel/mm/memmap.h), and reclaiming the
 * frames held back at boot. Shared by the kernel's pmm_init and the host tests.
 *
 * States after pmm_node_from_map:
 *   usable-now RAM below the window limit              FREE
 *   usable-now RAM at or above it                      LOADER (held back: phys_to_virt cannot reach it yet)
 *   loader code/data, the boot page tables             LOADER (freed by pmm_node_reclaim_loader)
 *   the kernel image, the node's own metadata          KERNEL
 *   firmware RAM, the first MiB, the initrd, the RSDP  RESERVED
 *   reserved ranges, MMIO, holes, anything past the    ABSENT (not counted in total; firmware RAM past the
 *   last usable frame                                   span: memmap_ram_pages(m, span), pmm_boot.c reports it)
 */
#include "mm/pmm.h"
#include "mm/memmap.h"
#include "mm/physmem.h"
#include "panic.h"

#define LOW_PFNS (MEMMAP_LOW_END >> PAGE_SHIFT)

/* Frame state of a memmap kind at boot (USABLE is split at the window by the caller). */
static enum frame_state boot_state_of(enum memmap_kind k)
{
	switch (k) {
	case MEMMAP_USABLE:      return FRAME_FREE;
	case MEMMAP_LOADER:      return FRAME_LOADER;
	case MEMMAP_BOOT_TABLES: return FRAME_LOADER;
	case MEMMAP_KERNEL:      return FRAME_KERNEL;
	case MEMMAP_FIRMWARE:
	case MEMMAP_INITRD:
	case MEMMAP_RSDP:
	case MEMMAP_LOW:         return FRAME_RESERVED;
	default:                 return FRAME_ABSENT;
	}
}

/* Builds n over frame 0 .. the end of the last RAM the kernel may ever use (usable, loader or carved), with its
 * metadata in the first usable run above 1 MiB that lies wholly below the physmem window's limit.
 * MM_ERR_OUT_OF_MEMORY (n untouched) when the map has no such RAM or no run big enough for the metadata. */
mm_err_t pmm_node_from_map(struct pmm_node *n, enum pmm_kind kind, const struct memmap *m,
			   struct pmm_map_layout *out)
{
	uint64_t span = 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct memmap_range *r = &m->ranges[i];
		if (memmap_kind_is_ram(r->kind) && r->kind != MEMMAP_FIRMWARE && r->kind != MEMMAP_LOW)
			span = r->base_pfn + r->npages;
	}
	out->span = span;
	out->meta_pfn = 0;
	out->meta_pages = 0;
	if (span == 0)
		return MM_ERR_OUT_OF_MEMORY;

	uint64_t meta_pages = align_up(pmm_node_meta_bytes(kind, 0, span), PAGE_SIZE) / PAGE_SIZE;
	uint64_t window_pfn = physmem_window_limit() >> PAGE_SHIFT, meta_pfn = 0;
	out->meta_pages = meta_pages;
	for (size_t i = 0; i < m->count && !meta_pfn; i++) {
		const struct memmap_range *r = &m->ranges[i];
		uint64_t lo = r->base_pfn < LOW_PFNS ? LOW_PFNS : r->base_pfn;
		if (r->kind == MEMMAP_USABLE && lo + meta_pages <= r->base_pfn + r->npages &&
		    lo + meta_pages <= window_pfn && physmem_in_window(pfn_to_paddr(pfn(lo)), meta_pages * PAGE_SIZE))
			meta_pfn = lo;
	}
	if (!meta_pfn)
		return MM_ERR_OUT_OF_MEMORY;
	out->meta_pfn = meta_pfn;

	pmm_node_init(n, 0, kind, 0, span, phys_to_virt(pfn_to_paddr(pfn(meta_pfn))));
	for (size_t i = 0; i < m->count; i++) {
		const struct memmap_range *r = &m->ranges[i];
		uint64_t lo = r->base_pfn, hi = r->base_pfn + r->npages;
		enum frame_state st = boot_state_of(r->kind);
		if (lo >= span || st == FRAME_ABSENT)
			continue;
		if (hi > span)
			hi = span;
		if (st == FRAME_FREE && hi > window_pfn) {   /* hold back what the window cannot reach yet */
			uint64_t cut = lo > window_pfn ? lo : window_pfn;
			pmm_node_set_state(n, cut, hi - cut, FRAME_LOADER);
			hi = cut;
		}
		if (hi > lo)
			pmm_node_set_state(n, lo, hi - lo, st);
	}
	pmm_node_set_state(n, meta_pfn, meta_pages, FRAME_KERNEL);
	return MM_OK;
}

/* Frees every LOADER frame of n and returns how many; panics if the window does not reach one of them yet. */
uint64_t pmm_node_reclaim_loader(struct pmm_node *n)
{
	uint64_t freed = 0;
	for (uint64_t i = 0; i < n->nframes;) {
		if (n->state[i] != FRAME_LOADER) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < n->nframes && n->state[j] == FRAME_LOADER)
			j++;
		if (!physmem_in_window(pfn_to_paddr(pfn(n->base_pfn + i)), (j - i) * PAGE_SIZE))
			panic("pmm_reclaim_loader: pfns [0x%lx, 0x%lx) still outside the direct map (limit 0x%lx)",
			      n->base_pfn + i, n->base_pfn + j, physmem_window_limit());
		pmm_node_set_state(n, n->base_pfn + i, j - i, FRAME_FREE);
		freed += j - i;
		i = j;
	}
	return freed;
}
