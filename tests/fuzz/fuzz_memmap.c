/*
 * fuzz_memmap.c - libFuzzer harness for memmap_build (kernel/mm/memmap.c).
 *
 * Input: byte 0 = number of carve-outs (mod 4), byte 1 selects the descriptor stride (40/48/56); then the
 * carve-outs (8-byte base, 8-byte size, 1-byte kind each), the rest is the raw descriptor array. The parser
 * must never crash or read out of bounds (ASan), and on success its output must be well formed: sorted,
 * non-overlapping, non-empty, merged, and no RAM range outside every descriptor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mm/memmap.h"
#include "boot_info.h"

static struct memmap_range ranges[2 * MEMMAP_MAX_DESCS + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t ncarves = data[0] % 4;
	uint64_t stride = 40 + 8 * (uint64_t)(data[1] % 3);
	data += 2;
	size -= 2;
	struct memmap_carve carves[4];
	for (size_t i = 0; i < ncarves; i++) {
		if (size < 17)
			return 0;
		memcpy(&carves[i].base, data, 8);
		memcpy(&carves[i].size, data + 8, 8);
		carves[i].kind = (enum memmap_kind)(data[16] % (MEMMAP_KIND_COUNT + 1));
		data += 17;
		size -= 17;
	}
	uint64_t count = size / stride;
	/* An exactly sized, 8-aligned copy so ASan catches any read past the last descriptor. */
	uint64_t *descs = malloc(count * stride + 1);
	memcpy(descs, data, count * stride);
	struct memmap m = { .ranges = ranges, .cap = sizeof ranges / sizeof ranges[0] };
	if (memmap_build(descs, count, stride, carves, ncarves, &m) == MM_OK) {
		for (size_t i = 0; i < m.count; i++) {
			if (m.ranges[i].npages == 0 || m.ranges[i].kind == MEMMAP_NONE)
				abort();
			if (i > 0 && m.ranges[i - 1].base_pfn + m.ranges[i - 1].npages > m.ranges[i].base_pfn)
				abort();
			if (i > 0 && m.ranges[i - 1].base_pfn + m.ranges[i - 1].npages == m.ranges[i].base_pfn &&
			    m.ranges[i - 1].kind == m.ranges[i].kind)
				abort();
			/* The first page of every output range lies in some descriptor. */
			bool covered = false;
			for (uint64_t j = 0; j < count && !covered; j++) {
				const struct boot_mem_desc *d = (const void *)((const char *)descs + j * stride);
				uint64_t lo = d->phys_start >> PAGE_SHIFT;
				covered = m.ranges[i].base_pfn >= lo && m.ranges[i].base_pfn - lo < d->num_pages;
			}
			if (!covered)
				abort();
		}
	} else if (m.err[0] == '\0' || m.count != 0) {
		abort();
	}
	free(descs);
	return 0;
}
