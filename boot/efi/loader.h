/*
 * loader.h - internal interfaces of the Ferrous UEFI loader (BOOTX64.EFI).
 *
 * The loader runs as a GNU-EFI application (MS ABI for firmware calls, SysV
 * for its own functions). Flow (main.c): read \ferrous\kernel.elf,
 * \ferrous\cmdline.txt and \ferrous\initrd from its own volume; load the
 * kernel's high segments into one block of pages; find the RSDP; build the
 * boot page tables; exit boot services; enter the kernel with RDI =
 * &boot_info (the contract is kernel/boot_info.h).
 *
 * Every failure goes through loader_fail(), which prints a protocol line
 * `@@ loader_error msg="..."` and leaves the machine; no function here returns
 * an error that its caller could ignore.
 */
#ifndef FERROUS_EFI_LOADER_H
#define FERROUS_EFI_LOADER_H

#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/boot_info.h"

#define LOADER_NAME      "ferrous-efi 1"
#define PAGE_SIZE        ((uint64_t)4096)
#define PAGE_ROUND_UP(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* ---- format.c: freestanding snprintf subset (%s %c %d %u %x %p %%, l/ll/z, width, '0', '-'). */
/* Formats into buf (always NUL-terminated when n > 0); returns the untruncated length. */
size_t fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* ---- console.c ---- */
/* Prints an ASCII line (printf subset) on ConOut, or straight to COM1 once boot services may be gone. */
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From now on the console writes to COM1 directly (ExitBootServices was called, ConOut may be dead). */
void con_boot_services_gone(void);
/* Reports `@@ loader_error msg="..."` plus a human line, then leaves the machine (isa-debug-exit 0x13,
 * ResetSystem(shutdown)); returns only if both failed, and efi_main then returns an error status. */
void loader_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like loader_fail but never returns: halts if every way out failed. For the points with nothing to return
 * to (after ExitBootServices was called, or an internal invariant broken). */
_Noreturn void loader_fail_final(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Names an EFI_STATUS for messages ("Not Found", "Out of Resources", ...). */
const char *efi_status_name(EFI_STATUS s);

/* ---- files.c ---- */
struct loaded_file {
	void    *data;   /* NULL when the optional file is absent */
	uint64_t size;   /* bytes */
	uint64_t pages;  /* pages allocated when the file lives in AllocatePages memory, else 0 */
};
/* Opens the root directory of the volume the loader was read from. NULL after loader_fail. */
EFI_FILE_HANDLE files_open_root(EFI_HANDLE image, EFI_LOADED_IMAGE **out_li);
/* Reads a whole file. `pool` selects AllocatePool(EfiBootServicesData, scratch) or
 * AllocatePages(EfiLoaderData, kept for the kernel). Returns true and fills *out, or returns true with
 * out->data == NULL when !required and the file does not exist; false after loader_fail. */
bool files_read(EFI_FILE_HANDLE root, const CHAR16 *path, const char *path_ascii, bool required,
		bool pool, struct loaded_file *out);

/* ---- config.c: \ferrous\loader.cfg, loader-only test settings (format and keys in config.c) ---- */
#define LOADER_CFG_STALE_MAX 16   /* twice memmap.c's attempt bound: enough to test running out of it */
struct loader_cfg {
	bool present;             /* the file exists (and parsed) */
	unsigned stale_map_key;   /* ExitBootServices calls that must see a stale map key (memmap.c) */
};
/* Reads and parses \ferrous\loader.cfg if it exists; absent = all zero. False after loader_fail. */
bool loader_cfg_read(EFI_FILE_HANDLE root, struct loader_cfg *cfg);

/* ---- elf_load.c ---- */
struct kernel_image {
	uint64_t phys_base;  /* physical address of KERNEL_VBASE */
	uint64_t size;       /* bytes from KERNEL_VBASE to the end of the last segment, page-rounded */
	uint64_t entry;      /* virtual entry point, inside [KERNEL_VBASE, KERNEL_VBASE + size) */
};
/* Validates the ELF in [file, file+size) and loads every PT_LOAD at or above KERNEL_VBASE into one block
 * of EfiLoaderData pages, zeroing .bss. False after loader_fail. */
bool elf_load_kernel(const void *file, uint64_t size, struct kernel_image *out);

/* ---- memmap.c ---- */
struct memmap_buf {
	EFI_MEMORY_DESCRIPTOR *descs;   /* firmware layout, stepped by desc_size */
	UINTN capacity;                 /* bytes */
	UINTN size;                     /* bytes filled by the last GetMemoryMap */
	UINTN desc_size;
	UINT32 desc_version;
	UINTN map_key;
};
/* Asks the firmware how big the map is now: bytes and descriptor size. False after loader_fail. */
bool memmap_probe(UINTN *bytes, UINTN *desc_size);
/* Fills mm->descs with the current map (fails if it no longer fits). False after loader_fail. */
bool memmap_get(struct memmap_buf *mm);
/* [0, limit) to map: highest end of RAM-like descriptors rounded up to 1 GiB, at least 4 GiB, at most
 * 64 GiB (*capped says whether RAM was left out). */
uint64_t memmap_direct_map_limit(const struct memmap_buf *mm, bool *capped);
/* GetMemoryMap + ExitBootServices with bounded retries on a stale map key, printing `@@ loader_retry`
 * per retry. `stale_map_key` > 0 is the test knob (see memmap.c): the first that many ExitBootServices
 * calls see a changed memory map. Returns only on success; afterwards no boot service may be used. */
void memmap_exit_boot_services(EFI_HANDLE image, struct memmap_buf *mm, unsigned stale_map_key);
/* Sorts the descriptors by PhysicalStart in place (insertion sort, no allocation). */
void memmap_sort(struct memmap_buf *mm);

/* ---- boot_tables.c ---- */
/* Number of 4 KiB page-table frames boot_tables_build needs for this limit and kernel size. */
uint64_t boot_tables_pages(uint64_t direct_map_limit, uint64_t kernel_size);
/* Zeroes the `tables_pages` frames at `tables_phys` and builds in them the tables of the boot_info.h
 * contract; the PML4 is the first frame. */
void boot_tables_build(uint64_t tables_phys, uint64_t tables_pages, uint64_t direct_map_limit,
		       const struct kernel_image *k);

/* ---- enter.S ---- */
/* Disables interrupts, loads CR3 = pml4 and jumps to `entry` with RDI = boot_info. Never returns. */
_Noreturn void enter_kernel(uint64_t pml4, uint64_t entry, uint64_t boot_info);

/* ---- small helpers ---- */
/* Zero / copy with the firmware's routines: only while boot services are up. */
static inline void bs_zero(void *p, uint64_t n) { BS->SetMem(p, n, 0); }
static inline void bs_copy(void *dst, const void *src, uint64_t n) { BS->CopyMem(dst, (void *)src, n); }

#endif
