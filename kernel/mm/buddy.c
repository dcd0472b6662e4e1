/*
 * buddy.c - the buddy frame allocator (see buddy.h for the scheme).
 *
 * Indices are relative to base_pfn, which is a multiple of 2^BUDDY_MAX_ORDER,
 * so "index aligned to 2^k" and "pfn aligned to 2^k" are the same thing.
 */
#include "mm/buddy.h"
#include "panic.h"

/* Bytes for next, prev (4 each) and order_plus1 (1) per frame of the rounded-out span. */
size_t buddy_meta_bytes(uint64_t base_pfn, uint64_t nframes)
{
	uint64_t lo = align_down(base_pfn, 1ULL << BUDDY_MAX_ORDER);
	uint64_t span = base_pfn + nframes - lo;
	return (size_t)(span * 9 + 16);
}

/* Initialises b with every frame used: empty free lists. */
void buddy_init(struct buddy_alloc *b, uint64_t base_pfn, uint64_t nframes, void *meta)
{
	uint64_t lo = align_down(base_pfn, 1ULL << BUDDY_MAX_ORDER);
	uint64_t span = base_pfn + nframes - lo;
	if (span >= BUDDY_NIL)
		panic("buddy_init: span of %lu frames does not fit 32-bit indices", span);
	b->base_pfn = lo;
	b->nframes = span;
	b->free_frames = 0;
	b->nonempty = 0;
	b->nhot = 0;
	for (int k = 0; k <= BUDDY_MAX_ORDER; k++) {
		b->head[k] = BUDDY_NIL;
		b->nfree[k] = 0;
	}
	b->next = meta;
	b->prev = b->next + span;
	b->order_plus1 = (uint8_t *)(b->prev + span);
	for (uint64_t i = 0; i < span; i++)
		b->order_plus1[i] = 0;
}

/* Pushes the block at index i onto the order-k list. */
static inline void list_push(struct buddy_alloc *b, uint32_t i, unsigned k)
{
	uint32_t h = b->head[k];
	b->next[i] = h;
	b->prev[i] = BUDDY_NIL;
	if (h != BUDDY_NIL)
		b->prev[h] = i;
	b->head[k] = i;
	b->order_plus1[i] = (uint8_t)(k + 1);
	b->nfree[k]++;
	b->nonempty |= 1u << k;
}

/* Unlinks the block at index i from the order-k list. */
static inline void list_remove(struct buddy_alloc *b, uint32_t i, unsigned k)
{
	uint32_t n = b->next[i], p = b->prev[i];
	if (p != BUDDY_NIL)
		b->next[p] = n;
	else
		b->head[k] = n;
	if (n != BUDDY_NIL)
		b->prev[n] = p;
	b->order_plus1[i] = 0;
	b->nfree[k]--;
	if (b->head[k] == BUDDY_NIL)
		b->nonempty &= ~(1u << k);
}

/* Frees the block at index i of order k, merging with free buddies upward. */
static void free_block(struct buddy_alloc *b, uint64_t i, unsigned k)
{
	while (k < BUDDY_MAX_ORDER) {
		uint64_t buddy = i ^ (1ULL << k);
		if (buddy >= b->nframes || b->order_plus1[buddy] != k + 1)
			break;
		list_remove(b, (uint32_t)buddy, k);
		i &= ~(1ULL << k);   /* the merged block starts at the lower half */
		k++;
	}
	list_push(b, (uint32_t)i, k);
}

/* Largest order k such that index i is a multiple of 2^k and 2^k <= count. */
static unsigned max_order_at(uint64_t i, uint64_t count)
{
	unsigned k = 0;
	while (k < BUDDY_MAX_ORDER && (i & (1ULL << k)) == 0 && (2ULL << k) <= count)
		k++;
	return k;
}

/* Frees [pfn, pfn + count): a single frame to the hot cache while it has room, else as maximal aligned
 * power-of-two blocks, merged with their buddies. */
void buddy_free(struct buddy_alloc *b, uint64_t pfn, uint64_t count)
{
	pfn_range_check("buddy_free", "the buddy span", b->base_pfn, b->nframes, pfn, count);
	uint64_t i = pfn - b->base_pfn, end = i + count;
	if (count == 1 && b->nhot < BUDDY_HOT) {
		b->order_plus1[i] = BUDDY_HOT_MARK;
		b->hot[b->nhot++] = (uint32_t)i;
		b->free_frames++;
		return;
	}
	while (i < end) {
		unsigned k = max_order_at(i, end - i);
		free_block(b, i, k);
		i += 1ULL << k;
	}
	b->free_frames += count;
}

void buddy_drain(struct buddy_alloc *b)
{
	while (b->nhot > 0) {
		uint32_t i = b->hot[--b->nhot];
		b->order_plus1[i] = 0;
		free_block(b, i, 0);
	}
}

/* Removes hot-cache frame i from the cache (it stays counted as free; the caller decides). */
static void hot_remove(struct buddy_alloc *b, uint64_t i)
{
	for (unsigned j = 0; j < b->nhot; j++) {
		if (b->hot[j] == i) {
			b->hot[j] = b->hot[--b->nhot];
			b->order_plus1[i] = 0;
			return;
		}
	}
	panic("buddy: frame index 0x%lx marked hot but not in the hot cache", i);
}

/* Head index of the free block containing index i, with its order in *k (a hot frame is a block of order 0);
 * BUDDY_NIL if i is not free. */
static uint64_t containing_block(const struct buddy_alloc *b, uint64_t i, unsigned *k)
{
	if (b->order_plus1[i] == BUDDY_HOT_MARK) {
		*k = 0;
		return i;
	}
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t h = i & ~((1ULL << o) - 1);
		if (b->order_plus1[h] == o + 1) {
			*k = o;
			return h;
		}
	}
	return BUDDY_NIL;
}

/* Whether frame pfn lies in a free block. */
bool buddy_is_free(const struct buddy_alloc *b, uint64_t pfn)
{
	unsigned k;
	pfn_range_check("buddy_is_free", "the buddy span", b->base_pfn, b->nframes, pfn, 1);
	return containing_block(b, pfn - b->base_pfn, &k) != BUDDY_NIL;
}

/* Marks [pfn, pfn + count) used: for each frame, split its free block down to that single frame. */
void buddy_take(struct buddy_alloc *b, uint64_t pfn, uint64_t count)
{
	pfn_range_check("buddy_take", "the buddy span", b->base_pfn, b->nframes, pfn, count);
	uint64_t i = pfn - b->base_pfn, end = i + count;
	while (i < end) {
		unsigned k;
		uint64_t h = containing_block(b, i, &k);
		if (h == BUDDY_NIL)
			panic("buddy_take: pfn 0x%lx is not free", b->base_pfn + i);
		if (b->order_plus1[h] == BUDDY_HOT_MARK)
			hot_remove(b, h);
		else
			list_remove(b, (uint32_t)h, k);
		/* Split: keep the halves that do not contain i free, descend into the one that does,
		 * but stop as soon as the block lies wholly inside [i, end). */
		while (k > 0 && !(h >= i && h + (1ULL << k) <= end)) {
			k--;
			uint64_t upper = h + (1ULL << k);
			if (i >= upper) {
				list_push(b, (uint32_t)h, k);
				h = upper;
			} else {
				list_push(b, (uint32_t)upper, k);
			}
		}
		b->free_frames -= 1ULL << k;
		/* The block [h, h + 2^k) is now used and starts at i (it contains i and is inside [i, end)
		 * or is a single frame). */
		i = h + (1ULL << k);
	}
}

/* Slow path: the first run of count free frames at an absolute multiple of align, found by walking free blocks.
 * Serves runs larger than the biggest block and runs whose block-sized alignment is not available. */
static bool scan_run(const struct buddy_alloc *b, uint64_t count, uint64_t align, uint64_t *out_idx)
{
	uint64_t i = align_up(b->base_pfn, align) - b->base_pfn;
	while (i < b->nframes && count <= b->nframes - i) {
		uint64_t j = i;
		while (j < i + count) {   /* skip whole free blocks */
			unsigned k;
			uint64_t h = containing_block(b, j, &k);
			if (h == BUDDY_NIL)
				break;
			j = h + (1ULL << k);
		}
		if (j >= i + count) {
			*out_idx = i;
			return true;
		}
		i = align_up(b->base_pfn + j + 1, align) - b->base_pfn;   /* frame j is used */
	}
	return false;
}

/* Allocates count frames aligned to align. Fast path: one block of order ceil(log2(max(count, align))), its
 * unused tail returned; slow path (no such block, or larger than the max order): scan_run + buddy_take. */
bool buddy_alloc(struct buddy_alloc *b, uint64_t count, uint64_t align, uint64_t *out)
{
	if (count == 0 || count > b->free_frames)
		return false;
	if (align == 0)
		align = 1;
	if (count == 1 && align == 1 && b->nhot > 0) {   /* hot path */
		uint32_t i = b->hot[--b->nhot];
		b->order_plus1[i] = 0;
		b->free_frames--;
		*out = b->base_pfn + i;
		return true;
	}
	uint64_t want = count > align ? count : align;
	unsigned order = 0;
	while (order <= BUDDY_MAX_ORDER && (1ULL << order) < want)
		order++;
	uint32_t mask = order <= BUDDY_MAX_ORDER ? b->nonempty >> order : 0;
	if (mask == 0 && b->nhot > 0) {   /* merged hot frames may form the block we need */
		buddy_drain(b);
		mask = order <= BUDDY_MAX_ORDER ? b->nonempty >> order : 0;
	}
	if (mask == 0) {
		uint64_t idx;
		if (count == 1 && align == 1)
			return false;   /* no free block at all */
		if (!scan_run(b, count, align, &idx))
			return false;
		buddy_take(b, b->base_pfn + idx, count);
		*out = b->base_pfn + idx;
		return true;
	}
	unsigned k = order + (unsigned)__builtin_ctz(mask);
	uint32_t i = b->head[k];
	list_remove(b, i, k);
	while (k > order) {   /* split: the upper half of each split goes back to the list below */
		k--;
		list_push(b, i + (1u << k), k);
	}
	b->free_frames -= 1ULL << order;
	if (count < (1ULL << order))
		buddy_free(b, b->base_pfn + i + count, (1ULL << order) - count);
	*out = b->base_pfn + i;
	return true;
}
