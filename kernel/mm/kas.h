/*
 * kas.h - the kernel address space: built once by kas_init() and loaded in CR3.
 *
 *   0x0000000000000000 - 0x00007fffffffffff   user space (empty in the kernel's tables)
 *   0xffff800000000000 (DIRECT_MAP_BASE)       direct map of all RAM the memory map
 *                                               describes (memmap_classify: usable, loader,
 *                                               firmware) and the first MiB: RW+NX; firmware-
 *                                               reserved ranges (type 0, OEM) below 4 GiB: R+NX;
 *                                               never MMIO/PAL; global, largest pages that fit;
 *                                               the kernel's text+rodata alias is R+NX. The
 *                                               physmem window is exactly these runs.
 *   0xffffc00000000000 (KAS_SCRATCH_BASE)      512 GiB scratch region for tests (empty)
 *   0xffffffff80000000 (KERNEL_VBASE)          the kernel image, 4 KiB pages, global:
 *                                               text R+X, rodata R+NX, data/bss RW+NX; the
 *                                               lowest page of the boot stack is left
 *                                               unmapped as its guard page
 *
 * After kas_init the low identity map of the loader is gone, EFER.NXE, CR0.WP
 * (and CR4.PGE when the CPU has it) are on, and loader memory (boot_info, the
 * memory map, the command line, the boot page tables) has been given back to
 * the frame allocator: nothing may read boot_info after kas_init.
 */
#ifndef FERROUS_MM_KAS_H
#define FERROUS_MM_KAS_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/paging.h"

struct boot_info;

#define KAS_SCRATCH_BASE UINT64_C(0xffffc00000000000)
#define KAS_SCRATCH_SIZE UINT64_C(0x0000008000000000)   /* one PML4 slot: 512 GiB */

/* What kas_init built (for tests, graders and reports). */
struct kas_layout {
	uint64_t cr3;                 /* physical address of the kernel's PML4 */
	uint64_t direct_map_limit;    /* end of the highest direct-map run (holes below it are unmapped) */
	uint64_t dm_pages[3];         /* direct-map leaves by size (4K, 2M, 1G) */
	uint64_t kernel_phys_base;
	uint64_t text_start, text_end, rodata_start, rodata_end, data_start, data_end;  /* virtual */
	uint64_t stack_guard;         /* virtual address of the unmapped guard page */
	uint64_t tables_at_switch;    /* table frames when CR3 was loaded */
	uint64_t tsc_switch;          /* TSC right after the CR3 load */
	uint32_t runs;                /* read-write (RAM) direct-map runs (merged descriptors) */
	uint32_t ro_runs;             /* read-only (firmware-reserved) direct-map runs */
	uint64_t run_start[64], run_end[64];   /* the read-write runs, physical [start, end) */
};

/* kas_init: build the kernel address space from bi (read only before the switch),
 * switch to it, reclaim loader memory, install the page-fault report. Panics on
 * any failure (the kernel cannot run without it). Call once, after pmm_init and
 * kheap_init. */
void kas_init(const struct boot_info *bi);

/* Whether kas_init switched to the kernel's tables (false when it could not run, e.g. no pmm). */
bool kas_active(void);

/* The kernel's page table (after kas_init), and the layout it was built with. */
struct page_table *kas_page_table(void);
const struct kas_layout *kas_get_layout(void);

/* paging_init_cpu: read CPUID into paging_have_1g and the NX/PGE flags; panics
 * without NX (Ferrous needs W^X). Called by kas_init. */
void paging_init_cpu(void);

/* kas_pf_report: print where the walk of cr2 in the current CR3 stops (the
 * trap handler's page-fault hook; kernel/mm/pagefault.c). */
void kas_pf_report(uint64_t cr2);

#endif
