/*
 * bench_pmm.c - host benchmarks of the frame allocators and the kernel heap (`make bench`).
 *
 * Cycles are TSC ticks from rdtsc (perf's cycle counter is not available on these VMs; the TSC is constant-rate,
 * so "cycles" here are reference cycles at the nominal frequency). ns from CLOCK_MONOTONIC. Each figure is the
 * median of RUNS runs of ITERS operations (the minimum is printed too). Map: 16 GiB = 4 Mi frames in one node.
 * Occupancy 0 % = a fresh map (all free, maximal blocks), 1 % = a fragmented low region, 90 % = a random 10 %
 * of the frames free. `bench_pmm physmem` runs only the phys_to_virt lookups (windows of 1, 3 and 8 runs).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include "mm/pmm.h"
#include "mm/kheap.h"
#include "mm/kheap_list.h"
#include "mm/physmem.h"
#include "tests/host/bench_util.h"

#define NFRAMES (4ULL << 20)   /* 16 GiB */
#define RUNS    7
#define ITERS   1000000

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct result { double cycles, ns, min_cycles; };

/* Median over RUNS of fn(ctx, iters), per operation. */
static struct result measure(void (*fn)(void *, uint64_t), void *ctx, uint64_t iters)
{
	double cyc[RUNS], ns[RUNS];
	fn(ctx, iters / 10);   /* warm up */
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		uint64_t c0 = __rdtsc();
		fn(ctx, iters);
		uint64_t c1 = __rdtsc();
		double t1 = now_ns();
		cyc[r] = (double)(c1 - c0) / (double)iters;
		ns[r] = (t1 - t0) / (double)iters;
	}
	double med_cycles = median(cyc, RUNS);   /* sorts cyc: cyc[0] is the minimum */
	return (struct result){ med_cycles, median(ns, RUNS), cyc[0] };
}

static void report(const char *what, struct result r)
{
	printf("  %-52s %8.1f cycles %8.1f ns   (min %.1f cycles)\n", what, r.cycles, r.ns, r.min_cycles);
}

/* ---- frame allocators ---- */

static struct pmm_node node;
static void *node_meta;

/* Builds node (kind) over 16 GiB, then brings it to `occupancy` percent used with a random scatter:
 * allocate everything, free a random (100 - occupancy) % of it. */
static void node_setup(enum pmm_kind kind, unsigned occupancy)
{
	free(node_meta);
	node_meta = malloc(pmm_node_meta_bytes(kind, 0, NFRAMES));
	pmm_node_init(&node, 0, kind, 0, NFRAMES, node_meta);
	pmm_node_set_state(&node, 0, NFRAMES, FRAME_FREE);
	pfn_t p;
	uint64_t *all = malloc(NFRAMES * sizeof *all);
	uint64_t n = 0;
	if (occupancy == 0) {
		/* Fresh map: everything free, in maximal blocks. */
	} else if (occupancy <= 1) {
		/* Low occupancy: 1 % allocated, scattered by freeing every other of 2 %. */
		for (uint64_t i = 0; i < NFRAMES / 50; i++)
			if (pmm_node_alloc(&node, 1, 1, FRAME_ALLOCATED, &p) == MM_OK)
				all[n++] = p.n;
		for (uint64_t i = 0; i < n; i += 2)
			pmm_node_free(&node, pfn(all[i]), 1, FRAME_ALLOCATED, 0);
	} else {
		while (pmm_node_alloc(&node, 1, 1, FRAME_ALLOCATED, &p) == MM_OK)
			all[n++] = p.n;
		for (uint64_t i = 0; i < n; i++)
			if (rnd() % 100 >= occupancy)
				pmm_node_free(&node, pfn(all[i]), 1, FRAME_ALLOCATED, 0);
	}
	free(all);
}

static void bench_pmm_pair(void *ctx, uint64_t iters)
{
	(void)ctx;
	pfn_t p;
	for (uint64_t i = 0; i < iters; i++) {
		if (pmm_node_alloc(&node, 1, 1, FRAME_ALLOCATED, &p) != MM_OK)
			abort();
		pmm_node_free(&node, p, 1, FRAME_ALLOCATED, 0);
	}
}

/* Batches of 256 allocations then 256 frees: more than the buddy's hot cache (64) holds. */
static void bench_pmm_batch(void *ctx, uint64_t iters)
{
	(void)ctx;
	pfn_t p[256];
	for (uint64_t i = 0; i < iters; i += 256) {
		for (int j = 0; j < 256; j++)
			if (pmm_node_alloc(&node, 1, 1, FRAME_ALLOCATED, &p[j]) != MM_OK)
				abort();
		for (int j = 255; j >= 0; j--)
			pmm_node_free(&node, p[j], 1, FRAME_ALLOCATED, 0);
	}
}

static void bench_raw_pair(void *ctx, uint64_t iters)
{
	(void)ctx;
	uint64_t p;
	for (uint64_t i = 0; i < iters; i++) {
		if (node.kind == PMM_BITMAP) {
			if (!bitmap_alloc(&node.alloc.bitmap, 1, 1, &p))
				abort();
			bitmap_free(&node.alloc.bitmap, p, 1);
		} else {
			if (!buddy_alloc(&node.alloc.buddy, 1, 1, &p))
				abort();
			buddy_free(&node.alloc.buddy, p, 1);
		}
	}
}

static void bench_contig_2m(void *ctx, uint64_t iters)
{
	(void)ctx;
	pfn_t p;
	for (uint64_t i = 0; i < iters; i++) {
		if (pmm_node_alloc(&node, 512, 512, FRAME_ALLOCATED, &p) != MM_OK)
			abort();
		pmm_node_free(&node, p, 512, FRAME_ALLOCATED, 0);
	}
}

/* ---- heap ---- */

static struct kheap heap;
static size_t obj_size;

static void bench_kmalloc(void *ctx, uint64_t iters)
{
	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = kheap_alloc(&heap, obj_size, 0);
		if (!p)
			abort();
		__asm__ volatile("" :: "r"(p) : "memory");
		kheap_free(&heap, p);
	}
}

static struct kheap_list list_heap;

static void bench_list(void *ctx, uint64_t iters)
{
	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = kheap_list_alloc(&list_heap, obj_size, 0);
		if (!p)
			abort();
		__asm__ volatile("" :: "r"(p) : "memory");
		kheap_list_free(&list_heap, p);
	}
}

static void bench_malloc(void *ctx, uint64_t iters)
{
	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(obj_size);
		__asm__ volatile("" :: "r"(p) : "memory");
		free(p);
	}
}

/* ---- physmem window lookups ---- */

#define PV_ADDRS 4096
static uint64_t pv_addrs[PV_ADDRS];

/* phys_to_virt over pv_addrs, cycling; the sum keeps the lookups live. */
static void bench_phys_to_virt(void *ctx, uint64_t iters)
{
	(void)ctx;
	uintptr_t sum = 0;
	for (uint64_t i = 0; i < iters; i++)
		sum += (uintptr_t)phys_to_virt(paddr(pv_addrs[i % PV_ADDRS]));
	__asm__ volatile("" :: "r"(sum));
}

/* A window of nruns runs of 64 MiB with a 2 MiB hole after each (nothing is dereferenced), then two patterns:
 * every lookup in one run (a frame's words, a page-table walk) and each in a random run. */
static void bench_physmem(void)
{
	char what[96];
	unsigned counts[] = { 1, 3, 8 };
	for (int c = 0; c < 3; c++) {
		unsigned nruns = counts[c];
		struct physmem_run runs[8];
		for (unsigned r = 0; r < nruns; r++) {
			uint64_t start = 0x100000 + r * (66ULL << 20);
			runs[r] = (struct physmem_run){ .start = start, .end = start + (64ULL << 20), .read_only = false };
		}
		physmem_set_runs((void *)(uintptr_t)0x7f0000000000ULL, 0, runs, nruns);
		for (int i = 0; i < PV_ADDRS; i++)
			pv_addrs[i] = runs[nruns - 1].start + (rnd() % (64ULL << 20));
		snprintf(what, sizeof what, "phys_to_virt, %u run%s, all in the last run", nruns, nruns > 1 ? "s" : "");
		report(what, measure(bench_phys_to_virt, NULL, ITERS * 10));
		for (int i = 0; i < PV_ADDRS; i++)
			pv_addrs[i] = runs[rnd() % nruns].start + (rnd() % (64ULL << 20));
		snprintf(what, sizeof what, "phys_to_virt, %u run%s, random run each time", nruns, nruns > 1 ? "s" : "");
		report(what, measure(bench_phys_to_virt, NULL, ITERS * 10));
	}
	physmem_set_window(NULL, 0, 0);
}

int main(int argc, char **argv)
{
	char what[96];
	if (argc > 1 && strcmp(argv[1], "physmem") == 0) {
		printf("bench_pmm physmem: median of %d runs; cycles = rdtsc ticks\n", RUNS);
		bench_physmem();
		return 0;
	}
	printf("bench_pmm: median of %d runs; 16 GiB map (%llu frames); cycles = rdtsc ticks\n", RUNS,
	       (unsigned long long)NFRAMES);
	enum pmm_kind kinds[] = { PMM_BITMAP, PMM_BUDDY };
	unsigned occ[] = { 0, 1, 90 };
	for (int k = 0; k < 2; k++) {
		for (int o = 0; o < 3; o++) {
			node_setup(kinds[k], occ[o]);
			snprintf(what, sizeof what, "%s order-0 alloc+free, %u%% occupied (pmm_node)", pmm_kind_name(kinds[k]), occ[o]);
			report(what, measure(bench_pmm_pair, NULL, ITERS));
			snprintf(what, sizeof what, "%s order-0 x256 batch, %u%% occupied (pmm_node)", pmm_kind_name(kinds[k]), occ[o]);
			report(what, measure(bench_pmm_batch, NULL, ITERS));
			snprintf(what, sizeof what, "%s order-0 alloc+free, %u%% occupied (raw)", pmm_kind_name(kinds[k]), occ[o]);
			report(what, measure(bench_raw_pair, NULL, ITERS));
			if (occ[o] == 1) {
				snprintf(what, sizeof what, "%s 2 MiB contiguous alloc+free, 1%% occupied", pmm_kind_name(kinds[k]));
				report(what, measure(bench_contig_2m, NULL, ITERS / 100));
			}
		}
	}
	/* Heap: a 64 MiB private "RAM" reached through the physmem window. */
	uint64_t ram_frames = 16384;
	void *ram = aligned_alloc(KHEAP_SLAB_BYTES, ram_frames * PAGE_SIZE);
	physmem_set_window(ram, 0, ram_frames * PAGE_SIZE);
	free(node_meta);
	node_meta = malloc(pmm_node_meta_bytes(PMM_BUDDY, 0, ram_frames));
	pmm_node_init(&node, 0, PMM_BUDDY, 0, ram_frames, node_meta);
	pmm_node_set_state(&node, 0, ram_frames, FRAME_FREE);
	pmm_set_global(&node, 1);
	kheap_init_heap(&heap);
	kheap_list_init(&list_heap);
	size_t sizes[] = { 32, 256, 4096 };
	for (int i = 0; i < 3; i++) {
		obj_size = sizes[i];
		snprintf(what, sizeof what, "kmalloc+kfree %zu B", sizes[i]);
		report(what, measure(bench_kmalloc, NULL, ITERS));
		snprintf(what, sizeof what, "list heap (Phase 1) alloc+free %zu B", sizes[i]);
		report(what, measure(bench_list, NULL, ITERS));
		snprintf(what, sizeof what, "glibc malloc+free %zu B", sizes[i]);
		report(what, measure(bench_malloc, NULL, ITERS));
	}
	free(ram);
	free(node_meta);
	bench_physmem();
	return 0;
}
