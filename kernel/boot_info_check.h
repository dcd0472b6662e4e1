/*
 * boot_info_check.h - validation of the loader's struct boot_info
 * (kernel/boot_info.h is the contract itself and stays loader-neutral).
 *
 * boot_info_validate() checks everything before the kernel trusts any of it,
 * then copies the struct, the memory map and the command line into the kernel
 * image and returns the copy. In the copy, mmap_phys and cmdline_phys are the
 * physical addresses of those copies (inside the kernel image, so reachable
 * through the direct map for the whole run) and mmap_desc_size is
 * sizeof(struct boot_mem_desc): once validate returns, nothing the loader
 * allocated is needed any more (pmm_reclaim_loader may free it).
 */
#ifndef FERROUS_BOOT_INFO_CHECK_H
#define FERROUS_BOOT_INFO_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "boot_info.h"

#define BOOT_MMAP_MAX_ENTRIES 1024   /* more descriptors than this is rejected as absurd */
#define BOOT_MMAP_MAX_DESC_SIZE 4096 /* idem for the descriptor stride */
#define BOOT_CMDLINE_MAX 4095        /* longest accepted command line, without the NUL */
#define BOOT_PHYS_LIMIT (1ULL << 52) /* architectural maximum physical address (MAXPHYADDR 52) */

/* Checks *bi, its memory map and its command line, reading the map and the command line through the
 * direct map (both must lie below bi->direct_map_limit). Returns true if valid; otherwise false with a
 * message in why naming the field and the values. Has no side effects. */
bool boot_info_check(const struct boot_info *bi, char *why, size_t n);

/* The same checks on a map and command line the caller has already mapped: mmap points at
 * bi->mmap_count descriptors spaced bi->mmap_desc_size bytes, cmdline at bi->cmdline_len + 1 bytes
 * (NULL iff bi->cmdline_phys is 0). Pure: usable on private copies in tests. */
bool boot_info_check_mapped(const struct boot_info *bi, const void *mmap, const char *cmdline,
			    char *why, size_t n);

/* Validates the boot_info at physical address phys (panics with boot_info_check's message if it is
 * invalid), copies it (see above), prints the `boot` line and returns the kernel's copy. Call once,
 * before anything uses boot information. */
const struct boot_info *boot_info_validate(uint64_t phys);

/* Prints the memory map (text) and the memmap, rsdp and kernel lines. After boot_info_validate. */
void boot_info_report(void);

/* The kernel's copy (NULL before boot_info_validate). */
const struct boot_info *boot_info_get(void);

/* Descriptor i of the kernel's copy of the map. */
const struct boot_mem_desc *boot_mmap_entry(uint64_t i);

/* The kernel's copy of the command line ("" when none). */
const char *boot_cmdline(void);

/* True for the memory types the kernel may use as RAM now or after reclaiming loader memory:
 * conventional, boot-services code/data, loader code/data. */

/* Short name of a memory type ("conventional", "loader_data", ...; "oem"/"os"/"unknown" otherwise). */
const char *boot_mem_type_name(uint32_t type);

#endif
