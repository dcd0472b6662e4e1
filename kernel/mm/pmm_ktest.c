/*
 * pmm_ktest.c - in-kernel tests of the physical memory manager (group pmm; fault.pmm_* end the run on purpose).
 *
 * pmm.alloc_all_once also prints what a grader needs to check it from outside:
 *   @@ pmm_all count=N free_before=N            every free frame allocated exactly once
 *   @@ pmm_run start=0x.. count=N                the allocated frames as sorted runs
 *   @@ checkpoint name=pmm_all_allocated         the machine stops with all of them allocated
 */
#include "mm/pmm.h"
#include "mm/physmem.h"
#include "boot_info_check.h"
#include "checkpoint.h"
#include "ktest.h"
#include "protocol.h"

/* Frame f's memory as bytes (through the direct map). */
static uint8_t *frame_bytes(struct frame f)
{
	return phys_to_virt(frame_paddr(f));
}

KTEST(pmm, alloc_free)
{
	struct frame f;
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	KT_ASSERT(!frame_is_none(f));
	KT_ASSERT_EQ(frame_state_of(f.pfn), FRAME_ALLOCATED);
	uint8_t *b = frame_bytes(f);
	KT_ASSERT_EQ(b[0], MM_FILL_FRESH);             /* debug fill of a fresh frame */
	KT_ASSERT_EQ(b[PAGE_SIZE - 1], MM_FILL_FRESH);
	b[17] = 0x42;
	KT_ASSERT_EQ(b[17], 0x42);
	pfn_t p = f.pfn;
	frame_free(&f);
	KT_ASSERT(frame_is_none(f));                   /* the handle is poisoned */
	KT_ASSERT_EQ(frame_state_of(p), FRAME_FREE);
	KT_ASSERT_EQ(b[17], MM_FILL_FREED);            /* freed frames carry the freed pattern */
}

KTEST(pmm, states_of_boot_regions)
{
	const struct boot_info *bi = boot_info_get();
	pfn_t k0 = pfn_of(paddr(bi->kernel_phys_base));
	pfn_t k1 = pfn_of(paddr(bi->kernel_phys_base + bi->kernel_phys_size - 1));
	KT_ASSERT_EQ(frame_state_of(k0), FRAME_KERNEL);
	KT_ASSERT_EQ(frame_state_of(k1), FRAME_KERNEL);
	KT_ASSERT_NE(frame_state_of(pfn(0)), FRAME_FREE);      /* first MiB */
	KT_ASSERT_NE(frame_state_of(pfn(0xff)), FRAME_FREE);
	KT_ASSERT_EQ(frame_state_of(pfn(1ULL << 40)), FRAME_ABSENT);
	struct pmm_stats st;
	KT_ASSERT_OK(pmm_stats(0, &st));
	KT_ASSERT_EQ(pmm_stats(7, &st), MM_ERR_NUMA_NODE_NOT_FOUND);
	uint64_t sum = 0;
	for (int s = 0; s < FRAME_STATE_COUNT; s++)
		if (s != FRAME_ABSENT)
			sum += st.count[s];
	KT_ASSERT_EQ(sum, st.total);
}

KTEST(pmm, contig_aligned)
{
	struct frame f;
	KT_ASSERT_OK(frame_alloc_contig(&f, 512, 512, FRAME_ALLOCATED));   /* 2 MiB, 2 MiB aligned */
	KT_ASSERT_EQ(f.pfn.n % 512, 0);
	for (uint64_t i = 0; i < 512; i++)
		KT_ASSERT_EQ(frame_state_of(pfn(f.pfn.n + i)), FRAME_ALLOCATED);
	frame_free_contig(&f, 512);
	struct frame g;
	KT_ASSERT_OK(frame_alloc_contig(&g, 3, 8, FRAME_PAGETABLE));
	KT_ASSERT_EQ(g.pfn.n % 8, 0);
	KT_ASSERT_EQ(frame_state_of(pfn(g.pfn.n + 2)), FRAME_PAGETABLE);
	frame_free_contig(&g, 3);
	KT_ASSERT(frame_is_none(g));
}

/* Ownership transfer between kinds; fault injection makes frame_alloc fail and then recover. */
KTEST(pmm, transfer_and_injected_oom)
{
	struct frame f, g;
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	frame_transfer(&f, FRAME_ALLOCATED, FRAME_PAGETABLE);
	KT_ASSERT_EQ(frame_state_of(f.pfn), FRAME_PAGETABLE);
	frame_free_as(&f, FRAME_PAGETABLE);
	frame_alloc_fail_after(1);
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	mm_err_t e = frame_alloc(&g, FRAME_ALLOCATED);
	frame_alloc_fail_after(-1);
	frame_free(&f);
	KT_ASSERT_EQ(e, MM_ERR_OUT_OF_MEMORY);
	KT_ASSERT(frame_is_none(g));
	KT_ASSERT_OK(frame_alloc(&g, FRAME_ALLOCATED));
	frame_free(&g);
}

/* A private node over 64 frames the test owns (Zircon style): exhaustion and recovery without touching the
 * global pmm's free frames. */
KTEST(pmm, private_node_exhaustion)
{
	struct frame backing, metaf;
	KT_ASSERT_OK(frame_alloc_contig(&backing, 64, 1, FRAME_ALLOCATED));
	KT_ASSERT_OK(frame_alloc(&metaf, FRAME_ALLOCATED));
	static struct pmm_node n;
	KT_ASSERT_LE(pmm_node_meta_bytes(PMM_BITMAP, backing.pfn.n, 64), PAGE_SIZE);
	KT_ASSERT_LE(pmm_node_meta_bytes(PMM_BUDDY, backing.pfn.n, 64), PAGE_SIZE * 4);
	pmm_node_init(&n, 9, PMM_BITMAP, backing.pfn.n, 64, phys_to_virt(frame_paddr(metaf)));
	pmm_node_set_state(&n, backing.pfn.n, 64, FRAME_FREE);
	pfn_t got[64], extra;
	uint64_t count = 0;
	while (count < 64 && pmm_node_alloc(&n, 1, 1, FRAME_ALLOCATED, &got[count]) == MM_OK)
		count++;
	mm_err_t e = pmm_node_alloc(&n, 1, 1, FRAME_ALLOCATED, &extra);
	pmm_node_free(&n, got[5], 1, FRAME_ALLOCATED, 0);
	mm_err_t again = pmm_node_alloc(&n, 1, 1, FRAME_ALLOCATED, &extra);
	frame_free_contig(&backing, 64);
	frame_free(&metaf);
	KT_ASSERT_EQ(count, 64);
	KT_ASSERT_EQ(e, MM_ERR_OUT_OF_MEMORY);
	KT_ASSERT_OK(again);
	KT_ASSERT_EQ(extra.n, got[5].n);
}

/* Frees a chain of frames linked through their first 8 bytes (each holds the next pfn, ~0 ends). */
static void free_chain(uint64_t head)
{
	while (head != ~0ULL) {
		struct frame f = { pfn(head) };
		head = *(uint64_t *)phys_to_virt(frame_paddr(f));
		frame_free(&f);
	}
}

/* Prints the frames now ALLOCATED in the node as sorted runs. */
static void print_allocated_runs(struct pmm_node *n)
{
	for (uint64_t i = 0; i < n->nframes;) {
		if (n->state[i] != FRAME_ALLOCATED) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < n->nframes && n->state[j] == FRAME_ALLOCATED)
			j++;
		proto_line("pmm_run", "start=0x%lx count=%lu", n->base_pfn + i, j - i);
		i = j;
	}
}

/* Every free frame can be allocated once and only once; then OOM; then everything comes back. */
KTEST(pmm, alloc_all_once)
{
	struct pmm_stats before, during, after;
	KT_ASSERT_OK(pmm_stats(0, &before));
	uint64_t head = ~0ULL, count = 0;
	struct frame f;
	while (frame_alloc(&f, FRAME_ALLOCATED) == MM_OK) {
		*(uint64_t *)phys_to_virt(frame_paddr(f)) = head;
		head = f.pfn.n;
		count++;
	}
	KT_ASSERT_OK(pmm_stats(0, &during));
	mm_err_t oom = frame_alloc(&f, FRAME_ALLOCATED);
	proto_line("pmm_all", "count=%lu free_before=%lu", count, before.free);
	print_allocated_runs(pmm_node_get(0));
	checkpoint("pmm_all_allocated", "count=%lu", count);
	free_chain(head);
	KT_ASSERT_OK(pmm_stats(0, &after));
	KT_ASSERT_EQ(oom, MM_ERR_OUT_OF_MEMORY);
	KT_ASSERT_EQ(count, before.free);
	/* Each allocation moved a distinct frame to ALLOCATED (pmm_node_alloc also panics if the allocator
	 * returns a frame that is not FREE): so no frame was handed out twice. */
	KT_ASSERT_EQ(during.count[FRAME_ALLOCATED], before.count[FRAME_ALLOCATED] + count);
	KT_ASSERT_EQ(during.free, 0);
	KT_ASSERT_EQ(after.free, before.free);
	/* Recovery: allocation works again. */
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	frame_free(&f);
}

/* Ends the run on purpose: a double free must panic naming the frame and its state. */
KTEST(fault, pmm_double_free)
{
	struct frame f;
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	struct frame copy = f;
	frame_free(&f);
	frame_free(&copy);
	KT_ASSERT(!"frame_free of a free frame returned");
}

/* Ends the run on purpose: a write to a freed frame must be caught when the frame is handed out again. */
KTEST(fault, pmm_use_after_free)
{
	struct frame f, g;
	KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
	volatile uint8_t *b = phys_to_virt(frame_paddr(f));
	frame_free(&f);
	b[123] = 0x42;   /* the bug: the frame is no longer ours */
	KT_ASSERT_OK(frame_alloc(&g, FRAME_ALLOCATED));   /* the same frame comes back first (LIFO / lowest) */
	KT_ASSERT(!"the write after free went unnoticed");
}

/* Ends the run on purpose: freeing a frame of the kernel image must panic. */
KTEST(fault, pmm_free_kernel)
{
	struct frame f = { pfn_of(paddr(boot_info_get()->kernel_phys_base)) };
	frame_free(&f);
	KT_ASSERT(!"frame_free of a kernel frame returned");
}
