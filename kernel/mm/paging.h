/*
 * paging.h - the page-table walker: map, unmap, translate, protect and split
 * on one x86-64 4-level page table (kernel/mm/paging.c).
 *
 * A `struct page_table` is a handle on a root (PML4) frame. The walker owns
 * the intermediate tables it creates (frames in state FRAME_PAGETABLE) and
 * frees them when they become empty; it never owns the frames that leaves
 * point at: callers map memory they own and take it back from pt_unmap().
 *
 * Errors (mm_err_t), never panics, for bad input:
 *   MM_ERR_INVALID_ADDRESS  va non-canonical, va or pa not aligned to the size;
 *                           for unmap/protect also: va inside, not at the base of,
 *                           a huge mapping (split first)
 *   MM_ERR_INVALID_FLAGS    flags pte_flags_to_hw() rejects, 1 GiB without CPU support
 *   MM_ERR_ALREADY_MAPPED   something is mapped in the way (also: a 4 KiB page
 *                           inside a huge page; split first)
 *   MM_ERR_NOT_MAPPED       nothing mapped at va
 *   MM_ERR_OUT_OF_MEMORY    no frame for an intermediate table
 * A call that returns an error has left the tables exactly as they were.
 *
 * Invariant (checked by pt_check()): every table below the root has at least
 * one present entry; intermediate entries are P|RW (+US when a user page lies
 * below), never NX, never PS; leaves carry the permissions; the PAT bit is never
 * set; huge leaves are aligned to their size.
 */
#ifndef FERROUS_MM_PAGING_H
#define FERROUS_MM_PAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/types.h"
#include "mm/pte.h"

struct page_table {
	paddr_t root;   /* physical address of the PML4 frame */
};

/* What one mapping looks like (pt_translate, pt_unmap). */
struct pt_mapping {
	paddr_t pa;            /* physical address of the va asked for (base + offset) */
	paddr_t base;          /* physical address of the page */
	vaddr_t va_base;       /* virtual address of the page */
	enum page_size size;
	pgflags_t flags;
};

/* One step of a walk, for reports (fault report, gdb, tests). */
struct pt_walk_step {
	unsigned level;     /* 3 = PML4 ... 0 = PT */
	unsigned index;     /* index into that table */
	paddr_t entry_pa;   /* physical address of the entry */
	pte_t entry;        /* its raw value */
};

/* True when the walker may create 1 GiB leaves (CPUID 0x80000001 EDX.26).
 * The kernel sets it in paging_init_cpu(); host tests set it directly. */
extern bool paging_have_1g;

/* pt_create: allocate a zeroed root table into *pt. MM_ERR_OUT_OF_MEMORY on failure. */
mm_err_t pt_create(struct page_table *pt);
/* pt_destroy: free every intermediate table and the root (not the mapped frames);
 * the page table must not be loaded in CR3. *pt is poisoned. */
void pt_destroy(struct page_table *pt);

/* pt_map: map [va, va+size) to [pa, pa+size) with flags; see the errors above. */
mm_err_t pt_map(struct page_table *pt, vaddr_t va, paddr_t pa, enum page_size size, pgflags_t flags);
/* pt_unmap: remove the mapping whose base is va, free tables that became empty,
 * invalidate the TLB entry; *old (may be NULL) receives what was mapped. */
mm_err_t pt_unmap(struct page_table *pt, vaddr_t va, struct pt_mapping *old);
/* pt_translate: the mapping that contains va (any va inside the page). */
mm_err_t pt_translate(const struct page_table *pt, vaddr_t va, struct pt_mapping *out);
/* pt_protect: replace the flags of the mapping whose base is va; invalidates the TLB entry. */
mm_err_t pt_protect(struct page_table *pt, vaddr_t va, pgflags_t flags);
/* pt_split: turn the huge page containing va into 512 pages of the next size
 * down with the same flags (1 GiB -> 2 MiB, 2 MiB -> 4 KiB). MM_ERR_NOT_MAPPED
 * when no huge page contains va, MM_ERR_OUT_OF_MEMORY without a frame. */
mm_err_t pt_split(struct page_table *pt, vaddr_t va);

/* pt_map_range: map [va, va+len) to [pa, pa+len) with flags, each piece with the
 * largest page size <= max_size that alignment and length allow (all of va, pa,
 * len 4 KiB aligned). counts[s] (may be NULL) is increased by the pages of size s
 * it mapped (only on success). On an error the tables are byte-for-byte as they
 * were (US bits of existing intermediate entries included). */
mm_err_t pt_map_range(struct page_table *pt, vaddr_t va, paddr_t pa, uint64_t len, pgflags_t flags,
		      enum page_size max_size, uint64_t counts[3]);

/* pt_walk: record the entries on the way to va into steps[] (4 entries); returns
 * how many were read. The last one is a leaf, a non-present entry, level 0, or
 * (for reports on broken tables) an entry whose next table lies outside the
 * physmem window: the walk never faults. */
unsigned pt_walk(const struct page_table *pt, vaddr_t va, struct pt_walk_step steps[PT_LEVELS]);

/* pt_count_tables: number of table frames (root included) of the page table. */
size_t pt_count_tables(const struct page_table *pt);
/* pt_check: verify the invariant above over the whole table; on the first
 * break, writes a message into why (n bytes) and returns false. */
bool pt_check(const struct page_table *pt, char *why, size_t n);

/* Number of TLB invalidations issued by the walker (tests, benchmarks). */
extern uint64_t paging_tlb_invalidations;

#endif
