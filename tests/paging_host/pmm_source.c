/*
 * pmm_source.c - the paging host tests' frame source backed by the REAL pmm
 * (kernel/mm/pmm.c, buddy allocator): one node over the fake RAM window, made
 * the global pmm, so frame_alloc/frame_free/frame_alloc_fail_after are the
 * kernel's own. Built as test_paging_pmm (tests/paging.mk).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mm/pmm.h"
#include "paging_host/frame_source.h"

static struct pmm_node node;
static void *meta;

/* Sets up the global pmm with `count` free frames from physical phys_base. */
void frame_source_init(uint64_t phys_base, size_t count)
{
	uint64_t base_pfn = phys_base >> 12;
	free(meta);
	meta = calloc(1, pmm_node_meta_bytes(PMM_BUDDY, base_pfn, count));
	if (!meta) { perror("calloc"); exit(2); }
	pmm_node_init(&node, 0, PMM_BUDDY, base_pfn, count, meta);
	pmm_node_set_state(&node, base_pfn, count, FRAME_FREE);
	node.debug_fill = true;
	pmm_set_global(&node, 1);
	frame_alloc_fail_after(-1);
}

/* Free frames of the node now (and the node's invariants hold). */
size_t frame_source_free(void)
{
	struct pmm_stats s;
	pmm_node_stats(&node, &s);
	return (size_t)s.free;
}
