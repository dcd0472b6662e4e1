/*
 * kheap.c - slab + large-block kernel heap (see kheap.h for the layout).
 *
 * Invariants of a heap:
 *   - every slab on partial[c] has class c and at least one free object;
 *   - a slab's free bitmap bit i is set exactly when object i is on its free list;
 *   - inuse = objects - (free objects); a slab whose inuse drops to 0 is returned to the pmm unless it is the
 *     only slab on its class's partial list (kept to avoid alloc/free thrash at a slab boundary);
 *   - st.frames = KHEAP_SLAB_FRAMES * slabs + frames of the live and of the cached large blocks;
 *   - cache[0..ncached) are freed large blocks of <= KHEAP_LARGE_CACHE_FRAMES frames, magic CACHED_MAGIC.
 */
#include "mm/kheap.h"
#include "mm/kheap_list.h"
#include "mm/frame.h"
#include "mm/physmem.h"
#include "mm/pmm.h"
#include "panic.h"
#ifdef __FERROUS_KERNEL__
#include "cmdline.h"
#include "kstring.h"
#include "protocol.h"
#else
#include <string.h>
#endif

#define SLAB_MAGIC  0x42414c53u   /* "SLAB" */
#define LARGE_MAGIC 0x4752414cu   /* "LARG" */
#define CACHED_MAGIC 0x48434c46u  /* "FLCH": a freed large block kept in the heap's cache */
#define HDR_BYTES   256u          /* header + free bitmap; first object offset is max(HDR_BYTES, size) */
#define MAX_OBJS    ((KHEAP_SLAB_BYTES - HDR_BYTES) / 16u)

struct kheap_slab {
	uint32_t magic;
	uint16_t cls;                 /* slab: class index; large: unused */
	uint16_t inuse;               /* slab: live objects */
	uint32_t size;                /* slab: object size; large: offset of the object from the header */
	uint32_t nobjs;               /* slab: objects in the slab */
	uint64_t nframes;             /* large: frames of the block */
	uint64_t req;                 /* large: bytes requested */
	void *free;                   /* slab: first free object; each free object holds the next */
	struct kheap_slab *next, *prev;   /* partial list links */
	struct kheap *owner;
	uint64_t freemap[(MAX_OBJS + 63) / 64];   /* bit i = object i is free */
};

_Static_assert(sizeof(struct kheap_slab) <= HDR_BYTES, "slab header must fit in HDR_BYTES");

/* Class index for a request of size bytes (size <= KHEAP_MAX_CLASS): ceil(log2(size)) - 4, at least 0. */
static inline unsigned class_of(size_t size)
{
	if (size <= 16)
		return 0;
	return (unsigned)(64 - __builtin_clzll((uint64_t)size - 1)) - 4;
}

/* Object size of class c. */
static inline uint32_t class_size(unsigned c)
{
	return 16u << c;
}

/* Offset of the first object in a slab of class size sz. */
static inline uint32_t first_offset(uint32_t sz)
{
	return sz > HDR_BYTES ? sz : HDR_BYTES;
}

/* Fills n bytes at p with v (debug builds). */
static void debug_fill(void *p, uint8_t v, size_t n)
{
	if (MM_DEBUG_FILL)
		memset(p, v, n);
}

/* Initialises h empty: no slabs, no frames. */
void kheap_init_heap(struct kheap *h)
{
	h->lock = (struct spinlock)SPINLOCK_INIT(kheap);
	for (unsigned c = 0; c < KHEAP_NCLASSES; c++)
		h->partial[c] = NULL;
	h->ncached = 0;
	h->st = (struct kheap_stats){ 0 };
}

/* Puts slab s at the head of its class's partial list. Lock held. */
static void partial_push(struct kheap *h, struct kheap_slab *s)
{
	s->prev = NULL;
	s->next = h->partial[s->cls];
	if (s->next)
		s->next->prev = s;
	h->partial[s->cls] = s;
}

/* Unlinks slab s from its class's partial list. Lock held. */
static void partial_remove(struct kheap *h, struct kheap_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->partial[s->cls] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* A new slab of class c from the pmm, all objects free; NULL when the pmm is exhausted. Lock held. */
static struct kheap_slab *slab_new(struct kheap *h, unsigned c)
{
	struct frame f;
	if (frame_alloc_contig(&f, KHEAP_SLAB_FRAMES, KHEAP_SLAB_FRAMES, FRAME_HEAP) != MM_OK)
		return NULL;
	struct kheap_slab *s = phys_to_virt(frame_paddr(f));
	uint32_t sz = class_size(c);
	*s = (struct kheap_slab){ .magic = SLAB_MAGIC, .cls = (uint16_t)c, .size = sz, .owner = h };
	s->nobjs = (KHEAP_SLAB_BYTES - first_offset(sz)) / sz;
	/* Thread the free list in address order; mark every object free. */
	char *base = (char *)s + first_offset(sz);
	for (uint32_t i = 0; i < s->nobjs; i++) {
		void **obj = (void **)(base + (size_t)i * sz);
		*obj = i + 1 < s->nobjs ? base + (size_t)(i + 1) * sz : NULL;
		s->freemap[i / 64] |= 1ULL << (i % 64);
	}
	s->free = base;
	h->st.slabs++;
	h->st.frames += KHEAP_SLAB_FRAMES;
	return s;
}

/* Returns an empty slab's frames to the pmm. Lock held; s is not on the partial list. */
static void slab_release(struct kheap *h, struct kheap_slab *s)
{
	s->magic = 0;
	struct frame f = { .pfn = pfn_of(virt_to_phys_direct(s)) };
	frame_free_contig(&f, KHEAP_SLAB_FRAMES);
	h->st.slabs--;
	h->st.frames -= KHEAP_SLAB_FRAMES;
}

/* Large block: whole frames, header at the start, object at offset max(64, align). Small blocks (up to
 * KHEAP_LARGE_CACHE_FRAMES) are reused from the heap's cache of freed ones first. Lock held. */
static void *large_alloc(struct kheap *h, size_t size, size_t align)
{
	uint32_t off = align > 64 ? (uint32_t)align : 64;
	if (size > (1ULL << 40))
		return NULL;
	uint64_t nframes = align_up(size + off, PAGE_SIZE) / PAGE_SIZE;
	struct kheap_slab *s = NULL;
	for (unsigned i = 0; i < h->ncached; i++) {
		if (h->cache[i]->nframes == nframes) {
			s = h->cache[i];
			h->cache[i] = h->cache[--h->ncached];
			break;
		}
	}
	if (!s) {
		struct frame f;
		if (frame_alloc_contig(&f, nframes, KHEAP_SLAB_FRAMES, FRAME_HEAP) != MM_OK)
			return NULL;
		s = phys_to_virt(frame_paddr(f));
		h->st.frames += nframes;
	}
	*s = (struct kheap_slab){ .magic = LARGE_MAGIC, .size = off, .nframes = nframes, .req = size, .owner = h };
	h->st.large++;
	h->st.live++;
	h->st.live_bytes += size;
	return (char *)s + off;
}

/* An object of size bytes aligned to align from a slab (<= 2048 B) or whole frames; NULL on exhaustion. */
void *kheap_alloc(struct kheap *h, size_t size, size_t align)
{
	if (size == 0 || align > KHEAP_MAX_ALIGN || (align & (align - 1)))
		return NULL;
	if (align < KHEAP_MIN_ALIGN)
		align = KHEAP_MIN_ALIGN;
	size_t need = size > align ? size : align;   /* class sizes are powers of two: natural alignment */
	spin_lock(&h->lock);
	void *p;
	if (need > KHEAP_MAX_CLASS) {
		p = large_alloc(h, size, align);
	} else {
		unsigned c = class_of(need);
		struct kheap_slab *s = h->partial[c];
		if (!s) {
			s = slab_new(h, c);
			if (!s) {
				spin_unlock(&h->lock);
				return NULL;
			}
			partial_push(h, s);
		}
		p = s->free;
		s->free = *(void **)p;
		uint32_t i = (uint32_t)(((char *)p - ((char *)s + first_offset(s->size))) / s->size);
		s->freemap[i / 64] &= ~(1ULL << (i % 64));
		s->inuse++;
		if (!s->free)
			partial_remove(h, s);
		h->st.live++;
		h->st.live_bytes += s->size;
	}
	spin_unlock(&h->lock);
	if (p)
		debug_fill(p, 0xa5, size);
	return p;
}

/* The slab or large-block header p would have: p rounded down to KHEAP_SLAB_BYTES. Not yet checked. */
static struct kheap_slab *header_base(void *p)
{
	/* SAFETY: every object kheap hands out lies in the first KHEAP_SLAB_BYTES of a slab or large block that
	 * starts on a KHEAP_SLAB_BYTES boundary in the direct map, so rounding p down reaches its header; for a
	 * foreign p the magic check in header_of rejects it (a p outside mapped memory faults, as any wild
	 * pointer). */
	return (struct kheap_slab *)((uintptr_t)p & ~(uintptr_t)(KHEAP_SLAB_BYTES - 1));
}

/* The header of the live allocation holding p, after checking magic and owner with h's lock held (kfree and a
 * slab release change the magic under that lock, so the check cannot race with them). On a bad p, drops the
 * lock and panics naming p. */
static struct kheap_slab *header_of(struct kheap *h, const char *fn, void *p)
{
	spin_assert_held(&h->lock);
	struct kheap_slab *s = header_base(p);
	uint32_t magic = s->magic;
	if (magic == CACHED_MAGIC) {
		spin_unlock(&h->lock);
		panic("%s: %p is already free (double free?), large block at %p", fn, p, (void *)s);
	}
	if (magic != SLAB_MAGIC && magic != LARGE_MAGIC) {
		spin_unlock(&h->lock);
		panic("%s: %p is not a heap object (no slab or large header at %p)", fn, p, (void *)s);
	}
	struct kheap *owner = s->owner;
	if (owner != h) {
		spin_unlock(&h->lock);
		panic("%s: %p belongs to heap %p, not %p", fn, p, (void *)owner, (void *)h);
	}
	return s;
}

/* Frees p after checking its header, offset and free bitmap; empty slabs beyond one per class go back. */
void kheap_free(struct kheap *h, void *p)
{
	if (!p)
		return;
	spin_lock(&h->lock);
	struct kheap_slab *s = header_of(h, "kfree", p);
	if (s->magic == LARGE_MAGIC) {
		if ((char *)p != (char *)s + s->size) {
			spin_unlock(&h->lock);
			panic("kfree: %p is inside a large block at %p, not its start", p, (void *)s);
		}
		h->st.large--;
		h->st.live--;
		h->st.live_bytes -= s->req;
		if (s->nframes <= KHEAP_LARGE_CACHE_FRAMES && h->ncached < KHEAP_LARGE_CACHE) {
			s->magic = CACHED_MAGIC;   /* a second kfree now sees "already free" */
			h->cache[h->ncached++] = s;
		} else {
			h->st.frames -= s->nframes;
			struct frame f = { .pfn = pfn_of(virt_to_phys_direct(s)) };
			uint64_t n = s->nframes;
			s->magic = 0;
			frame_free_contig(&f, n);
		}
		spin_unlock(&h->lock);
		return;
	}
	uintptr_t off = (uintptr_t)((char *)p - ((char *)s + first_offset(s->size)));
	uint32_t i = (uint32_t)(off / s->size);
	if ((char *)p < (char *)s + first_offset(s->size) || off % s->size != 0 || i >= s->nobjs) {
		spin_unlock(&h->lock);
		panic("kfree: %p is not an object boundary of its %u-byte slab at %p", p, s->size, (void *)s);
	}
	if (s->freemap[i / 64] & (1ULL << (i % 64))) {
		spin_unlock(&h->lock);
		panic("kfree: %p is already free (double free?), %u-byte slab at %p", p, s->size, (void *)s);
	}
	debug_fill(p, 0x6b, s->size);
	s->freemap[i / 64] |= 1ULL << (i % 64);
	*(void **)p = s->free;
	bool was_full = s->free == NULL;
	s->free = p;
	s->inuse--;
	h->st.live--;
	h->st.live_bytes -= s->size;
	if (was_full)
		partial_push(h, s);
	if (s->inuse == 0 && (h->partial[s->cls] != s || s->next != NULL)) {
		partial_remove(h, s);
		slab_release(h, s);
	}
	spin_unlock(&h->lock);
}

/* Usable bytes of live object p in h (class size, or the large block's payload), header checked. Lock held. */
static size_t usable_size_locked(struct kheap *h, const char *fn, void *p)
{
	struct kheap_slab *s = header_of(h, fn, p);
	if (s->magic == LARGE_MAGIC)
		return s->nframes * PAGE_SIZE - s->size;
	return s->size;
}

/* Usable bytes of live object p (class size, or the large block's payload). The unlocked read of the header
 * only finds p's heap; the checks and the answer come from under that heap's lock. */
size_t kheap_usable_size(void *p)
{
	struct kheap_slab *s = header_base(p);
	uint32_t magic = __atomic_load_n(&s->magic, __ATOMIC_RELAXED);
	if (magic != SLAB_MAGIC && magic != LARGE_MAGIC && magic != CACHED_MAGIC)
		panic("kheap_usable_size: %p is not a heap object (no slab or large header at %p)", p, (void *)s);
	struct kheap *h = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
	spin_lock(&h->lock);
	size_t n = usable_size_locked(h, "kheap_usable_size", p);
	spin_unlock(&h->lock);
	return n;
}

/* Resizes p, in place when it still fits well; else allocate, copy, free. */
void *kheap_realloc(struct kheap *h, void *p, size_t size)
{
	if (!p)
		return kheap_alloc(h, size, 0);
	if (size == 0) {
		kheap_free(h, p);
		return NULL;
	}
	spin_lock(&h->lock);
	size_t have = usable_size_locked(h, "krealloc", p);
	spin_unlock(&h->lock);
	if (size <= have && (have <= KHEAP_MAX_CLASS ? size > have / 2 : true))
		return p;   /* fits, and not wasting more than half a slab object */
	void *q = kheap_alloc(h, size, 0);
	if (!q)
		return NULL;
	memcpy(q, p, size < have ? size : have);
	kheap_free(h, p);
	return q;
}

/* Returns cached large blocks and empty slabs to the pmm. */
void kheap_trim(struct kheap *h)
{
	spin_lock(&h->lock);
	while (h->ncached > 0) {
		struct kheap_slab *s = h->cache[--h->ncached];
		h->st.frames -= s->nframes;
		struct frame f = { .pfn = pfn_of(virt_to_phys_direct(s)) };
		uint64_t n = s->nframes;
		s->magic = 0;
		frame_free_contig(&f, n);
	}
	for (unsigned c = 0; c < KHEAP_NCLASSES; c++) {
		struct kheap_slab *s = h->partial[c];
		while (s) {
			struct kheap_slab *next = s->next;
			if (s->inuse == 0) {
				partial_remove(h, s);
				slab_release(h, s);
			}
			s = next;
		}
	}
	spin_unlock(&h->lock);
}

/* Copies h's counters. */
void kheap_stats(struct kheap *h, struct kheap_stats *out)
{
	spin_lock(&h->lock);
	*out = h->st;
	spin_unlock(&h->lock);
}

/* ---- the kernel heap ---- */

/* The kernel's heap: the slab heap (default) or the Phase 1 list heap (`kheap=list`), chosen once at boot. */
static struct kheap kernel_heap;
static struct kheap_list kernel_list_heap;
static bool use_list;

#ifdef __FERROUS_KERNEL__
CMDLINE_KEY(kheap, "kernel heap: slab (default) or list (the Phase 1 list allocator)");
#endif

/* Frames the kernel heap holds: its share of the owned frames for pmm_leaked(). */
static uint64_t kernel_heap_frames(void)
{
	return kernel_heap.st.frames + kernel_list_heap.frames;
}

/* Sets up the kernel heap, picks the backend from `kheap=`, registers the frame owner. */
void kheap_init(void)
{
	kheap_init_heap(&kernel_heap);
	kheap_list_init(&kernel_list_heap);
	use_list = false;
#ifdef __FERROUS_KERNEL__
	const char *v = cmdline_get("kheap");
	if (v && strcmp(v, "list") == 0)
		use_list = true;
	else if (v && strcmp(v, "slab") != 0)
		cmdline_report_bad("kheap", v, "expected slab or list");
	proto_line("kheap", "backend=%s", use_list ? "list" : "slab");
#endif
	pmm_register_owner("kheap", kernel_heap_frames);
}

/* Selects the list backend for kmalloc & co. (tests; both heaps must be idle). */
void kheap_use_list(bool on)
{
	use_list = on;
}

/* The kernel's slab heap. */
struct kheap *kheap_kernel(void)
{
	return &kernel_heap;
}

/* The kernel's list heap. */
struct kheap_list *kheap_kernel_list(void)
{
	return &kernel_list_heap;
}

/* Live objects of the active backend. */
uint64_t kheap_live(void)
{
	return use_list ? kernel_list_heap.live : kernel_heap.st.live;
}

/* size bytes, 16-byte aligned, from the active backend; NULL on exhaustion. */
void *kmalloc(size_t size)
{
	return use_list ? kheap_list_alloc(&kernel_list_heap, size, 0) : kheap_alloc(&kernel_heap, size, 0);
}

/* size bytes aligned to align (<= 4096) from the active backend. */
void *kmalloc_aligned(size_t size, size_t align)
{
	return use_list ? kheap_list_alloc(&kernel_list_heap, size, align) : kheap_alloc(&kernel_heap, size, align);
}

/* kmalloc, zero-filled. */
void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

/* Frees p to the active backend (NULL ignored). */
void kfree(void *p)
{
	if (use_list)
		kheap_list_free(&kernel_list_heap, p);
	else
		kheap_free(&kernel_heap, p);
}

/* Usable bytes of live object p. */
size_t ksize(void *p)
{
	return use_list ? kheap_list_usable_size(p) : kheap_usable_size(p);
}

/* Resizes p keeping its contents; NULL on failure with p intact. */
void *krealloc(void *p, size_t size)
{
	if (!use_list)
		return kheap_realloc(&kernel_heap, p, size);
	if (!p)
		return kmalloc(size);
	if (size == 0) {
		kfree(p);
		return NULL;
	}
	size_t have = kheap_list_usable_size(p);
	if (size <= have)
		return p;
	void *q = kmalloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, have);
	kfree(p);
	return q;
}
