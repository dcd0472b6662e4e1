/*
 * kheap.h - the kernel heap: kmalloc / kzalloc / kfree / krealloc.
 *
 * Size-class slabs on top of the frame allocator (the seed's Phase 2 heap):
 *
 *   size <= 2048 B  -> a slab of class 16, 32, ..., 2048 B. A slab is KHEAP_SLAB_BYTES (16 KiB = 4 frames),
 *                      aligned to its size, with a header at its start (magic, class, free list, a bitmap of
 *                      free objects) and objects after it, each naturally aligned to its class size.
 *   larger          -> whole frames (frame_alloc_contig, aligned to 4 frames), the same header at the start
 *                      and the object after it.
 *
 * So for every pointer kmalloc returns, p & ~(KHEAP_SLAB_BYTES - 1) is the header of the allocation's own
 * slab or large block, never user data: kfree finds it without a lookup and checks the magic, the object's
 * offset and the free bitmap, so freeing a wild pointer or freeing twice panics naming the pointer.
 *
 * Alignment: at least 16 bytes; kmalloc_aligned honours any power of two up to 4096. Exhaustion returns
 * NULL (never a partial or corrupted state). A spinlock protects each heap. Frames come from frame_alloc
 * as FRAME_HEAP and are reached through the direct map (phys_to_virt).
 *
 * A struct kheap is an object: the kernel has one (kmalloc & co.), tests build private ones.
 */
#ifndef FERROUS_MM_KHEAP_H
#define FERROUS_MM_KHEAP_H

#include "mm/types.h"
#include "spinlock.h"

#define KHEAP_SLAB_BYTES   16384u
#define KHEAP_SLAB_FRAMES  (KHEAP_SLAB_BYTES / 4096u)
#define KHEAP_NCLASSES     8              /* 16 << 0 .. 16 << 7 = 2048 */
#define KHEAP_MAX_CLASS    2048u
#define KHEAP_MAX_ALIGN    4096u
#define KHEAP_MIN_ALIGN    16u
#define KHEAP_LARGE_CACHE  8              /* freed large blocks kept for reuse ... */
#define KHEAP_LARGE_CACHE_FRAMES 4        /* ... when at most this many frames */

struct kheap_slab;

struct kheap_stats {
	uint64_t frames;        /* frames held (slabs + large blocks) */
	uint64_t live;          /* objects handed out and not freed */
	uint64_t live_bytes;    /* bytes of the live objects (slab: class size; large: as requested) */
	uint64_t slabs;
	uint64_t large;         /* live large blocks */
};

struct kheap {
	struct spinlock lock;
	struct kheap_slab *partial[KHEAP_NCLASSES];   /* slabs of each class with a free object */
	struct kheap_slab *cache[KHEAP_LARGE_CACHE];  /* freed small large blocks, reused first */
	unsigned ncached;
	struct kheap_stats st;
};

/* Initialises an empty heap (no frames held). */
void kheap_init_heap(struct kheap *h);

/* size bytes aligned to align (power of two <= KHEAP_MAX_ALIGN; smaller values mean 16); NULL on exhaustion,
 * size 0, or a bad align. */
void *kheap_alloc(struct kheap *h, size_t size, size_t align);

/* Frees p (NULL is ignored); panics if p is not a live object of h's kind (wild pointer, double free). */
void kheap_free(struct kheap *h, void *p);

/* Resizes p to size (kmalloc/kfree semantics for NULL p / size 0); on failure NULL and p untouched. */
void *kheap_realloc(struct kheap *h, void *p, size_t size);

/* Usable bytes of the live object p (>= the size asked for). */
size_t kheap_usable_size(void *p);

/* Frees every empty slab h keeps (one per class) and the cached large blocks, so their frames go back to the pmm. */
void kheap_trim(struct kheap *h);

/* Snapshot of h's counters. */
void kheap_stats(struct kheap *h, struct kheap_stats *out);

/* ---- the kernel heap ----
 * kmalloc & co. go to the slab heap, or to the Phase 1 list heap (kheap_list.h) when the command line says
 * `kheap=list`. Both are registered as one frame owner for the leak count. */

/* Sets up the kernel heap (backend from `kheap=`) and registers it as a frame owner. */
void kheap_init(void);

/* size bytes, 16-byte aligned; NULL on exhaustion or size 0. */
void *kmalloc(size_t size);
/* size bytes aligned to align (power of two <= 4096); NULL on exhaustion, size 0 or a bad align. */
void *kmalloc_aligned(size_t size, size_t align);
/* kmalloc, zero-filled. */
void *kzalloc(size_t size);
/* Frees p (NULL ignored); panics on a pointer that is not a live object (wild or double free). */
void kfree(void *p);
/* Resizes p keeping its contents (NULL p: kmalloc; size 0: kfree, returns NULL); NULL on failure, p intact. */
void *krealloc(void *p, size_t size);
/* Usable bytes of the live object p. */
size_t ksize(void *p);

/* Live objects of the active kernel heap. */
uint64_t kheap_live(void);
/* Switches the kernel heap backend (tests only: only while neither heap has live objects). */
void kheap_use_list(bool on);

/* The kernel's heaps themselves (for stats and tests). */
struct kheap *kheap_kernel(void);
struct kheap_list *kheap_kernel_list(void);

#endif
