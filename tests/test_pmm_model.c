/*
 * test_pmm_model.c - seeded random alloc/free/contig/transfer sequences on a private node, checked against a
 * simple model after every step: no frame handed out twice, every frame handed out was usable, counts add up;
 * the full invariant check (pmm_node_check) every 1024 steps; at the end everything is freed and the free
 * space must equal the start state (for the buddy: the same free blocks per order, i.e. coalescing is complete).
 *
 * usage: test_pmm_model [ops-per-kind [seed]]   (defaults 600000 and 1; a failure prints the seed to replay)
 */
#include <stdlib.h>
#include "ctest.h"
#include "mm/pmm.h"

CTEST_DEFINE_GLOBALS;

#define NFRAMES 6000
#define BASE    0x7ff00   /* crosses pfn 0x80000 (2 GiB) and is not 1024-aligned */

struct live { uint64_t pfn, count; enum frame_state kind; };

static uint64_t rng_state;
static uint64_t rnd(void)   /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void run(enum pmm_kind kind, uint64_t ops, uint64_t seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	void *meta = malloc(pmm_node_meta_bytes(kind, BASE, NFRAMES));
	struct pmm_node n;
	pmm_node_init(&n, 0, kind, BASE, NFRAMES, meta);
	pmm_node_set_state(&n, BASE, NFRAMES, FRAME_FREE);
	pmm_node_set_state(&n, BASE + 100, 37, FRAME_RESERVED);   /* holes the allocator must never return */
	pmm_node_set_state(&n, BASE + 2049, 1, FRAME_KERNEL);
	pmm_node_set_state(&n, BASE + 4000, 300, FRAME_LOADER);
	static uint8_t usable[NFRAMES], owned[NFRAMES];
	uint64_t nusable = 0;
	for (uint64_t i = 0; i < NFRAMES; i++) {
		usable[i] = pmm_node_state(&n, pfn(BASE + i)) == FRAME_FREE;
		owned[i] = 0;
		nusable += usable[i];
	}
	struct pmm_stats start;
	pmm_node_stats(&n, &start);
	struct live *live = malloc(NFRAMES * sizeof *live);
	uint64_t nlive = 0, nowned = 0, ooms = 0, allocs = 0;
	static const enum frame_state kinds[] = { FRAME_ALLOCATED, FRAME_PAGETABLE, FRAME_HEAP };
	int failures_before = ctest_failures;
	for (uint64_t step = 0; step < ops && ctest_failures == failures_before; step++) {
		uint64_t r = rnd() % 100;
		if (r < 55 || nlive == 0) {
			uint64_t count = 1, align = 1;
			if (r < 12) {
				count = 1 + rnd() % (r < 2 ? 700 : 40);
				align = 1ULL << (rnd() % 7);
			}
			enum frame_state k = kinds[rnd() % 3];
			pfn_t p;
			mm_err_t e = pmm_node_alloc(&n, count, align, k, &p);
			if (e == MM_ERR_OUT_OF_MEMORY) {
				ooms++;
				CHECK(count > 1 || align > 1 || nowned == nusable);   /* one unaligned frame fails only when all are owned */
				continue;
			}
			CHECK_EQ(e, MM_OK);
			CHECK_EQ(p.n % align, 0);
			CHECK(p.n >= BASE && p.n + count <= BASE + NFRAMES);
			for (uint64_t i = 0; i < count; i++) {
				uint64_t idx = p.n - BASE + i;
				CHECK(usable[idx]);
				CHECK(!owned[idx]);
				owned[idx] = 1;
			}
			nowned += count;
			allocs++;
			live[nlive++] = (struct live){ p.n, count, k };
		} else if (r < 97) {
			uint64_t j = rnd() % nlive;
			struct live l = live[j];
			live[j] = live[--nlive];
			pmm_node_free(&n, pfn(l.pfn), l.count, (rnd() & 1) ? l.kind : FRAME_STATE_COUNT, 0);
			for (uint64_t i = 0; i < l.count; i++)
				owned[l.pfn - BASE + i] = 0;
			nowned -= l.count;
		} else {
			uint64_t j = rnd() % nlive;
			if (live[j].count == 1) {
				enum frame_state to = kinds[rnd() % 3];
				if (to != live[j].kind) {
					pmm_node_transfer(&n, pfn(live[j].pfn), live[j].kind, to, 0);
					live[j].kind = to;
				}
			}
		}
		struct pmm_stats st;
		pmm_node_stats(&n, &st);
		CHECK_EQ(st.free, nusable - nowned);
		CHECK_EQ(st.count[FRAME_ALLOCATED] + st.count[FRAME_PAGETABLE] + st.count[FRAME_HEAP], nowned);
		CHECK_EQ(st.count[FRAME_RESERVED], 37);
		if (step % 1024 == 0)
			pmm_node_check(&n);
	}
	if (ctest_failures != failures_before)
		fprintf(stderr, "model test failed: kind=%s seed=%lu (replay: test_pmm_model %lu %lu)\n",
			pmm_kind_name(kind), seed, ops, seed);
	while (nlive > 0) {
		struct live l = live[--nlive];
		pmm_node_free(&n, pfn(l.pfn), l.count, l.kind, 0);
	}
	pmm_node_check(&n);
	pmm_node_drain(&n);
	pmm_node_check(&n);
	struct pmm_stats end;
	pmm_node_stats(&n, &end);
	CHECK_EQ(end.free, start.free);
	for (int k = 0; k <= BUDDY_MAX_ORDER; k++)
		CHECK_EQ(end.free_blocks[k], start.free_blocks[k]);
	CHECK(ooms > 0);   /* the run did reach exhaustion */
	printf("model %s: %lu ops, %lu allocations, %lu OOM results, seed %lu\n", pmm_kind_name(kind), ops, allocs,
	       ooms, seed);
	free(live);
	free(meta);
}

int main(int argc, char **argv)
{
	uint64_t ops = argc > 1 ? strtoull(argv[1], NULL, 0) : 600000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	run(PMM_BITMAP, ops, seed);
	run(PMM_BUDDY, ops, seed);
	return ctest_finish("test_pmm_model");
}
