/*
 * pmm_boot.c - the kernel's global pmm: built from boot_info's memory map, reclaim of loader memory, and the
 * end-of-run frame accounting line. Kernel only (the host tests drive pmm.c directly).
 *
 * One node until NUMA; the frame states it starts with are listed in pmm_map.c (pmm_node_from_map). The
 * window at pmm_init is the loader's direct map [0, direct_map_limit); usable RAM above it is held back as
 * LOADER and freed with the loader data by pmm_reclaim_loader once kas_init has mapped all RAM.
 */
#include "mm/pmm.h"
#include "mm/memmap.h"
#include "mm/physmem.h"
#include "boot_info.h"
#include "boot_info_check.h"
#include "cmdline.h"
#include "kstring.h"
#include "panic.h"
#include "printk.h"
#include "protocol.h"

CMDLINE_KEY(pmm, "frame allocator: bitmap or buddy (default buddy)");

static struct pmm_node kernel_node;
static struct memmap_range map_ranges[2 * MEMMAP_MAX_DESCS + 16];
static struct memmap boot_map = { .ranges = map_ranges, .cap = sizeof map_ranges / sizeof map_ranges[0] };
static uint64_t span_frames;
/* Firmware RAM the map describes above the span (ACPI/NVS/runtime ranges above the last usable RAM): never
 * tracked, always reserved. Counted in the `pmm` and `frames` lines' total and reserved, so that
 * frames.total * 4 == memmap.total_kib (both are all RAM of the map, by memmap_classify). */
static uint64_t untracked_frames;

/* The allocator the `pmm=` key asks for; reports a bad value and falls back to buddy. */
static enum pmm_kind chosen_kind(void)
{
	const char *v = cmdline_get("pmm");
	if (!v)
		return PMM_BUDDY;
	if (strcmp(v, "bitmap") == 0)
		return PMM_BITMAP;
	if (strcmp(v, "buddy") == 0)
		return PMM_BUDDY;
	cmdline_report_bad("pmm", v, "expected bitmap or buddy");
	return PMM_BUDDY;
}

/* Builds the global pmm from bi's memory map (see the table at the top); panics on a rejected map. */
void pmm_init(const struct boot_info *bi)
{
	physmem_init(bi);
	enum pmm_kind kind = chosen_kind();

	struct memmap_carve carves[] = {
		{ bi->kernel_phys_base, bi->kernel_phys_size, MEMMAP_KERNEL },
		{ bi->boot_tables_phys, bi->boot_tables_size, MEMMAP_BOOT_TABLES },
		{ bi->initrd_phys, bi->initrd_size, MEMMAP_INITRD },
		{ bi->rsdp_phys, bi->rsdp_phys ? 36 : 0, MEMMAP_RSDP },   /* ACPI 2.0 RSDP size */
		{ 0, MEMMAP_LOW_END, MEMMAP_LOW },
	};
	const void *descs = bi->mmap_count ? (const void *)boot_mmap_entry(0) : NULL;
	size_t ncarves = sizeof carves / sizeof carves[0];
	if (memmap_build(descs, bi->mmap_count, bi->mmap_desc_size, carves, ncarves, &boot_map) != MM_OK)
		panic("pmm_init: memory map rejected: %s", boot_map.err);
	if (boot_map.unsorted || boot_map.overlaps || boot_map.zero_length)
		printk("pmm_init: memory map had %s%lu overlapping pairs, %lu zero-length entries (handled)\n",
		       boot_map.unsorted ? "unsorted entries, " : "", boot_map.overlaps, boot_map.zero_length);

	struct pmm_map_layout lay;
	if (pmm_node_from_map(&kernel_node, kind, &boot_map, &lay) != MM_OK)
		panic("pmm_init: no usable RAM (span %lu frames) or no run of %lu pages below the direct map limit 0x%lx "
		      "for the frame metadata", lay.span, lay.meta_pages, physmem_window_limit());
	kernel_node.debug_fill = true;
	span_frames = lay.span;
	untracked_frames = memmap_ram_pages(&boot_map, lay.span);
	pmm_set_global(&kernel_node, 1);

	struct pmm_stats st;
	pmm_node_stats(&kernel_node, &st);
	proto_line("pmm", "allocator=%s total=%lu free=%lu loader=%lu meta_pfn=0x%lx meta_pages=%lu span=%lu",
		   pmm_kind_name(kind), st.total + untracked_frames, st.free, st.count[FRAME_LOADER], lay.meta_pfn,
		   lay.meta_pages, lay.span);
}

/* Frees every LOADER frame; the direct map must reach all of them (after kas_init's switch). */
void pmm_reclaim_loader(void)
{
	struct pmm_node *n = &kernel_node;
	uint64_t freed = pmm_node_reclaim_loader(n);
	proto_line("pmm_reclaim", "frames=%lu free=%lu", freed, n->count[FRAME_FREE]);
}

/* End (exclusive) of the physical span the pmm tracks. */
uint64_t pmm_phys_limit(void)
{
	return span_frames << PAGE_SHIFT;
}

/* Prints the `@@ frames` accounting line for all nodes (plus the untracked firmware RAM, as reserved). */
void pmm_report(void)
{
	struct pmm_stats t = { .total = untracked_frames };
	t.count[FRAME_RESERVED] = untracked_frames;
	for (unsigned i = 0; i < pmm_node_count(); i++) {
		struct pmm_stats st;
		pmm_stats(i, &st);
		t.total += st.total;
		for (int s = 0; s < FRAME_STATE_COUNT; s++)
			t.count[s] += st.count[s];
	}
	proto_line("frames", "total=%lu free=%lu allocated=%lu pagetable=%lu reserved=%lu kernel=%lu leaked=%ld "
		   "heap=%lu loader=%lu", t.total, t.count[FRAME_FREE], t.count[FRAME_ALLOCATED],
		   t.count[FRAME_PAGETABLE], t.count[FRAME_RESERVED], t.count[FRAME_KERNEL], pmm_leaked(),
		   t.count[FRAME_HEAP], t.count[FRAME_LOADER]);
}
