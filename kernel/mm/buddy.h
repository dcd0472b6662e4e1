/*
 * buddy.h - the buddy frame allocator (Phase 2), same contract as bitmap.h.
 *
 * Free memory is kept as blocks of 2^k frames (order k, 0..BUDDY_MAX_ORDER),
 * each starting at a pfn that is a multiple of 2^k. The "buddy" of the block
 * at index i of order k is the block at i ^ 2^k: the two halves of the
 * order-(k+1) block that contains both. Freeing a block whose buddy is also
 * free (and of the same order) merges them and repeats one order up, so
 * freeing everything restores the largest possible blocks.
 *
 * Free lists are doubly linked through per-frame index arrays (next/prev)
 * rather than through the free frames themselves, so the allocator never
 * touches the memory it manages (host benchmarks can model 16 GiB without
 * backing it). order_plus1[i] is k + 1 when frame i heads a free block of
 * order k, BUDDY_HOT_MARK when frame i is in the hot cache, else 0.
 *
 * Hot cache (like Linux's per-CPU lists): single frames freed one at a time go
 * to a small LIFO array without merging, and single-frame allocations take
 * from it first, so an alloc/free pair on a mostly free node does not split
 * and re-merge a 4 MiB block every time. Cached frames count as free. The cache
 * is drained (merged back) when a larger allocation finds no block, and by
 * buddy_drain().
 */
#ifndef FERROUS_MM_BUDDY_H
#define FERROUS_MM_BUDDY_H

#include "mm/types.h"

#define BUDDY_MAX_ORDER 10                 /* largest block: 2^10 frames = 4 MiB */
#define BUDDY_NIL       UINT32_MAX
#define BUDDY_HOT       64                 /* hot-cache capacity (frames) */
#define BUDDY_HOT_MARK  0xff

struct buddy_alloc {
	uint64_t base_pfn;                      /* multiple of 2^BUDDY_MAX_ORDER */
	uint64_t nframes;                       /* frames covered from base_pfn (< 2^32) */
	uint64_t free_frames;
	uint32_t head[BUDDY_MAX_ORDER + 1];     /* first free block of each order, BUDDY_NIL if none */
	uint64_t nfree[BUDDY_MAX_ORDER + 1];    /* free blocks per order */
	uint32_t nonempty;                      /* bit k set exactly when head[k] != BUDDY_NIL */
	uint32_t *next, *prev;                  /* per frame; meaningful only for free block heads */
	uint8_t *order_plus1;                   /* per frame */
	uint32_t hot[BUDDY_HOT];                /* hot cache: free single frames, not merged */
	unsigned nhot;
};

/* Bytes of metadata buddy_init needs for frames [base_pfn, base_pfn + nframes). */
size_t buddy_meta_bytes(uint64_t base_pfn, uint64_t nframes);

/* Initialises b to cover [base_pfn, base_pfn + nframes) (rounded out to the max order), all used. */
void buddy_init(struct buddy_alloc *b, uint64_t base_pfn, uint64_t nframes, void *meta);

/* Returns [pfn, pfn + count) to the free lists, merging buddies; the frames must be used. */
void buddy_free(struct buddy_alloc *b, uint64_t pfn, uint64_t count);

/* Marks [pfn, pfn + count) used (splitting the free blocks around it); every frame must be free. */
void buddy_take(struct buddy_alloc *b, uint64_t pfn, uint64_t count);

/* Allocates count frames starting on a multiple of align (power of two; 0/1 = any). Fast path: one block of
 * order ceil(log2(max(count, align))), the unused tail goes back; otherwise (runs over 2^BUDDY_MAX_ORDER frames,
 * or only unaligned runs left) a scan over the free blocks. false when no such run exists (b unchanged). */
bool buddy_alloc(struct buddy_alloc *b, uint64_t count, uint64_t align, uint64_t *out);

/* Merges every hot-cache frame back into the free lists (the canonical, fully coalesced state). */
void buddy_drain(struct buddy_alloc *b);

/* Whether frame pfn lies in a free block or the hot cache. O(max order). */
bool buddy_is_free(const struct buddy_alloc *b, uint64_t pfn);

#endif
