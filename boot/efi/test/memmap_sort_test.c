/*
 * memmap_sort_test.c - host test of memmap_sort (boot/efi/memmap.c) under ASan/UBSan.
 *
 * OVMF hands out an already sorted map, so the boot tests never exercise the sort; this test
 * does: random maps of several descriptor strides, every descriptor carrying a payload derived
 * from its key in the bytes past the UEFI fields, so a sort that moves only part of a descriptor
 * (or steps by sizeof instead of the stride) is caught.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/efi/loader.h"

/* Stubs for what memmap.c links against; the sort calls none of them. */
EFI_BOOT_SERVICES *BS;
void loader_fail(const char *fmt, ...) { (void)fmt; abort(); }
_Noreturn void loader_fail_final(const char *fmt, ...) { (void)fmt; abort(); }
void con_boot_services_gone(void) {}
void con_printf(const char *fmt, ...) { (void)fmt; abort(); }
const char *efi_status_name(EFI_STATUS s) { (void)s; return "?"; }

/* The byte a descriptor with this key must carry at offset i. */
static uint8_t payload(uint64_t key, size_t i) { return (uint8_t)((key >> 12) * 31 + i * 7); }

/* Sorts one random map of n descriptors with the given stride; returns 0 when it checks out. */
static int one(size_t n, size_t stride, unsigned seed)
{
	uint8_t *buf = malloc(n * stride);
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)(buf + i * stride);
		memset(d, 0, stride);
		/* Random page-aligned keys; duplicates happen and must survive the sort too. */
		uint64_t key = ((uint64_t)(rand() % (int)(4 * n)) << 12);
		d->PhysicalStart = key;
		d->Type = (UINT32)(key >> 12);
		d->NumberOfPages = key + 1;
		for (size_t b = sizeof *d; b < stride; b++)
			buf[i * stride + b] = payload(key, b);
	}
	struct memmap_buf mm = { .descs = (void *)buf, .capacity = n * stride, .size = n * stride,
				 .desc_size = stride };
	memmap_sort(&mm);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)(buf + i * stride);
		if (i && ((EFI_MEMORY_DESCRIPTOR *)(buf + (i - 1) * stride))->PhysicalStart > d->PhysicalStart)
			bad = 1;
		if (d->Type != (UINT32)(d->PhysicalStart >> 12) || d->NumberOfPages != d->PhysicalStart + 1)
			bad = 1;
		for (size_t b = sizeof *d; b < stride; b++)
			if (buf[i * stride + b] != payload(d->PhysicalStart, b))
				bad = 1;
	}
	free(buf);
	if (bad)
		fprintf(stderr, "memmap_sort: n=%zu stride=%zu seed=%u: not sorted or descriptors torn\n", n, stride,
			seed);
	return bad;
}

int main(void)
{
	size_t strides[] = { 40, 48, 56, 256 };
	size_t sizes[] = { 0, 1, 2, 3, 17, 120, 500 };
	int failed = 0, runs = 0;
	for (size_t s = 0; s < sizeof strides / sizeof *strides; s++)
		for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
			for (unsigned seed = 1; seed <= 5; seed++, runs++)
				failed += one(sizes[z], strides[s], seed);
	printf("memmap_sort_test: %d runs, %d failed\n", runs, failed);
	return failed != 0;
}
