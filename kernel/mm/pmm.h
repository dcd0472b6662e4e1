/*
 * pmm.h - the physical memory manager: per-node frame states and allocators.
 *
 * A pmm_node owns a span of frames [base_pfn, base_pfn + nframes): one state
 * byte per frame (enum frame_state), a count per state, and one allocator
 * (bitmap or buddy, chosen at init) holding exactly the FREE frames. Every
 * entry point takes the node it works on, so tests build private nodes over
 * fake maps and drive them to exhaustion without touching the kernel's.
 *
 * The global pmm is an array of nodes (one until NUMA is known); frame.h's
 * frame_alloc()/frame_free() go through it.
 *
 * Locking: node->lock protects state[], count[] and the allocator; every
 * pmm_node_* function except init takes it.
 *
 * Leak accounting (the `@@ frames ... leaked=N` line): owned frames are those
 * in ALLOCATED, PAGETABLE or HEAP state. Long-lived owners (the kernel heap,
 * the kernel address space's page tables) register a counter with
 * pmm_register_owner(); at the end of a run
 *     leaked = owned frames - sum of the registered owners' counts.
 * So leaked > 0 means some code allocated frames and neither freed them nor
 * belongs to a registered owner: a test that forgets a frame_free shows up.
 * leaked < 0 means an owner claims frames it does not hold (also a bug).
 */
#ifndef FERROUS_MM_PMM_H
#define FERROUS_MM_PMM_H

#include "mm/types.h"
#include "mm/frame.h"
#include "mm/bitmap.h"
#include "mm/buddy.h"
#include "spinlock.h"

#define PMM_MAX_NODES  4
#define PMM_MAX_OWNERS 8

enum pmm_kind { PMM_BITMAP, PMM_BUDDY };

/* MM_DEBUG_FILL: 1 turns on the debug fills of the pmm and the kernel heap (poison on free, pattern checks on
 * reuse). Default: on in the kernel, off on the host unless the build sets it (the host tests do, with -D). */
#ifndef MM_DEBUG_FILL
#ifdef __FERROUS_KERNEL__
#define MM_DEBUG_FILL 1
#else
#define MM_DEBUG_FILL 0
#endif
#endif

/* Debug fill patterns (MM_DEBUG_FILL): freed frames and fresh frames. A frame freed by pmm_node_free is
 * filled with MM_FILL_FREED and marked poisoned; when it is allocated again the pattern is checked first, so a
 * write after free panics naming the frame (Zircon's checked free pages). */
#define MM_FILL_FREED 0x6b
#define MM_FILL_FRESH 0xa5

struct pmm_node {
	unsigned id;
	enum pmm_kind kind;
	uint64_t base_pfn;                 /* first frame tracked */
	uint64_t nframes;                  /* frames tracked */
	uint8_t *state;                    /* nframes bytes, enum frame_state */
	uint64_t *poisoned;                /* bit per frame: FREE and filled with MM_FILL_FREED (debug fills) */
	uint64_t count[FRAME_STATE_COUNT]; /* frames per state; sums to nframes */
	union {
		struct bitmap_alloc bitmap;
		struct buddy_alloc buddy;
	} alloc;                           /* holds exactly the FREE frames */
	bool debug_fill;                   /* fill fresh/freed frames through phys_to_virt */
	struct spinlock lock;
};

/* Snapshot of one node's accounting (pmm_stats). */
struct pmm_stats {
	uint64_t total;                    /* frames of RAM: every state but ABSENT */
	uint64_t free;
	uint64_t reserved;                 /* RESERVED + KERNEL + LOADER */
	uint64_t count[FRAME_STATE_COUNT];
	uint64_t free_blocks[BUDDY_MAX_ORDER + 1];   /* buddy only: free blocks per order (hot cache excluded) */
	uint64_t hot;                                /* buddy only: frames in the hot cache */
};

/* ---- a node (used by the kernel's global pmm and by tests on private nodes) ---- */

/* Bytes of metadata a node of this kind over [base_pfn, base_pfn + nframes) needs. */
size_t pmm_node_meta_bytes(enum pmm_kind kind, uint64_t base_pfn, uint64_t nframes);

/* Initialises n over [base_pfn, base_pfn + nframes) with every frame ABSENT; meta holds pmm_node_meta_bytes(). */
void pmm_node_init(struct pmm_node *n, unsigned id, enum pmm_kind kind, uint64_t base_pfn, uint64_t nframes,
		   void *meta);

/* Sets the state of [pfn, pfn + count) (init and reclaim paths: any state to any state, no ownership checks);
 * frames entering FREE join the allocator, frames leaving FREE leave it. */
void pmm_node_set_state(struct pmm_node *n, uint64_t pfn, uint64_t count, enum frame_state st);

/* Allocates count contiguous frames aligned to align frames, marked `use` (an owned kind).
 * MM_ERR_OUT_OF_MEMORY when no such run is free; MM_ERR_INVALID_FLAGS for count 0, a non-power-of-two align
 * or a non-owned use. */
mm_err_t pmm_node_alloc(struct pmm_node *n, uint64_t count, uint64_t align, enum frame_state use, pfn_t *out);

/* Frees [first, first + count): every frame must be in one owned state, equal to `expected` unless expected is
 * FRAME_STATE_COUNT (any owned kind). Panics otherwise, naming pfn, state and caller. */
void pmm_node_free(struct pmm_node *n, pfn_t first, uint64_t count, enum frame_state expected, uintptr_t caller);

/* Moves frame p from owned kind `from` to owned kind `to`; panics naming pfn, state and caller otherwise. */
void pmm_node_transfer(struct pmm_node *n, pfn_t p, enum frame_state from, enum frame_state to, uintptr_t caller);

/* State of p; FRAME_ABSENT outside n. */
enum frame_state pmm_node_state(struct pmm_node *n, pfn_t p);

/* Whether p lies in n's span. */
bool pmm_node_contains(const struct pmm_node *n, pfn_t p);

/* Fills *out from n. */
void pmm_node_stats(struct pmm_node *n, struct pmm_stats *out);

/* Merges the buddy allocator's hot cache back into its free lists (no-op for the bitmap). */
void pmm_node_drain(struct pmm_node *n);

/* Checks n's invariants (counts match the state array, the allocator holds exactly the FREE frames);
 * panics naming the first mismatch. O(nframes): tests only. */
void pmm_node_check(struct pmm_node *n);

/* ---- building a node from a memory map (pmm_map.c) ---- */

struct memmap;

/* Where pmm_node_from_map put things. */
struct pmm_map_layout {
	uint64_t span;         /* frames tracked, from pfn 0 */
	uint64_t meta_pfn;     /* first frame of the node's metadata (state bytes + allocator) */
	uint64_t meta_pages;
};

/* Builds n from a classified map: states per kind (usable -> FREE, or LOADER when at or above the physmem
 * window's limit; loader data and boot tables -> LOADER; kernel and the metadata -> KERNEL; firmware, initrd,
 * RSDP, first MiB -> RESERVED; the rest ABSENT). MM_ERR_OUT_OF_MEMORY when there is no usable RAM or no run
 * below the window for the metadata. */
mm_err_t pmm_node_from_map(struct pmm_node *n, enum pmm_kind kind, const struct memmap *m,
			   struct pmm_map_layout *out);

/* Frees every LOADER frame of n (they must be inside the window by now); returns how many. */
uint64_t pmm_node_reclaim_loader(struct pmm_node *n);

/* ---- the global pmm ---- */

/* Makes nodes[0..count) the global pmm (host tests; the kernel's pmm_init does it itself). */
void pmm_set_global(struct pmm_node *nodes, unsigned count);

/* Number of nodes of the global pmm, and node id (NULL if none). */
unsigned pmm_node_count(void);
struct pmm_node *pmm_node_get(unsigned id);

/* Stats of node id of the global pmm; MM_ERR_NUMA_NODE_NOT_FOUND for an unknown id. */
mm_err_t pmm_stats(unsigned id, struct pmm_stats *out);

/* Registers a long-lived owner of frames for the leak count (see above); count() returns how many owned frames
 * it holds now. */
void pmm_register_owner(const char *name, uint64_t (*count)(void));

/* Owned frames (ALLOCATED + PAGETABLE + HEAP) of the global pmm minus those registered owners account for. */
int64_t pmm_leaked(void);

/* Name of the allocator kind ("bitmap", "buddy"). */
const char *pmm_kind_name(enum pmm_kind k);

#ifdef __FERROUS_KERNEL__
struct boot_info;
/* Builds the global pmm from boot_info's memory map: one node, allocator from `pmm=` (default buddy).
 * Panics if the map is rejected or has no room for the metadata. */
void pmm_init(const struct boot_info *bi);

/* Frees every LOADER frame (loader data, boot page tables, frames held back above the boot direct map). Called
 * by kas_init after the switch, when the new direct map covers all RAM and boot_info was copied. */
void pmm_reclaim_loader(void);

/* Prints `@@ frames total=N free=N allocated=N pagetable=N reserved=N kernel=N leaked=N heap=N loader=N` for
 * the global pmm, summed over its nodes (as pmm_boot.c prints it): reserved = RESERVED frames only; HEAP and
 * LOADER frames are counted in heap= and loader=, not in allocated= or reserved=. */
void pmm_report(void);

/* Highest physical address + 1 of RAM the pmm tracks (for kas_init's direct map). */
uint64_t pmm_phys_limit(void);
#endif

#endif
