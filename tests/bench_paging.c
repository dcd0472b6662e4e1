/*
 * bench_paging.c - host benchmarks of the page-table walker (make bench).
 *
 *   ns and TSC cycles per 4 KiB map+unmap (warm: the intermediate tables stay;
 *   cold: three tables created and freed each time) and per translate;
 *   time and table frames to build a direct map of 1, 16 and 64 GiB with
 *   4 KiB, 2 MiB and 1 GiB pages (pt_map_range, as kas_init does).
 * Medians of 5 runs. Same walker sources as the kernel, -O2, no sanitizers,
 * the tiny frame source of tests/paging_host (so the numbers are the walker's).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "mm/paging.h"
#include "mm/physmem.h"
#include "paging_host/frame_source.h"
#include "tests/host/bench_util.h"

#define PHYS_BASE   0x100000000ULL
#define RAM_FRAMES  (48u * 1024u)        /* 192 MiB of table frames: enough for 64 GiB of 4 KiB pages */
#define RUNS 5

static void *ram;

static void reset(struct page_table *pt)
{
	physmem_set_window(ram, PHYS_BASE, (uint64_t)RAM_FRAMES * 4096);
	frame_source_init(PHYS_BASE, RAM_FRAMES);
	paging_have_1g = true;
	if (pt_create(pt) != MM_OK) { fprintf(stderr, "pt_create failed\n"); exit(1); }
}

static void must(mm_err_t e, const char *what)
{
	if (e != MM_OK) { fprintf(stderr, "%s: %s\n", what, mm_strerror(e)); exit(1); }
}

int main(void)
{
	ram = aligned_alloc(4096, (size_t)RAM_FRAMES * 4096);
	if (!ram) { perror("aligned_alloc"); return 1; }
	memset(ram, 0, (size_t)RAM_FRAMES * 4096);
	struct page_table pt;
	const int N = 200000;
	double ns[RUNS], cy[RUNS];

	/* warm map+unmap: a neighbour keeps the tables alive */
	for (int r = 0; r < RUNS; r++) {
		reset(&pt);
		must(pt_map(&pt, vaddr_unchecked(0xffffc00000000000), paddr(0x1000), PAGE_4K, PG_READ), "map");
		double t0 = now_ns();
		uint64_t c0 = __rdtsc();
		for (int i = 0; i < N; i++) {
			vaddr_t va = vaddr_unchecked(0xffffc00000001000 + (uint64_t)(i & 255) * 4096);
			must(pt_map(&pt, va, paddr(0x200000 + (uint64_t)i * 4096 % 0x100000), PAGE_4K, PG_READ | PG_WRITE), "map");
			must(pt_unmap(&pt, va, NULL), "unmap");
		}
		cy[r] = (double)(__rdtsc() - c0) / N;
		ns[r] = (now_ns() - t0) / N;
	}
	printf("paging: 4K map+unmap (tables stay)        %7.1f ns  %7.0f cycles\n", median(ns, RUNS), median(cy, RUNS));

	for (int r = 0; r < RUNS; r++) {
		reset(&pt);
		double t0 = now_ns();
		uint64_t c0 = __rdtsc();
		for (int i = 0; i < N; i++) {
			vaddr_t va = vaddr_unchecked(0xffffc00000001000);
			must(pt_map(&pt, va, paddr(0x200000), PAGE_4K, PG_READ | PG_WRITE), "map");
			must(pt_unmap(&pt, va, NULL), "unmap");
		}
		cy[r] = (double)(__rdtsc() - c0) / N;
		ns[r] = (now_ns() - t0) / N;
	}
	printf("paging: 4K map+unmap (3 tables each time) %7.1f ns  %7.0f cycles\n", median(ns, RUNS), median(cy, RUNS));

	for (int r = 0; r < RUNS; r++) {
		reset(&pt);
		must(pt_map_range(&pt, vaddr_unchecked(0xffff800000000000), paddr(0), 64ULL << 20, PG_READ | PG_WRITE,
				  PAGE_4K, NULL), "map_range");
		struct pt_mapping m;
		uint64_t sum = 0;
		double t0 = now_ns();
		uint64_t c0 = __rdtsc();
		for (int i = 0; i < N; i++) {
			must(pt_translate(&pt, vaddr_unchecked(0xffff800000000000 + ((uint64_t)i * 7919 * 4096 % (64ULL << 20))), &m),
			     "translate");
			sum += m.pa.pa;
		}
		cy[r] = (double)(__rdtsc() - c0) / N;
		ns[r] = (now_ns() - t0) / N;
		if (sum == 1) printf("!");
	}
	printf("paging: translate (4K leaf)               %7.1f ns  %7.0f cycles\n", median(ns, RUNS), median(cy, RUNS));

	printf("paging: direct map build (pt_map_range), median of %d:\n", RUNS);
	printf("  %-7s %-5s %12s %10s %12s\n", "memory", "pages", "time", "tables", "leaves");
	const uint64_t gibs[3] = { 1, 16, 64 };
	const char *names[3] = { "4K", "2M", "1G" };
	for (int g = 0; g < 3; g++) {
		for (int s = 0; s < 3; s++) {
			int runs = (s == 0 && gibs[g] == 64) ? 3 : RUNS;
			size_t tables = 0;
			uint64_t leaves = 0;
			for (int r = 0; r < runs; r++) {
				reset(&pt);
				uint64_t counts[3] = { 0, 0, 0 };
				double t0 = now_ns();
				must(pt_map_range(&pt, vaddr_unchecked(0xffff800000000000), paddr(0), gibs[g] << 30,
						  PG_READ | PG_WRITE | PG_GLOBAL, (enum page_size)s, counts), "direct map");
				ns[r] = now_ns() - t0;
				tables = pt_count_tables(&pt);
				leaves = counts[0] + counts[1] + counts[2];
			}
			double t = median(ns, runs);
			printf("  %3" PRIu64 " GiB %-5s %9.3f ms %10zu %12" PRIu64 "\n", gibs[g], names[s], t / 1e6, tables, leaves);
		}
	}
	return 0;
}
