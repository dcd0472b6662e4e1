/*
 * bitmap.c - the bitmap frame allocator with summary levels (see bitmap.h).
 *
 * Invariant (checked by tests): for every level l > 0, bit j of level[l] is 1
 * exactly when level[l-1][j] != 0; free_frames = popcount(level[0]).
 */
#include "mm/bitmap.h"
#include "panic.h"

#define NONE UINT64_MAX

/* Bytes of metadata for nframes frames: every level's words. */
size_t bitmap_meta_bytes(uint64_t nframes)
{
	uint64_t words = (nframes + 63) / 64, total = 0;
	if (words == 0)
		words = 1;
	for (;;) {
		total += words;
		if (words == 1)
			return (size_t)(total * 8);
		words = (words + 63) / 64;
	}
}

/* Initialises b over [base_pfn, base_pfn + nframes), all frames used (all bits 0). */
void bitmap_init(struct bitmap_alloc *b, uint64_t base_pfn, uint64_t nframes, void *meta)
{
	uint64_t *w = meta;
	uint64_t words = (nframes + 63) / 64;
	if (words == 0)
		words = 1;
	b->base_pfn = base_pfn;
	b->nframes = nframes;
	b->free_frames = 0;
	b->nlevels = 0;
	for (;;) {
		if (b->nlevels == BITMAP_MAX_LEVELS)
			panic("bitmap_init: %lu frames need more than %d levels", nframes, BITMAP_MAX_LEVELS);
		b->level[b->nlevels] = w;
		b->nwords[b->nlevels] = words;
		for (uint64_t i = 0; i < words; i++)
			w[i] = 0;
		w += words;
		b->nlevels++;
		if (words == 1)
			break;
		words = (words + 63) / 64;
	}
}

/* Sets bit i of level l to `on` and keeps the summary levels above consistent. */
static void set_bit(struct bitmap_alloc *b, unsigned l, uint64_t i, bool on)
{
	for (; l < b->nlevels; l++) {
		uint64_t *word = &b->level[l][i / 64];
		bool was_nonzero = *word != 0;
		if (on)
			*word |= 1ULL << (i % 64);
		else
			*word &= ~(1ULL << (i % 64));
		/* The level above changes only when this word's zero-ness changed. */
		if ((*word != 0) == was_nonzero)
			return;
		i /= 64;
	}
}

/* Smallest index >= pos whose bit is set at level l, or NONE. Climbs the summary to skip empty words. */
static uint64_t next_set(const struct bitmap_alloc *b, unsigned l, uint64_t pos)
{
	uint64_t w = pos / 64;
	if (w >= b->nwords[l])
		return NONE;
	uint64_t bits = b->level[l][w] & (~0ULL << (pos % 64));
	if (bits)
		return w * 64 + (uint64_t)__builtin_ctzll(bits);
	if (l + 1 == b->nlevels)
		return NONE;
	uint64_t nw = next_set(b, l + 1, w + 1);
	if (nw == NONE)
		return NONE;
	return nw * 64 + (uint64_t)__builtin_ctzll(b->level[l][nw]);
}

/* First index in [from, to) whose level-0 bit is clear (used), or NONE. */
static uint64_t first_used(const struct bitmap_alloc *b, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to;) {
		uint64_t word = ~b->level[0][i / 64] & (~0ULL << (i % 64));
		if (word) {
			uint64_t hit = (i & ~63ULL) + (uint64_t)__builtin_ctzll(word);
			return hit < to ? hit : NONE;
		}
		i = (i & ~63ULL) + 64;
	}
	return NONE;
}

/* Marks [pfn, pfn + count) free; every frame must be used. */
void bitmap_free(struct bitmap_alloc *b, uint64_t pfn, uint64_t count)
{
	pfn_range_check("bitmap_free", "the bitmap", b->base_pfn, b->nframes, pfn, count);
	for (uint64_t i = pfn - b->base_pfn, end = i + count; i < end; i++) {
		if (b->level[0][i / 64] & (1ULL << (i % 64)))
			panic("bitmap_free: pfn 0x%lx is already free", b->base_pfn + i);
		set_bit(b, 0, i, true);
	}
	b->free_frames += count;
}

/* Marks [pfn, pfn + count) used; every frame must be free. */
void bitmap_take(struct bitmap_alloc *b, uint64_t pfn, uint64_t count)
{
	pfn_range_check("bitmap_take", "the bitmap", b->base_pfn, b->nframes, pfn, count);
	for (uint64_t i = pfn - b->base_pfn, end = i + count; i < end; i++) {
		if (!(b->level[0][i / 64] & (1ULL << (i % 64))))
			panic("bitmap_take: pfn 0x%lx is not free", b->base_pfn + i);
		set_bit(b, 0, i, false);
	}
	b->free_frames -= count;
}

/* Allocates one free frame by walking down the summary levels: O(levels). */
static bool alloc_one(struct bitmap_alloc *b, uint64_t *out)
{
	unsigned top = b->nlevels - 1;
	if (b->level[top][0] == 0)
		return false;
	uint64_t idx = 0;   /* word index at the current level */
	for (unsigned l = top + 1; l-- > 0;)
		idx = idx * 64 + (uint64_t)__builtin_ctzll(b->level[l][idx]);
	set_bit(b, 0, idx, false);
	b->free_frames--;
	*out = b->base_pfn + idx;
	return true;
}

/* Finds count free frames starting on an absolute multiple of align; marks them used. */
bool bitmap_alloc(struct bitmap_alloc *b, uint64_t count, uint64_t align, uint64_t *out)
{
	if (count == 0 || count > b->free_frames)
		return false;
	if (align <= 1) {
		if (count == 1)
			return alloc_one(b, out);
		align = 1;
	}
	if (!is_pow2(align))
		panic("bitmap_alloc: align %lu is not a power of two", align);
	uint64_t pos = 0;
	for (;;) {
		uint64_t s = next_set(b, 0, pos);
		if (s == NONE)
			return false;
		/* Align the absolute pfn, not the index: base_pfn need not be aligned. */
		uint64_t s_al = align_up(b->base_pfn + s, align) - b->base_pfn;
		if (s_al != s) {
			pos = s_al;
			continue;
		}
		if (s > b->nframes || count > b->nframes - s)
			return false;
		uint64_t used = first_used(b, s, s + count);
		if (used == NONE) {
			bitmap_take(b, b->base_pfn + s, count);
			*out = b->base_pfn + s;
			return true;
		}
		pos = align_up(b->base_pfn + used + 1, align) - b->base_pfn;   /* next aligned start past it */
	}
}

/* Whether frame pfn is free. */
bool bitmap_is_free(const struct bitmap_alloc *b, uint64_t pfn)
{
	pfn_range_check("bitmap_is_free", "the bitmap", b->base_pfn, b->nframes, pfn, 1);
	uint64_t i = pfn - b->base_pfn;
	return (b->level[0][i / 64] >> (i % 64)) & 1;
}
