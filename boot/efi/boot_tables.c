/*
 * boot_tables.c - the page tables the kernel is entered with (contract in
 * kernel/boot_info.h):
 *
 *   PML4[0]   -> PDPT -> PDs of 2 MiB pages: identity of [0, limit)
 *   PML4[256] -> PDPT -> PDs of 2 MiB pages: DIRECT_MAP_BASE + [0, limit)
 *   PML4[511] -> PDPT[510] -> PD -> PTs of 4 KiB pages: KERNEL_VBASE + [0, size)
 *                                                         -> phys_base + [0, size)
 *
 * All entries present + writable, executable, supervisor. The identity and
 * direct-map trees are separate frames so the kernel can drop the identity
 * map (PML4[0]) without touching the direct map. Frame order inside the
 * contiguous block:
 *
 *   [0] PML4  [1] identity PDPT  [2] direct PDPT  [3] kernel PDPT  [4] kernel PD
 *   [5 .. 5+g)     identity PDs, g = limit / 1 GiB
 *   [5+g .. 5+2g)  direct-map PDs
 *   [5+2g ..)      kernel PTs, one per 2 MiB of image
 */
#include "loader.h"

#define PTE_PRESENT   0x001ULL
#define PTE_WRITABLE  0x002ULL
#define PTE_HUGE      0x080ULL   /* PS: a 2 MiB page in a PD entry */
#define ENTRIES       512
#define SIZE_2M       (1ULL << 21)
#define SIZE_1G       (1ULL << 30)

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va)   (((va) >> 21) & 511)
#define PT_INDEX(va)   (((va) >> 12) & 511)

_Static_assert(PD_INDEX(KERNEL_VBASE) == 0 && PT_INDEX(KERNEL_VBASE) == 0,
	       "KERNEL_VBASE is 1 GiB aligned, so the image starts at PD[0], PT[0]");
_Static_assert(PDPT_INDEX(DIRECT_MAP_BASE) == 0 && PD_INDEX(DIRECT_MAP_BASE) == 0,
	       "DIRECT_MAP_BASE is 512 GiB aligned, so the direct map starts at PDPT[0]");

uint64_t boot_tables_pages(uint64_t direct_map_limit, uint64_t kernel_size)
{
	uint64_t gib = direct_map_limit / SIZE_1G;
	uint64_t pts = (kernel_size + SIZE_2M - 1) / SIZE_2M;
	return 5 + 2 * gib + pts;
}

/* The frame at index i of the block, as a table. */
static uint64_t *frame(uint64_t tables_phys, uint64_t i)
{
	/* SAFETY: boot services identity-map memory (and enter_kernel keeps the identity map), and
	 * callers pass i < boot_tables_pages(), i.e. inside the block allocated for the tables. */
	return (uint64_t *)(uintptr_t)(tables_phys + i * PAGE_SIZE);
}

/* Fills `gib` PDs (frames first..first+gib) with 2 MiB pages of [0, gib GiB) and points pdpt at them. */
static void map_low_gib(uint64_t tables_phys, uint64_t *pdpt, uint64_t first, uint64_t gib)
{
	for (uint64_t g = 0; g < gib; g++) {
		uint64_t *pd = frame(tables_phys, first + g);
		for (uint64_t e = 0; e < ENTRIES; e++)
			pd[e] = (g * SIZE_1G + e * SIZE_2M) | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE;
		pdpt[g] = (tables_phys + (first + g) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
	}
}

void boot_tables_build(uint64_t tables_phys, uint64_t tables_pages, uint64_t direct_map_limit,
		       const struct kernel_image *k)
{
	uint64_t gib = direct_map_limit / SIZE_1G;
	if (direct_map_limit % SIZE_1G || gib == 0 || gib > ENTRIES || k->size > SIZE_1G ||
	    boot_tables_pages(direct_map_limit, k->size) > tables_pages)
		loader_fail_final("boot_tables_build: limit 0x%lx, kernel %lu bytes do not fit %lu table pages",
				  direct_map_limit, k->size, tables_pages);
	bs_zero(frame(tables_phys, 0), tables_pages * PAGE_SIZE);

	uint64_t *pml4 = frame(tables_phys, 0);
	uint64_t *id_pdpt = frame(tables_phys, 1), *dm_pdpt = frame(tables_phys, 2);
	uint64_t *k_pdpt = frame(tables_phys, 3), *k_pd = frame(tables_phys, 4);

	pml4[0] = (tables_phys + 1 * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
	pml4[PML4_INDEX(DIRECT_MAP_BASE)] = (tables_phys + 2 * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
	pml4[PML4_INDEX(KERNEL_VBASE)] = (tables_phys + 3 * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
	map_low_gib(tables_phys, id_pdpt, 5, gib);
	map_low_gib(tables_phys, dm_pdpt, 5 + gib, gib);

	k_pdpt[PDPT_INDEX(KERNEL_VBASE)] = (tables_phys + 4 * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
	uint64_t first_pt = 5 + 2 * gib;
	for (uint64_t off = 0; off < k->size; off += PAGE_SIZE) {
		uint64_t pt_frame = first_pt + off / SIZE_2M;
		if (PT_INDEX(off) == 0)
			k_pd[PD_INDEX(off)] = (tables_phys + pt_frame * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
		frame(tables_phys, pt_frame)[PT_INDEX(off)] = (k->phys_base + off) | PTE_PRESENT | PTE_WRITABLE;
	}
}
