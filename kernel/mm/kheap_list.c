/*
 * kheap_list.c - first-fit list allocator with boundary-tag coalescing (see kheap_list.h).
 *
 * Invariants (kheap_list_check): in every arena the blocks tile [first block, epilogue) exactly; each block's
 * header and footer agree; no two adjacent blocks are both free (coalescing is complete); the free list holds
 * exactly the free blocks; frames = the sum of the arenas' frames.
 */
#include "mm/kheap_list.h"
#include "mm/frame.h"
#include "mm/physmem.h"
#include "panic.h"

#define USED       1ULL
#define TAG_MAGIC  0x4c4953544845415bULL   /* "LISTHEA[" */
#define HDR        16u
#define MIN_BLOCK  64u                     /* header + 2 pointers + footer, rounded to 16 */

struct kheap_list_block {   /* header; free blocks also use the first payload words for links */
	uint64_t size_used;
	uint64_t check;
	struct kheap_list_block *next, *prev;   /* free blocks only */
};

struct kheap_list_arena {
	struct kheap_list_arena *next;
	uint64_t nframes;
	uint64_t pad[2];   /* the arena header is 32 bytes; the prologue follows */
};

/* Tag pair written at both ends of a block at b. */
static inline uint64_t check_of(const void *b, uint64_t size_used)
{
	return size_used ^ TAG_MAGIC ^ (uint64_t)(uintptr_t)b;
}

static inline uint64_t bsize(const struct kheap_list_block *b) { return b->size_used & ~15ULL; }
static inline bool bused(const struct kheap_list_block *b) { return b->size_used & USED; }
static inline uint64_t *footer_of(struct kheap_list_block *b) { return (uint64_t *)((char *)b + bsize(b) - HDR); }
static inline struct kheap_list_block *next_block(struct kheap_list_block *b) { return (void *)((char *)b + bsize(b)); }

/* Writes header and footer of a block at b. */
static void set_block(struct kheap_list_block *b, uint64_t size, bool used)
{
	b->size_used = size | (used ? USED : 0);
	b->check = check_of(b, b->size_used);
	uint64_t *f = (uint64_t *)((char *)b + size - HDR);
	f[0] = b->size_used;
	f[1] = check_of(b, b->size_used);
}

/* Puts free block b at the head of the free list. Lock held. */
static void list_push(struct kheap_list *h, struct kheap_list_block *b)
{
	b->prev = NULL;
	b->next = h->free;
	if (h->free)
		h->free->prev = b;
	h->free = b;
}

/* Unlinks free block b from the free list. Lock held. */
static void list_remove(struct kheap_list *h, struct kheap_list_block *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		h->free = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

/* Initialises h empty: no arenas, no frames. */
void kheap_list_init(struct kheap_list *h)
{
	h->lock = (struct spinlock)SPINLOCK_INIT(kheap_list);
	h->free = NULL;
	h->arenas = NULL;
	h->frames = 0;
	h->live = 0;
}

/* Adds an arena able to hold a block of `need` bytes; false when the pmm is exhausted. Lock held. */
static bool grow(struct kheap_list *h, uint64_t need)
{
	uint64_t bytes = align_up(need + sizeof(struct kheap_list_arena) + 2 * HDR, PAGE_SIZE);
	uint64_t nframes = bytes / PAGE_SIZE;
	if (nframes < KHEAP_LIST_ARENA_FRAMES)
		nframes = KHEAP_LIST_ARENA_FRAMES;
	struct frame f;
	if (frame_alloc_contig(&f, nframes, 1, FRAME_HEAP) != MM_OK)
		return false;
	struct kheap_list_arena *a = phys_to_virt(frame_paddr(f));
	a->next = h->arenas;
	a->nframes = nframes;
	h->arenas = a;
	h->frames += nframes;
	/* prologue: a used 16-byte "footer"; epilogue: a used header of size 0 */
	uint64_t *pro = (uint64_t *)(a + 1);
	struct kheap_list_block *first = (void *)(pro + 2);
	uint64_t span = nframes * PAGE_SIZE - sizeof *a - 2 * HDR;
	pro[0] = USED;
	pro[1] = 0;
	set_block(first, span, false);
	struct kheap_list_block *epi = next_block(first);
	epi->size_used = USED;
	epi->check = 0;
	list_push(h, first);
	return true;
}

/* Block size for a payload of size bytes. */
static uint64_t block_size_for(uint64_t size)
{
	uint64_t s = align_up(size + 2 * HDR, 16);
	return s < MIN_BLOCK ? MIN_BLOCK : s;
}

/* Splits free block b (already off the list) to `size` bytes, returning the remainder to the list. Lock held. */
static void take(struct kheap_list *h, struct kheap_list_block *b, uint64_t size)
{
	uint64_t have = bsize(b);
	if (have - size >= MIN_BLOCK) {
		set_block(b, size, true);
		struct kheap_list_block *rest = next_block(b);
		set_block(rest, have - size, false);
		list_push(h, rest);
	} else {
		set_block(b, have, true);
	}
}

/* First fit over the free list (growing by an arena when nothing fits); splits off the rest. */
void *kheap_list_alloc(struct kheap_list *h, size_t size, size_t align)
{
	if (size == 0 || size > (1ULL << 40) || align > PAGE_SIZE || (align & (align - 1)))
		return NULL;
	if (align < 16)
		align = 16;
	uint64_t need = block_size_for(size);
	/* For align > 16: room to move the payload up to an aligned address and leave a free block in front. */
	uint64_t search = align > 16 ? need + align + MIN_BLOCK : need;
	spin_lock(&h->lock);
	struct kheap_list_block *b;
	for (;;) {
		for (b = h->free; b && bsize(b) < search; b = b->next)
			;
		if (b)
			break;
		if (!grow(h, search)) {
			spin_unlock(&h->lock);
			return NULL;
		}
	}
	list_remove(h, b);
	if (align > 16) {
		uintptr_t pay = (uintptr_t)b + HDR;
		uintptr_t want = align_up(pay, align);
		if (want != pay) {
			while (want - pay < MIN_BLOCK)
				want += align;
			uint64_t front = want - pay;   /* >= MIN_BLOCK, multiple of 16 */
			uint64_t total = bsize(b);
			set_block(b, front, false);
			list_push(h, b);
			b = (void *)((char *)b + front);
			set_block(b, total - front, false);
		}
	}
	take(h, b, need);
	h->live++;
	spin_unlock(&h->lock);
	return (char *)b + HDR;
}

/* Why payload p is not a live block (NULL when it is one). */
static const char *block_problem(void *p)
{
	struct kheap_list_block *b = (void *)((char *)p - HDR);
	if (((uintptr_t)p & 15) || b->check != check_of(b, b->size_used) || bsize(b) < MIN_BLOCK)
		return "is not a list-heap block (bad header tag)";
	if (!bused(b))
		return "is already free (double free?)";
	uint64_t *f = footer_of(b);
	if (f[0] != b->size_used || f[1] != b->check)
		return "has a corrupt footer (overflow past its end?)";
	return NULL;
}

/* The header of the live block holding payload p; panics naming p otherwise (lock not held). */
static struct kheap_list_block *live_block(const char *fn, void *p)
{
	const char *why = block_problem(p);
	if (why)
		panic("%s: %p %s", fn, p, why);
	return (void *)((char *)p - HDR);
}

/* Erases a block's header tag so a stale pointer to an absorbed block is caught as a wild free. */
static inline void wipe_header(struct kheap_list_block *b)
{
	b->size_used = 0;
	b->check = 0;
}

/* Frees p, merging with free neighbours; gives a wholly free arena back unless it is the last. */
void kheap_list_free(struct kheap_list *h, void *p)
{
	if (!p)
		return;
	spin_lock(&h->lock);
	const char *why = block_problem(p);
	if (why) {
		spin_unlock(&h->lock);
		panic("kfree: %p %s", p, why);
	}
	struct kheap_list_block *b = (void *)((char *)p - HDR);
	uint64_t size = bsize(b);
	h->live--;
	struct kheap_list_block *n = next_block(b);
	if (!bused(n)) {   /* merge with the next block */
		list_remove(h, n);
		size += bsize(n);
		wipe_header(n);
	}
	uint64_t *prev_footer = (uint64_t *)((char *)b - HDR);
	if (!(prev_footer[0] & USED)) {   /* merge with the previous block */
		struct kheap_list_block *pb = (void *)((char *)b - (prev_footer[0] & ~15ULL));
		list_remove(h, pb);
		size += bsize(pb);
		wipe_header(b);
		prev_footer[0] = prev_footer[1] = 0;
		b = pb;
	}
	set_block(b, size, false);
	/* A wholly free arena goes back to the pmm, except the last one left. */
	uint64_t *pro = (uint64_t *)b - 2;
	struct kheap_list_arena *a = (struct kheap_list_arena *)pro - 1;
	/* b spans the arena when the prologue (a "footer" of size 0) is right before it and the epilogue
	 * (a header of size 0) right after it; real blocks are at least MIN_BLOCK bytes. */
	bool whole = pro[0] == USED && pro[1] == 0 && next_block(b)->size_used == USED && next_block(b)->check == 0;
	if (whole && !(h->arenas == a && a->next == NULL)) {
		struct kheap_list_arena **pp = &h->arenas;
		while (*pp != a)
			pp = &(*pp)->next;
		*pp = a->next;
		h->frames -= a->nframes;
		struct frame f = { .pfn = pfn_of(virt_to_phys_direct(a)) };
		frame_free_contig(&f, a->nframes);
	} else {
		list_push(h, b);
	}
	spin_unlock(&h->lock);
}

/* Payload bytes of the live block p. */
size_t kheap_list_usable_size(void *p)
{
	return bsize(live_block("kheap_list_usable_size", p)) - 2 * HDR;
}

/* Returns every arena to the pmm; panics if a block is live. */
void kheap_list_release_all(struct kheap_list *h)
{
	spin_lock(&h->lock);
	if (h->live) {
		uint64_t live = h->live;
		spin_unlock(&h->lock);
		panic("kheap_list_release_all: %lu blocks still live", live);
	}
	while (h->arenas) {
		struct kheap_list_arena *a = h->arenas;
		h->arenas = a->next;
		h->frames -= a->nframes;
		struct frame f = { .pfn = pfn_of(virt_to_phys_direct(a)) };
		frame_free_contig(&f, a->nframes);
	}
	h->free = NULL;
	spin_unlock(&h->lock);
}

/* Walks every arena and the free list checking the invariants at the top; panics on the first break. */
void kheap_list_check(struct kheap_list *h)
{
	uint64_t nfree = 0, frames = 0;
	spin_lock(&h->lock);
	for (struct kheap_list_arena *a = h->arenas; a; a = a->next) {
		frames += a->nframes;
		struct kheap_list_block *b = (void *)((uint64_t *)(a + 1) + 2);
		char *end = (char *)a + a->nframes * PAGE_SIZE - HDR;
		bool prev_free = false;
		while ((char *)b < end) {
			if (b->check != check_of(b, b->size_used) || bsize(b) < MIN_BLOCK || (char *)b + bsize(b) > end)
				panic("kheap_list_check: bad block header at %p (size_used 0x%lx)", (void *)b, b->size_used);
			uint64_t *f = footer_of(b);
			if (f[0] != b->size_used)
				panic("kheap_list_check: footer of %p says 0x%lx, header 0x%lx", (void *)b, f[0], b->size_used);
			if (!bused(b)) {
				if (prev_free)
					panic("kheap_list_check: adjacent free blocks at %p (coalescing missed)", (void *)b);
				nfree++;
			}
			prev_free = !bused(b);
			b = next_block(b);
		}
		if ((char *)b != end || b->size_used != USED)
			panic("kheap_list_check: arena %p blocks do not end at its epilogue", (void *)a);
	}
	uint64_t listed = 0;
	for (struct kheap_list_block *b = h->free; b; b = b->next) {
		if (bused(b))
			panic("kheap_list_check: used block %p on the free list", (void *)b);
		listed++;
	}
	if (listed != nfree || frames != h->frames)
		panic("kheap_list_check: %lu free blocks listed, %lu in arenas; frames %lu vs %lu", listed, nfree, frames,
		      h->frames);
	spin_unlock(&h->lock);
}
