/*
 * mb2_boot_info.h - Multiboot2 information (mbi) -> struct boot_info.
 *
 * mb2_convert() is a pure function (mbi bytes in, boot_info out; no asm, no
 * globals), so the same code runs in the kernel before anything is
 * initialised and on the host under ASan/UBSan (tests/test_mb2_convert.c).
 * In the kernel, entry32.S calls mb2_boot_info_from_mbi(), which supplies the
 * static output storage.
 */
#ifndef FERROUS_MB2_BOOT_INFO_H
#define FERROUS_MB2_BOOT_INFO_H

#include <stddef.h>
#include <stdint.h>
#include "boot_info.h"

#define MB2_BOOTLOADER_MAGIC  0x36d76289u

/* Multiboot2 information tag types used here. */
#define MB2_TAG_END           0u
#define MB2_TAG_CMDLINE       1u
#define MB2_TAG_LOADER_NAME   2u
#define MB2_TAG_MODULE        3u
#define MB2_TAG_MMAP          6u
#define MB2_TAG_ACPI_OLD      14u
#define MB2_TAG_ACPI_NEW      15u

/* Multiboot2 memory-map entry types. */
#define MB2_MEM_AVAILABLE     1u
#define MB2_MEM_ACPI_RECLAIM  3u
#define MB2_MEM_NVS           4u
#define MB2_MEM_BADRAM        5u

/* Bounds of the static output (exceeding one is a conversion error, never a truncation). */
#define MB2_MMAP_MAX          256   /* output descriptors */
#define MB2_RANGES_MAX        384   /* input ranges: mmap entries + carve-outs */
#define MB2_CMDLINE_MAX       2048  /* bytes including the NUL */
#define MB2_ERROR_MAX         160

/*
 * What the converter must know about the image it belongs to, all physical.
 * Filled statically by entry32.S (mb2_layout, same field order).
 */
struct mb2_layout {
	uint64_t boot32_start;      /* the .boot32 area: header, 32-bit code, boot tables, stack */
	uint64_t boot32_end;
	uint64_t boot_tables_phys;  /* contiguous, page aligned */
	uint64_t boot_tables_size;
	uint64_t kernel_phys_base;  /* KERNEL_LMA */
	uint64_t kernel_phys_size;  /* _kernel_end - KERNEL_VBASE */
};

/* One physical range with an EFI type; [start, end), used while converting. */
struct mb2_range {
	uint64_t start;
	uint64_t end;
	uint32_t type;
};

/*
 * Everything the converter hands to the kernel. boot_info.mmap_phys and
 * cmdline_phys point into this struct, so it must stay where it is until the
 * kernel has copied what it needs. In the kernel it lies in .data (inside the
 * kernel image), so a kernel that clears .bss at entry cannot wipe it.
 */
struct mb2_boot_state {
	struct boot_info info;
	struct boot_mem_desc mmap[MB2_MMAP_MAX];
	char cmdline[MB2_CMDLINE_MAX];
	char error[MB2_ERROR_MAX];          /* set when mb2_convert fails */
};

/* Working storage of one conversion; dead once mb2_convert returns. */
struct mb2_scratch {
	struct mb2_range ranges[MB2_RANGES_MAX];   /* typed, page-rounded inputs */
	struct mb2_range avail[MB2_RANGES_MAX];    /* raw available ranges, merged before rounding */
	uint64_t points[2 * MB2_RANGES_MAX];       /* range boundaries, sorted */
};

/*
 * Convert the mbi at `mbi` (physical address mbi_phys) into st->info, with
 * the descriptors and the command line inside *st, whose physical address is
 * st_phys. Returns 0 on success, else -1 with a NUL-terminated message in
 * st->error naming the function, the broken rule and the values.
 */
int mb2_convert(const void *mbi, uint64_t mbi_phys, const struct mb2_layout *layout,
		struct mb2_boot_state *st, uint64_t st_phys, struct mb2_scratch *scratch);

#ifdef __FERROUS_KERNEL__
/*
 * Called from entry32.S in long mode on the boot tables: converts the mbi at
 * physical mbi_phys into the kernel's static boot_info. Returns the boot_info's
 * physical address, or 0 with *error set to a message.
 */
uint64_t mb2_boot_info_from_mbi(uint64_t mbi_phys, const struct mb2_layout *layout,
				const char **error);
#endif

#endif
