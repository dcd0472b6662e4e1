/*
 * memmap.h - memory map ingestion: UEFI-typed descriptors -> classified frame ranges.
 *
 * memmap_build() is a pure function (no globals, no allocation, no I/O), so the
 * host tests and the fuzzer run the exact code the kernel runs. It trusts
 * nothing about its input: descriptors may be unsorted, overlap or have zero
 * length; those are handled (and counted); malformed maps (bad stride, an
 * unaligned start, an end past 2^52) are rejected with a message.
 *
 * Classification of descriptor types (memmap_classify: the one classifier; the `@@ memmap` report,
 * the pmm and the direct map all use it):
 *   usable now   conventional, boot-services code/data (ExitBootServices has run)
 *   usable later loader code/data: boot_info, the descriptor array, the command line,
 *                the boot page tables and the initrd copy live there; pmm_reclaim_loader()
 *                frees it once the kernel has copied what it needs
 *   firmware     runtime-services code/data, ACPI reclaim and NVS, unusable, persistent:
 *                RAM the kernel must never hand out
 *   reserved     reserved (type 0), OEM/OS-defined and unknown types: address ranges the
 *                firmware keeps (BIOS ROM and data areas, SeaBIOS' ACPI tables, holes), not RAM;
 *                not tracked as frames, direct-mapped read-only below 4 GiB (kas.c)
 *   not RAM      MMIO, MMIO port space, PAL code: not tracked as frames, never mapped
 * RAM = usable now + usable later + firmware: the `@@ memmap` total_kib, and the frames the pmm counts.
 * Where descriptors overlap, the more restrictive class wins (usable < later < firmware < reserved < not RAM).
 *
 * Carve-outs (the kernel image, the boot page tables, the initrd, the RSDP, the first MiB)
 * then override the class of RAM they cover (never of reserved, not-RAM or holes); among
 * themselves the higher kind wins. A reclaimable carve-out (the boot page tables: freed with
 * loader data) only applies over usable and loader memory, never over firmware RAM.
 */
#ifndef FERROUS_MM_MEMMAP_H
#define FERROUS_MM_MEMMAP_H

#include "mm/types.h"
#include "boot_info.h"

#define MEMMAP_MAX_DESCS 1024

/* End (exclusive) of the first MiB: real-mode IVT, BIOS data, EBDA, option ROMs. Always carved out
 * (MEMMAP_LOW) and always direct-mapped read-write. */
#define MEMMAP_LOW_END UINT64_C(0x100000)

/* Classes, in increasing priority. */
enum memmap_kind {
	MEMMAP_NONE = 0,      /* hole: no descriptor (never emitted) */
	MEMMAP_USABLE,        /* free at boot */
	MEMMAP_LOADER,        /* loader data: free after pmm_reclaim_loader() */
	MEMMAP_FIRMWARE,      /* RAM never handed out */
	MEMMAP_RESERVED,      /* firmware-reserved address range, not RAM (emitted; not tracked as frames) */
	MEMMAP_NOT_RAM,       /* MMIO etc. (emitted so callers can see it; not tracked as frames) */
	MEMMAP_BOOT_TABLES,   /* carve-out: the loader's page tables (reclaimed with loader data) */
	MEMMAP_INITRD,        /* carve-out: the ramdisk (kept) */
	MEMMAP_RSDP,          /* carve-out: the ACPI RSDP (kept; Multiboot2 passes a copy inside loader data) */
	MEMMAP_LOW,           /* carve-out: the first MiB (real-mode IVT, BIOS data, trampolines) */
	MEMMAP_KERNEL,        /* carve-out: the kernel image */
	MEMMAP_KIND_COUNT
};

/* One output range: pfns [base_pfn, base_pfn + npages), sorted, non-overlapping, adjacent ranges differ in kind. */
struct memmap_range {
	uint64_t base_pfn;
	uint64_t npages;
	enum memmap_kind kind;
};

/* A carve-out in bytes [base, base + size), rounded outward to pages; size 0 = none. kind >= MEMMAP_BOOT_TABLES. */
struct memmap_carve {
	uint64_t base;
	uint64_t size;
	enum memmap_kind kind;
};

/* Output and diagnostics of memmap_build. The caller provides ranges[cap]. */
struct memmap {
	struct memmap_range *ranges;
	size_t cap;
	size_t count;
	uint64_t zero_length;    /* descriptors skipped because num_pages == 0 */
	uint64_t overlaps;       /* pairs of descriptors that overlap */
	bool unsorted;           /* descriptors were not in increasing phys_start order */
	char err[128];           /* why the map was rejected ("" on success) */
};

/* Name of a kind ("usable", "loader", ...). */
const char *memmap_kind_name(enum memmap_kind k);

/* Class of a UEFI memory type: one of USABLE, LOADER, FIRMWARE, RESERVED, NOT_RAM (table above).
 * Inline so the boot report (kernel/boot_info.c, also built alone for host tests) shares it. */
static inline enum memmap_kind memmap_classify(uint32_t efi_type)
{
	switch (efi_type) {
	case EFI_CONVENTIONAL_MEMORY:
	case EFI_BOOT_SERVICES_CODE:
	case EFI_BOOT_SERVICES_DATA:
		return MEMMAP_USABLE;
	case EFI_LOADER_CODE:
	case EFI_LOADER_DATA:
		return MEMMAP_LOADER;
	case EFI_RUNTIME_SERVICES_CODE:
	case EFI_RUNTIME_SERVICES_DATA:
	case EFI_ACPI_RECLAIM_MEMORY:
	case EFI_ACPI_MEMORY_NVS:
	case EFI_UNUSABLE_MEMORY:
	case EFI_PERSISTENT_MEMORY:
		return MEMMAP_FIRMWARE;
	case EFI_MEMORY_MAPPED_IO:
	case EFI_MEMORY_MAPPED_IO_PORT:
	case EFI_PAL_CODE:
		return MEMMAP_NOT_RAM;
	default:   /* reserved (0), OEM (0x70000000..), OS (0x80000000..), unknown */
		return MEMMAP_RESERVED;
	}
}

/* Whether a kind is RAM: a descriptor class USABLE, LOADER or FIRMWARE, or a carve-out (carve-outs only
 * ever cover RAM). */
static inline bool memmap_kind_is_ram(enum memmap_kind k)
{
	return k == MEMMAP_USABLE || k == MEMMAP_LOADER || k == MEMMAP_FIRMWARE ||
	       (k >= MEMMAP_BOOT_TABLES && k < MEMMAP_KIND_COUNT);
}

/* Builds out->ranges from `count` descriptors stepped by desc_size bytes at descs, then applies the carve-outs.
 * MM_OK, or MM_ERR_INVALID_ADDRESS with out->err saying why (malformed map, too many descriptors,
 * out->cap too small). descs must be 8-byte aligned. */
mm_err_t memmap_build(const void *descs, uint64_t count, uint64_t desc_size,
		      const struct memmap_carve *carves, size_t ncarves, struct memmap *out);

/* Frames of kind k in a built map. */
uint64_t memmap_pages_of(const struct memmap *m, enum memmap_kind k);

/* Frames of RAM (memmap_kind_is_ram) at or above pfn from_pfn in a built map. */
uint64_t memmap_ram_pages(const struct memmap *m, uint64_t from_pfn);

#endif
