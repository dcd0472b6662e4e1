/*
 * bitmap.h - the bitmap frame allocator (Phase 1; the `pmm` lab).
 *
 * One bit per frame, 1 = free. Above it, summary levels: bit j of level l+1
 * is set exactly when word j of level l is nonzero (has a free frame). The
 * top level is a single word. Finding a free frame walks down the levels
 * (one find-first-set per level), so it never scans the whole bitmap:
 *
 *   level 2 (top)   [0000...0101]                    1 word
 *   level 1         [....] [....] ...                 ceil(words0 / 64) words
 *   level 0         [frame bits] [frame bits] ...     ceil(nframes / 64) words
 *
 * The allocator works on the struct it is given (a NUMA node's, or a private
 * one in a test) and on metadata memory the caller provides. It keeps no
 * per-frame state beyond free/used: ownership checks live in pmm.c.
 */
#ifndef FERROUS_MM_BITMAP_H
#define FERROUS_MM_BITMAP_H

#include "mm/types.h"

#define BITMAP_MAX_LEVELS 5   /* 64^5 frames = 4 TiB per node */

struct bitmap_alloc {
	uint64_t base_pfn;      /* frame of bit 0 */
	uint64_t nframes;       /* frames covered; bits past it stay 0 (used) */
	uint64_t free_frames;   /* number of 1 bits in level 0 */
	unsigned nlevels;
	uint64_t *level[BITMAP_MAX_LEVELS];
	uint64_t nwords[BITMAP_MAX_LEVELS];
};

/* Bytes of metadata bitmap_init needs for nframes frames (8-byte aligned). */
size_t bitmap_meta_bytes(uint64_t nframes);

/* Initialises b over frames [base_pfn, base_pfn + nframes), all used; meta holds bitmap_meta_bytes(). */
void bitmap_init(struct bitmap_alloc *b, uint64_t base_pfn, uint64_t nframes, void *meta);

/* Marks [pfn, pfn + count) free (init and free path); every frame must be inside b and used. */
void bitmap_free(struct bitmap_alloc *b, uint64_t pfn, uint64_t count);

/* Marks [pfn, pfn + count) used; every frame must be inside b and free. */
void bitmap_take(struct bitmap_alloc *b, uint64_t pfn, uint64_t count);

/* Finds `count` free frames whose first pfn is a multiple of align (power of two; 0/1 = any), marks them
 * used and stores the first pfn in *out. false when no such run exists (b unchanged). */
bool bitmap_alloc(struct bitmap_alloc *b, uint64_t count, uint64_t align, uint64_t *out);

/* Whether frame pfn (inside b) is free. */
bool bitmap_is_free(const struct bitmap_alloc *b, uint64_t pfn);

#endif
