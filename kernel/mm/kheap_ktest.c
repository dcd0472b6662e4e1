/* kheap_ktest.c - in-kernel tests of the kernel heap (group kheap). */
#include "mm/kheap.h"
#include "mm/kheap_list.h"
#include "mm/frame.h"
#include "mm/pmm.h"
#include "ktest.h"

KTEST(kheap, kmalloc_kfree_sizes)
{
	uint64_t live_before = kheap_live();
	for (size_t sz = 1; sz <= 3 * 4096; sz = sz * 2 + 3) {
		uint8_t *p = kmalloc(sz);
		KT_ASSERT(p != NULL);
		KT_ASSERT_EQ((uintptr_t)p % KHEAP_MIN_ALIGN, 0);
		KT_ASSERT_LE(sz, ksize(p));
		for (size_t i = 0; i < sz; i++)
			p[i] = (uint8_t)i;
		for (size_t i = 0; i < sz; i += 61)
			KT_ASSERT_EQ(p[i], (uint8_t)i);
		kfree(p);
	}
	KT_ASSERT_EQ(kheap_live(), live_before);
}

KTEST(kheap, alignment)
{
	for (size_t al = 1; al <= KHEAP_MAX_ALIGN; al *= 2) {
		void *p = kmalloc_aligned(100, al);
		void *q = kmalloc_aligned(5000, al);
		KT_ASSERT(p != NULL && q != NULL);
		KT_ASSERT_EQ((uintptr_t)p % al, 0);
		KT_ASSERT_EQ((uintptr_t)q % al, 0);
		kfree(p);
		kfree(q);
	}
	KT_ASSERT(kmalloc_aligned(16, 3) == NULL);
}

KTEST(kheap, kzalloc_krealloc)
{
	uint8_t *p = kzalloc(300);
	KT_ASSERT(p != NULL);
	for (int i = 0; i < 300; i++)
		KT_ASSERT_EQ(p[i], 0);
	for (int i = 0; i < 300; i++)
		p[i] = (uint8_t)(i * 7);
	p = krealloc(p, 20000);
	KT_ASSERT(p != NULL);
	for (int i = 0; i < 300; i++)
		KT_ASSERT_EQ(p[i], (uint8_t)(i * 7));
	p = krealloc(p, 40);
	KT_ASSERT(p != NULL);
	KT_ASSERT_EQ(p[39], (uint8_t)(39 * 7));
	KT_ASSERT(krealloc(p, 0) == NULL);
}

/* Exhaustion returns NULL and the heap recovers (frame allocation starved by fault injection). */
KTEST(kheap, oom_returns_null)
{
	frame_alloc_fail_after(0);
	void *big = kmalloc(64 * 1024);
	void *slab = kmalloc_aligned(2048, 2048);   /* may come from a cached slab: not asserted */
	frame_alloc_fail_after(-1);
	kfree(slab);
	KT_ASSERT(big == NULL);
	void *ok = kmalloc(64 * 1024);
	KT_ASSERT(ok != NULL);
	kfree(ok);
}

/* Many objects of mixed sizes: contents survive, and freeing all of them leaves no live object. */
KTEST(kheap, many_objects)
{
	enum { N = 512 };
	static uint8_t *objs[N];
	static size_t sizes[N];
	uint64_t live_before = kheap_live();
	for (int i = 0; i < N; i++) {
		sizes[i] = 1 + ktest_rand() % (i % 16 == 0 ? 9000 : 400);
		objs[i] = kmalloc(sizes[i]);
		KT_ASSERT(objs[i] != NULL);
		for (size_t j = 0; j < sizes[i]; j++)
			objs[i][j] = (uint8_t)(i + j);
	}
	for (int i = 0; i < N; i += 2)
		kfree(objs[i]);
	for (int i = 1; i < N; i += 2) {
		for (size_t j = 0; j < sizes[i]; j += 13)
			KT_ASSERT_EQ(objs[i][j], (uint8_t)(i + j));
		kfree(objs[i]);
	}
	KT_ASSERT_EQ(kheap_live(), live_before);
	KT_ASSERT_EQ(pmm_leaked(), 0);
}

/* The Phase 1 list heap as a private object: coalescing gives the arena back whole, frames go back to the pmm. */
KTEST(kheap, list_private)
{
	static struct kheap_list h;
	kheap_list_init(&h);
	void *a = kheap_list_alloc(&h, 200, 0), *b = kheap_list_alloc(&h, 300, 64), *c = kheap_list_alloc(&h, 100000, 0);
	KT_ASSERT(a && b && c);
	KT_ASSERT_EQ((uintptr_t)b % 64, 0);
	KT_ASSERT_LE(KHEAP_LIST_ARENA_FRAMES + 25, h.frames);   /* a second arena for the 100 KB block */
	kheap_list_free(&h, c);
	KT_ASSERT_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);       /* the emptied arena went back */
	kheap_list_free(&h, a);
	kheap_list_free(&h, b);
	kheap_list_check(&h);
	void *whole = kheap_list_alloc(&h, KHEAP_LIST_ARENA_FRAMES * 4096 - 200, 0);   /* needs full coalescing */
	KT_ASSERT(whole != NULL);
	KT_ASSERT_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);
	kheap_list_free(&h, whole);
	KT_ASSERT_EQ(h.live, 0);
	/* Give the last arena back too, so the run's frame accounting sees no leak. */
	struct pmm_stats st;
	KT_ASSERT_OK(pmm_stats(0, &st));
	KT_ASSERT_LE(KHEAP_LIST_ARENA_FRAMES, st.count[FRAME_HEAP]);
	kheap_list_release_all(&h);
	KT_ASSERT_EQ(h.frames, 0);
}

/* Ends the run on purpose: kfree of a freed object panics naming the pointer. */
KTEST(fault, kheap_double_free)
{
	void *p = kmalloc(48);
	kfree(p);
	kfree(p);
	KT_ASSERT(!"kfree of a freed object returned");
}
