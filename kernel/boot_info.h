/*
 * boot_info.h - the one contract between a loader and the kernel.
 *
 * Both loaders (boot/efi: GNU-EFI under OVMF; boot/multiboot2: GRUB) fill a
 * struct boot_info and enter kernel_entry() in 64-bit mode with:
 *
 *   RDI   = physical address of the struct boot_info (identity-mapped)
 *   IF    = 0, paging on, EFER.LME on, CR4.PAE on
 *   CR3   = the loader's boot page tables, which map
 *             [0, direct_map_limit)  identity (so the loader's own code and boot_info stay reachable)
 *             [0, direct_map_limit)  at DIRECT_MAP_BASE (0xFFFF800000000000)
 *             the kernel image        at KERNEL_VBASE     (0xFFFFFFFF80000000) -> kernel_phys_base
 *           all writable and executable; the kernel replaces them (kernel/mm/kas.c).
 *   stack = any valid stack; the kernel switches to its own at once.
 *
 * The memory map uses UEFI memory types and the UEFI descriptor layout. The
 * entries are stepped by mmap_desc_size (which may exceed sizeof(struct
 * boot_mem_desc), as with UEFI firmware); the kernel validates the whole
 * structure (kernel/boot_info.c) before it trusts any of it.
 *
 * Everything the loader allocated for the kernel (boot_info, the descriptor
 * array, the command line copy, the boot page tables, the ramdisk copy) lies
 * in descriptors of type EFI_LOADER_DATA, or inside the kernel image.
 */
#ifndef FERROUS_BOOT_INFO_H
#define FERROUS_BOOT_INFO_H

#include <stdint.h>

#define BOOT_INFO_MAGIC   0x544F4F4253524546ULL /* "FERSBOOT" little-endian */
#define BOOT_INFO_VERSION 1u

#define KERNEL_VBASE      0xFFFFFFFF80000000ULL
#define DIRECT_MAP_BASE   0xFFFF800000000000ULL

enum boot_path {
	BOOT_PATH_UEFI       = 1,
	BOOT_PATH_MULTIBOOT2 = 2,
};

/* UEFI memory types (UEFI 2.10, EFI_MEMORY_TYPE). */
enum efi_memory_type {
	EFI_RESERVED_MEMORY_TYPE     = 0,
	EFI_LOADER_CODE              = 1,
	EFI_LOADER_DATA              = 2,
	EFI_BOOT_SERVICES_CODE       = 3,
	EFI_BOOT_SERVICES_DATA       = 4,
	EFI_RUNTIME_SERVICES_CODE    = 5,
	EFI_RUNTIME_SERVICES_DATA    = 6,
	EFI_CONVENTIONAL_MEMORY      = 7,
	EFI_UNUSABLE_MEMORY          = 8,
	EFI_ACPI_RECLAIM_MEMORY      = 9,
	EFI_ACPI_MEMORY_NVS          = 10,
	EFI_MEMORY_MAPPED_IO         = 11,
	EFI_MEMORY_MAPPED_IO_PORT    = 12,
	EFI_PAL_CODE                 = 13,
	EFI_PERSISTENT_MEMORY        = 14,
	EFI_MAX_MEMORY_TYPE          = 15,
};

/* Same layout as EFI_MEMORY_DESCRIPTOR (40 bytes). Pages are 4 KiB. */
struct boot_mem_desc {
	uint32_t type;          /* enum efi_memory_type */
	uint32_t pad;
	uint64_t phys_start;    /* 4 KiB aligned */
	uint64_t virt_start;    /* unused (0) */
	uint64_t num_pages;     /* > 0 */
	uint64_t attribute;     /* EFI_MEMORY_* bits; 0 from the Multiboot2 path */
};

struct boot_info {
	uint64_t magic;            /* BOOT_INFO_MAGIC */
	uint32_t version;          /* BOOT_INFO_VERSION */
	uint32_t size;             /* sizeof(struct boot_info) as the loader built it */
	uint32_t boot_path;        /* enum boot_path */
	uint32_t reserved0;

	uint64_t mmap_phys;        /* descriptor array, sorted by phys_start, non-overlapping */
	uint64_t mmap_count;       /* number of descriptors */
	uint64_t mmap_desc_size;   /* bytes between descriptors, >= sizeof(struct boot_mem_desc) */

	uint64_t rsdp_phys;        /* ACPI RSDP, 0 when the firmware has none */

	uint64_t kernel_phys_base; /* physical address of KERNEL_VBASE, 4 KiB aligned */
	uint64_t kernel_phys_size; /* bytes, page-rounded, from KERNEL_VBASE to the end of .bss */

	uint64_t cmdline_phys;     /* NUL-terminated, 0 when none */
	uint64_t cmdline_len;      /* bytes without the NUL */

	uint64_t initrd_phys;      /* ramdisk, 0 when none */
	uint64_t initrd_size;

	uint64_t boot_tables_phys; /* the loader's page-table frames: contiguous, page aligned */
	uint64_t boot_tables_size; /* bytes */
	uint64_t direct_map_limit; /* [0, limit) is mapped at DIRECT_MAP_BASE and identity at entry */

	char     loader_name[32];  /* NUL-terminated, e.g. "ferrous-efi 1" or "GRUB 2.06" */
};

#endif
