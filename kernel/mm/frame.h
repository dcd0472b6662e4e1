/*
 * frame.h - owned physical frame handles and per-frame states.
 *
 * frame_alloc() hands out a `struct frame` by value; its holder owns the frame
 * until it passes the handle to frame_free(), which checks the frame's state,
 * returns it to the allocator and poisons the handle (FRAME_NONE). Every frame
 * has exactly one state; a free of a frame that is FREE (double free),
 * RESERVED, KERNEL, LOADER or ABSENT panics naming the pfn, the state and the
 * caller. Ownership moves between kinds (ALLOCATED -> PAGETABLE, ...) only by
 * frame_transfer().
 *
 * All calls go to the global pmm (kernel/mm/pmm.c), which keeps one
 * allocator per NUMA node (one node until NUMA is known).
 */
#ifndef FERROUS_MM_FRAME_H
#define FERROUS_MM_FRAME_H

#include "mm/types.h"

/* An owned frame. Copying the struct does not copy ownership: free it once. */
struct frame { pfn_t pfn; };

/* The poisoned / empty handle: a pfn no RAM can have. */
#define FRAME_NONE_PFN ((uint64_t)0x00DEAD00DEADULL << 12)
#define FRAME_NONE ((struct frame){ .pfn = { .n = FRAME_NONE_PFN } })

/* Per-frame state; stored in one byte per frame. */
enum frame_state {
	FRAME_FREE = 0,     /* in the allocator */
	FRAME_ALLOCATED,    /* handed out by frame_alloc(.., FRAME_ALLOCATED) */
	FRAME_PAGETABLE,    /* a page-table page */
	FRAME_HEAP,         /* backing the kernel heap */
	FRAME_RESERVED,     /* never allocatable: firmware, ACPI, MMIO holes in RAM, first MiB, initrd */
	FRAME_KERNEL,       /* the kernel image */
	FRAME_LOADER,       /* loader data (boot_info, boot page tables, ...) until pmm_reclaim_loader() */
	FRAME_ABSENT,       /* no RAM here (hole in the map, or outside every node) */
	FRAME_STATE_COUNT
};

/* Name of a state ("FREE", "PAGETABLE", ...). */
const char *frame_state_name(enum frame_state s);

/* Physical address of a frame. */
static inline paddr_t frame_paddr(struct frame f) { return pfn_to_paddr(f.pfn); }
/* Whether f is the empty/poisoned handle. */
static inline bool frame_is_none(struct frame f) { return f.pfn.n == FRAME_NONE_PFN; }

/* Allocates one frame and marks it `use` (ALLOCATED, PAGETABLE or HEAP; else panics).
 * MM_ERR_OUT_OF_MEMORY when none is free; *out is FRAME_NONE then. */
mm_err_t frame_alloc(struct frame *out, enum frame_state use);

/* Allocates `count` physically contiguous frames whose first pfn is a multiple of
 * align_frames (a power of two, 0 or 1 = any), all marked `use`; *out is the first.
 * MM_ERR_OUT_OF_MEMORY when no such run is free. */
mm_err_t frame_alloc_contig(struct frame *out, size_t count, size_t align_frames, enum frame_state use);

/* Frees a frame in state ALLOCATED, PAGETABLE or HEAP and poisons *f; panics on any other state. */
void frame_free(struct frame *f);

/* Like frame_free, but also panics unless the frame is in state `expected` (the wrong-kind check). */
void frame_free_as(struct frame *f, enum frame_state expected);

/* Frees `count` frames from *f (as allocated by frame_alloc_contig); every one must be in the state of
 * the first, which must be ALLOCATED, PAGETABLE or HEAP. Poisons *f. */
void frame_free_contig(struct frame *f, size_t count);

/* Moves ownership of f from kind `from` to kind `to` (e.g. ALLOCATED -> PAGETABLE); panics unless the
 * frame is in `from` and both are owned kinds (ALLOCATED, PAGETABLE, HEAP). */
void frame_transfer(struct frame *f, enum frame_state from, enum frame_state to);

/* State of any pfn; FRAME_ABSENT outside every node. */
enum frame_state frame_state_of(pfn_t p);

/* Fault injection for tests: after n more successful allocations, every frame_alloc / frame_alloc_contig
 * fails with MM_ERR_OUT_OF_MEMORY until called again with -1 (reset). n = 0 fails from the next call. */
void frame_alloc_fail_after(long n);

/* Symbolizer for caller addresses in panic messages; NULL prints the raw address.
 * The kernel core sets it once its backtrace code can name symbols. Returns e.g. "vas_destroy+0x4a". */
extern const char *(*mm_symbolize)(uintptr_t addr);

#endif
