/*
 * test_kheap.c - host tests of the kernel heap over a private pmm node backed by a malloc'd "RAM" array.
 * Alignment, exhaustion (NULL, then recovery), double free and wild frees, realloc, and a random model run
 * checking that live objects never overlap and keep their contents.
 */
#include <stdlib.h>
#include "ctest.h"
#include "mm/kheap.h"
#include "mm/kheap_list.h"
#include "mm/pmm.h"
#include "mm/physmem.h"

CTEST_DEFINE_GLOBALS;

#define RAM_FRAMES 2048          /* 8 MiB */
#define RAM_BASE   0x100000ULL   /* physical 1 MiB */

static struct pmm_node node;
static void *meta;
static uint8_t *ram;

static void setup(void)
{
	ram = aligned_alloc(KHEAP_SLAB_BYTES, RAM_FRAMES * PAGE_SIZE);
	physmem_set_window(ram, RAM_BASE, RAM_FRAMES * PAGE_SIZE);
	meta = malloc(pmm_node_meta_bytes(PMM_BUDDY, RAM_BASE >> 12, RAM_FRAMES));
	pmm_node_init(&node, 0, PMM_BUDDY, RAM_BASE >> 12, RAM_FRAMES, meta);
	pmm_node_set_state(&node, RAM_BASE >> 12, RAM_FRAMES, FRAME_FREE);
	pmm_set_global(&node, 1);
}

static void test_basic_and_alignment(void)
{
	struct kheap h;
	kheap_init_heap(&h);
	for (size_t sz = 1; sz <= 20000; sz = sz * 2 + 1) {
		uint8_t *p = kheap_alloc(&h, sz, 0);
		CHECK(p != NULL);
		CHECK_EQ((uintptr_t)p % 16, 0);
		CHECK(kheap_usable_size(p) >= sz);
		memset(p, 0x5a, sz);
		kheap_free(&h, p);
	}
	for (size_t al = 1; al <= KHEAP_MAX_ALIGN; al *= 2) {
		for (size_t sz = 1; sz <= 9000; sz = sz * 3 + 7) {
			void *p = kheap_alloc(&h, sz, al);
			CHECK(p != NULL);
			CHECK_EQ((uintptr_t)p % al, 0);
			kheap_free(&h, p);
		}
	}
	CHECK(kheap_alloc(&h, 16, 8192) == NULL);   /* beyond KHEAP_MAX_ALIGN */
	CHECK(kheap_alloc(&h, 16, 24) == NULL);     /* not a power of two */
	CHECK(kheap_alloc(&h, 0, 0) == NULL);
	struct kheap_stats st;
	kheap_stats(&h, &st);
	CHECK_EQ(st.live, 0);
	kheap_trim(&h);
	kheap_stats(&h, &st);
	CHECK_EQ(st.frames, 0);
	struct pmm_stats ps;
	pmm_node_stats(&node, &ps);
	CHECK_EQ(ps.count[FRAME_HEAP], 0);
	CHECK_EQ(ps.free, RAM_FRAMES);
}

static void test_exhaustion_and_recovery(void)
{
	struct kheap h;
	kheap_init_heap(&h);
	void **objs = malloc(100000 * sizeof *objs);
	size_t n = 0;
	while (n < 100000 && (objs[n] = kheap_alloc(&h, 1000, 0)) != NULL)
		n++;
	CHECK(n > 7000 && n < 100000);   /* ~8 MiB / 1 KiB */
	CHECK(kheap_alloc(&h, 5000, 0) == NULL);
	struct pmm_stats ps;
	pmm_node_stats(&node, &ps);
	CHECK(ps.free < KHEAP_SLAB_FRAMES);
	kheap_free(&h, objs[--n]);
	CHECK((objs[n] = kheap_alloc(&h, 1000, 0)) != NULL);   /* recovers */
	n++;
	while (n > 0)
		kheap_free(&h, objs[--n]);
	kheap_trim(&h);
	pmm_node_stats(&node, &ps);
	CHECK_EQ(ps.free, RAM_FRAMES);
	/* Fault injection reaches the heap as NULL, not a crash. */
	frame_alloc_fail_after(0);
	CHECK(kheap_alloc(&h, 64, 0) == NULL);
	CHECK(kheap_alloc(&h, 64 * 1024, 0) == NULL);
	frame_alloc_fail_after(-1);
	CHECK(kheap_alloc(&h, 64, 0) != NULL);
	free(objs);
}

static void test_bad_frees(void)
{
	struct kheap h;
	kheap_init_heap(&h);
	char *a = kheap_alloc(&h, 32, 0), *b = kheap_alloc(&h, 32, 0), *big = kheap_alloc(&h, 10000, 0);
	kheap_free(&h, a);
	EXPECT_PANIC(kheap_free(&h, a), "already free (double free?)");
	EXPECT_PANIC(kheap_free(&h, b + 8), "not an object boundary");
	EXPECT_PANIC(kheap_free(&h, big + 16), "inside a large block");
	struct kheap other;
	kheap_init_heap(&other);
	EXPECT_PANIC(kheap_free(&other, b), "belongs to heap");
	char *wild = (char *)ram + 64 * KHEAP_SLAB_BYTES + 32;
	memset(wild - 32, 0, 64);
	EXPECT_PANIC(kheap_free(&h, wild), "is not a heap object");
	kheap_free(&h, b);
	kheap_free(&h, big);
	EXPECT_PANIC(kheap_free(&h, big), "already free (double free?), large block");   /* cached, still caught */
	char *again = kheap_alloc(&h, 10000, 0);   /* reuses the cached block */
	CHECK(again == big);
	kheap_free(&h, again);
	kheap_free(&h, NULL);
	kheap_trim(&h);
}

static void test_realloc(void)
{
	struct kheap h;
	kheap_init_heap(&h);
	uint8_t *p = kheap_realloc(&h, NULL, 10);
	for (int i = 0; i < 10; i++)
		p[i] = (uint8_t)i;
	for (size_t sz = 11; sz < 50000; sz = sz * 2) {
		p = kheap_realloc(&h, p, sz);
		CHECK(p != NULL);
		for (int i = 0; i < 10; i++)
			CHECK_EQ(p[i], i);
	}
	p = kheap_realloc(&h, p, 5);
	CHECK_EQ(p[4], 4);
	CHECK(kheap_realloc(&h, p, 0) == NULL);
	struct kheap_stats st;
	kheap_stats(&h, &st);
	CHECK_EQ(st.live, 0);
	kheap_trim(&h);
}

/* Random model: objects never overlap and keep their fill byte until freed. */
static void test_model(uint64_t ops)
{
	struct kheap h;
	kheap_init_heap(&h);
	enum { N = 4096 };
	struct { uint8_t *p; size_t sz; uint8_t tag; } live[N];
	size_t nlive = 0;
	srand(7);
	for (uint64_t i = 0; i < ops; i++) {
		if ((rand() % 100 < 55 && nlive < N) || nlive == 0) {
			size_t sz = rand() % 8 == 0 ? (size_t)(rand() % 20000 + 1) : (size_t)(rand() % 300 + 1);
			uint8_t *p = kheap_alloc(&h, sz, (size_t)1 << (rand() % 8));
			if (!p)
				continue;
			uint8_t tag = (uint8_t)rand();
			memset(p, tag, sz);
			live[nlive].p = p;
			live[nlive].sz = sz;
			live[nlive].tag = tag;
			nlive++;
		} else {
			size_t j = (size_t)rand() % nlive;
			for (size_t k = 0; k < live[j].sz; k += 97)
				CHECK_EQ(live[j].p[k], live[j].tag);
			CHECK_EQ(live[j].p[live[j].sz - 1], live[j].tag);
			kheap_free(&h, live[j].p);
			live[j] = live[--nlive];
		}
	}
	while (nlive > 0) {
		nlive--;
		CHECK_EQ(live[nlive].p[0], live[nlive].tag);
		kheap_free(&h, live[nlive].p);
	}
	kheap_trim(&h);
	struct kheap_stats st;
	kheap_stats(&h, &st);
	CHECK_EQ(st.frames, 0);
	CHECK_EQ(st.live, 0);
	CHECK_EQ(st.live_bytes, 0);
	pmm_node_check(&node);
}

/* ---- the Phase 1 list heap ---- */

static void test_list_basic(void)
{
	struct kheap_list h;
	kheap_list_init(&h);
	for (size_t sz = 1; sz <= 200000; sz = sz * 2 + 1) {
		uint8_t *p = kheap_list_alloc(&h, sz, 0);
		CHECK(p != NULL);
		CHECK_EQ((uintptr_t)p % 16, 0);
		CHECK(kheap_list_usable_size(p) >= sz);
		memset(p, 0x77, sz);
		kheap_list_check(&h);
		kheap_list_free(&h, p);
	}
	for (size_t al = 1; al <= 4096; al *= 2)
		for (size_t sz = 1; sz <= 9000; sz = sz * 3 + 7) {
			void *p = kheap_list_alloc(&h, sz, al);
			CHECK(p != NULL);
			CHECK_EQ((uintptr_t)p % al, 0);
			kheap_list_check(&h);
			kheap_list_free(&h, p);
		}
	CHECK(kheap_list_alloc(&h, 0, 0) == NULL);
	CHECK(kheap_list_alloc(&h, 8, 8192) == NULL);
	CHECK_EQ(h.live, 0);
	CHECK_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);   /* one arena kept, the big ones given back */
	kheap_list_check(&h);
	/* Coalescing: after freeing everything the arena is one free block again. */
	void *a = kheap_list_alloc(&h, 100, 0), *b = kheap_list_alloc(&h, 100, 0), *c = kheap_list_alloc(&h, 100, 0);
	kheap_list_free(&h, a);
	kheap_list_free(&h, c);
	kheap_list_free(&h, b);   /* merges with both neighbours */
	kheap_list_check(&h);
	void *whole = kheap_list_alloc(&h, KHEAP_LIST_ARENA_FRAMES * 4096 - 200, 0);   /* fits only if coalesced */
	CHECK(whole != NULL);
	CHECK_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);
	kheap_list_free(&h, whole);
	EXPECT_PANIC(kheap_list_free(&h, b), "not a list-heap block");   /* b's header was merged away */
	void *d = kheap_list_alloc(&h, 64, 0);
	kheap_list_free(&h, d);
	EXPECT_PANIC(kheap_list_free(&h, d), "already free (double free?)");
	d = kheap_list_alloc(&h, 64, 0);
	EXPECT_PANIC(kheap_list_free(&h, (char *)d + 16), "not a list-heap block");
	memset(d, 0, 64 + 8);   /* overflow into the footer */
	EXPECT_PANIC(kheap_list_free(&h, d), "corrupt footer");
}

static void test_list_exhaustion_and_model(void)
{
	struct kheap_list h;
	kheap_list_init(&h);
	void **objs = malloc(100000 * sizeof *objs);
	size_t n = 0;
	while (n < 100000 && (objs[n] = kheap_list_alloc(&h, 3000, 0)) != NULL)
		n++;
	CHECK(n > 2000 && n < 100000);
	kheap_list_free(&h, objs[--n]);
	CHECK((objs[n] = kheap_list_alloc(&h, 3000, 0)) != NULL);
	n++;
	while (n > 0)
		kheap_list_free(&h, objs[--n]);
	kheap_list_check(&h);
	CHECK_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);
	free(objs);
	enum { N = 2048 };
	static struct { uint8_t *p; size_t sz; uint8_t tag; } live[N];
	size_t nlive = 0;
	srand(11);
	for (int i = 0; i < 200000; i++) {
		if ((rand() % 100 < 55 && nlive < N) || nlive == 0) {
			size_t sz = rand() % 10 == 0 ? (size_t)(rand() % 30000 + 1) : (size_t)(rand() % 500 + 1);
			uint8_t *p = kheap_list_alloc(&h, sz, (size_t)1 << (rand() % 9));
			if (!p)
				continue;
			live[nlive].p = p;
			live[nlive].sz = sz;
			live[nlive].tag = (uint8_t)rand();
			memset(p, live[nlive].tag, sz);
			nlive++;
		} else {
			size_t j = (size_t)rand() % nlive;
			CHECK_EQ(live[j].p[0], live[j].tag);
			CHECK_EQ(live[j].p[live[j].sz - 1], live[j].tag);
			kheap_list_free(&h, live[j].p);
			live[j] = live[--nlive];
		}
		if (i % 997 == 0)
			kheap_list_check(&h);
	}
	while (nlive > 0)
		kheap_list_free(&h, live[--nlive].p);
	kheap_list_check(&h);
	CHECK_EQ(h.live, 0);
	CHECK_EQ(h.frames, KHEAP_LIST_ARENA_FRAMES);
}

int main(void)
{
	setup();
	test_basic_and_alignment();
	test_exhaustion_and_recovery();
	test_bad_frees();
	test_realloc();
	test_model(300000);
	test_list_basic();
	test_list_exhaustion_and_model();
	return ctest_finish("test_kheap");
}
