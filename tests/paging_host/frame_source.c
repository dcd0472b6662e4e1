/*
 * frame_source.c - a tiny frame allocator for the paging host tests, over the
 * physmem window (a malloc'd array). It implements the frame.h calls the walker
 * uses with the same contracts (states checked, handles poisoned, fault
 * injection), so the walker's sources compile unchanged. The real pmm is the
 * pmm helper's; this exists so the walker tests do not depend on its host setup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/frame.h"
#include "mm/physmem.h"
#include "paging_host/frame_source.h"

static uint8_t *state;        /* one enum frame_state per frame of the window */
static uint64_t *free_stack;  /* pfns of free frames; top = next to hand out */
static size_t nfree, nframes;
static uint64_t base_pfn;
static long fail_after = -1;

const char *(*mm_symbolize)(uintptr_t addr);

/* Sets up the source over nframes frames starting at physical base (the window). */
void frame_source_init(uint64_t phys_base, size_t count)
{
	free(state);
	free(free_stack);
	nframes = count;
	base_pfn = phys_base >> 12;
	state = calloc(count, 1);
	free_stack = calloc(count, sizeof *free_stack);
	nfree = 0;
	for (size_t i = count; i-- > 0;)
		free_stack[nfree++] = base_pfn + i;   /* lowest pfn on top: deterministic */
	fail_after = -1;
}

/* Number of free frames. */
size_t frame_source_free(void) { return nfree; }

/* After n more successful allocations every allocation fails until n = -1. */
void frame_alloc_fail_after(long n) { fail_after = n; }

/* Hands out the lowest free frame marked `use`, filled with 0xa5. */
mm_err_t frame_alloc(struct frame *out, enum frame_state use)
{
	if (use != FRAME_ALLOCATED && use != FRAME_PAGETABLE && use != FRAME_HEAP) {
		fprintf(stderr, "frame_alloc: bad use %d\n", use);
		abort();
	}
	if (fail_after == 0 || nfree == 0) {
		*out = FRAME_NONE;
		return MM_ERR_OUT_OF_MEMORY;
	}
	if (fail_after > 0)
		fail_after--;
	uint64_t p = free_stack[--nfree];
	state[p - base_pfn] = (uint8_t)use;
	memset(phys_to_virt(pfn_to_paddr(pfn(p))), 0xa5, 4096);   /* fresh-frame pattern */
	out->pfn = pfn(p);
	return MM_OK;
}

/* Returns an owned frame (fills it with 0x6b) and poisons the handle; aborts on a bad state. */
void frame_free(struct frame *f)
{
	uint64_t p = f->pfn.n;
	if (p < base_pfn || p - base_pfn >= nframes) {
		fprintf(stderr, "frame_free: pfn 0x%lx outside the source\n", (unsigned long)p);
		abort();
	}
	uint8_t s = state[p - base_pfn];
	if (s != FRAME_ALLOCATED && s != FRAME_PAGETABLE && s != FRAME_HEAP) {
		fprintf(stderr, "frame_free: pfn 0x%lx is in state %u (double free?)\n", (unsigned long)p, s);
		abort();
	}
	state[p - base_pfn] = FRAME_FREE;
	memset(phys_to_virt(pfn_to_paddr(pfn(p))), 0x6b, 4096);   /* freed-frame pattern */
	free_stack[nfree++] = p;
	*f = FRAME_NONE;
}

/* State of p; FRAME_ABSENT outside the source. */
enum frame_state frame_state_of(pfn_t p)
{
	if (p.n < base_pfn || p.n - base_pfn >= nframes)
		return FRAME_ABSENT;
	return (enum frame_state)state[p.n - base_pfn];
}
