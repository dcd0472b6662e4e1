/*
 * boot_info.c - validate the loader's boot_info, keep a private copy, and
 * report it (protocol lines boot, memmap, rsdp, kernel).
 *
 * Before kernel/mm sets up its physical-memory window, the only way to reach
 * physical memory is the loader's direct map of [0, direct_map_limit) at
 * DIRECT_MAP_BASE (boot_info.h); boot_phys() below is that one access path.
 */
#include "boot_info_check.h"

#include "kstring.h"
#include "mm/memmap.h"
#include "panic.h"
#include "printk.h"
#include "protocol.h"

#define PAGE_SIZE_4K 4096ULL

extern const char _kernel_start[], _kernel_end[];

static struct boot_info bi_copy;
static struct boot_mem_desc mmap_copy[BOOT_MMAP_MAX_ENTRIES];
static char cmdline_copy[BOOT_CMDLINE_MAX + 1];
static bool bi_valid;

/* Maps physical address pa through the loader's direct map; the caller checked pa + len against
 * direct_map_limit. */
static const void *boot_phys(uint64_t pa)
{
	/* SAFETY: every caller bounds pa + len by direct_map_limit first, and boot_info.h guarantees the
	 * loader's tables map all of [0, direct_map_limit) at DIRECT_MAP_BASE. That bound is enough only
	 * before kas_init: its direct map has holes (RAM and firmware runs only). It holds because the users
	 * of the loader's addresses, boot_info_validate and the boot_info_check it calls, run before kas_init
	 * (main.c). The one later call, ktest bootinfo.accepts_real, passes boot_info_get()'s copy, whose map
	 * and command line lie in the kernel image (RAM, inside the new direct map); ktest
	 * bootinfo.rejects_map_beyond_direct_map fails the bound first and never gets here. */
	return (const void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

/* Physical address of a kernel-image object, from the loader-reported load address. */
static uint64_t kimg_phys(const struct boot_info *bi, const void *p)
{
	return (uint64_t)(uintptr_t)p - KERNEL_VBASE + bi->kernel_phys_base;
}

/* Short lower-case name of a UEFI memory type, for the memory-map table. */
const char *boot_mem_type_name(uint32_t type)
{
	static const char *const names[EFI_MAX_MEMORY_TYPE] = {
		"reserved", "loader_code", "loader_data", "boot_code", "boot_data", "runtime_code",
		"runtime_data", "conventional", "unusable", "acpi_reclaim", "acpi_nvs", "mmio",
		"mmio_port", "pal_code", "persistent",
	};
	if (type < EFI_MAX_MEMORY_TYPE)
		return names[type];
	if (type >= 0x80000000u)
		return "os";
	if (type >= 0x70000000u)
		return "oem";
	return "unknown";
}

/* Stores a formatted rejection message in why and returns false. */
static bool reject(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Stores a formatted rejection message in why and returns false. */
static bool reject(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (n > 0)
		vsnprintk(why, n, fmt, ap);
	va_end(ap);
	return false;
}

/* Checks the fixed-size header fields (no pointers followed). */
static bool check_header(const struct boot_info *bi, char *why, size_t n)
{
	if (bi->magic != BOOT_INFO_MAGIC)
		return reject(why, n, "boot_info: magic 0x%lx != 0x%llx (not a boot_info)", bi->magic,
			      BOOT_INFO_MAGIC);
	if (bi->version != BOOT_INFO_VERSION)
		return reject(why, n, "boot_info: version %u != %u (loader and kernel disagree)", bi->version,
			      BOOT_INFO_VERSION);
	if (bi->size < sizeof(struct boot_info))
		return reject(why, n, "boot_info: size %u < sizeof(struct boot_info) %zu", bi->size,
			      sizeof(struct boot_info));
	if (bi->boot_path != BOOT_PATH_UEFI && bi->boot_path != BOOT_PATH_MULTIBOOT2)
		return reject(why, n, "boot_info: boot_path %u is neither UEFI (1) nor Multiboot2 (2)",
			      bi->boot_path);
	if (bi->direct_map_limit == 0 || bi->direct_map_limit % PAGE_SIZE_4K)
		return reject(why, n, "boot_info: direct_map_limit 0x%lx is zero or not 4 KiB aligned",
			      bi->direct_map_limit);
	if (bi->mmap_desc_size < sizeof(struct boot_mem_desc) || bi->mmap_desc_size > BOOT_MMAP_MAX_DESC_SIZE)
		return reject(why, n, "boot_info: mmap_desc_size %lu < sizeof(struct boot_mem_desc) %zu or > %u",
			      bi->mmap_desc_size, sizeof(struct boot_mem_desc), BOOT_MMAP_MAX_DESC_SIZE);
	if (bi->mmap_count == 0 || bi->mmap_count > BOOT_MMAP_MAX_ENTRIES)
		return reject(why, n, "boot_info: mmap_count %lu is 0 or > %u", bi->mmap_count,
			      BOOT_MMAP_MAX_ENTRIES);
	if (bi->kernel_phys_base % PAGE_SIZE_4K)
		return reject(why, n, "boot_info: kernel_phys_base 0x%lx not 4 KiB aligned", bi->kernel_phys_base);
	uint64_t image = (uint64_t)(uintptr_t)_kernel_end - (uint64_t)(uintptr_t)_kernel_start;
	if (bi->kernel_phys_size < image || bi->kernel_phys_size % PAGE_SIZE_4K)
		return reject(why, n, "boot_info: kernel_phys_size %lu < image size %lu or not 4 KiB aligned",
			      bi->kernel_phys_size, image);
	if (bi->kernel_phys_base + bi->kernel_phys_size > bi->direct_map_limit ||
	    bi->kernel_phys_base + bi->kernel_phys_size < bi->kernel_phys_base)
		return reject(why, n, "boot_info: kernel [0x%lx, +0x%lx) beyond direct_map_limit 0x%lx",
			      bi->kernel_phys_base, bi->kernel_phys_size, bi->direct_map_limit);
	if (bi->boot_tables_phys % PAGE_SIZE_4K || bi->boot_tables_size % PAGE_SIZE_4K)
		return reject(why, n, "boot_info: boot_tables_phys 0x%lx / boot_tables_size %lu not 4 KiB aligned",
			      bi->boot_tables_phys, bi->boot_tables_size);
	if (bi->initrd_phys + bi->initrd_size < bi->initrd_phys)
		return reject(why, n, "boot_info: initrd_phys 0x%lx + initrd_size 0x%lx wraps around",
			      bi->initrd_phys, bi->initrd_size);
	if (bi->cmdline_phys == 0 && bi->cmdline_len != 0)
		return reject(why, n, "boot_info: cmdline_phys 0 but cmdline_len %lu", bi->cmdline_len);
	if (bi->cmdline_len > BOOT_CMDLINE_MAX)
		return reject(why, n, "boot_info: cmdline_len %lu > %u", bi->cmdline_len, BOOT_CMDLINE_MAX);
	if (strnlen(bi->loader_name, sizeof(bi->loader_name)) == sizeof(bi->loader_name))
		return reject(why, n, "boot_info: loader_name not NUL-terminated within %zu bytes",
			      sizeof(bi->loader_name));
	return true;
}

/* Header, then every descriptor (length, alignment, range, order), then the command line. */
bool boot_info_check_mapped(const struct boot_info *bi, const void *mmap, const char *cmdline,
			    char *why, size_t n)
{
	if (!check_header(bi, why, n))
		return false;

	const unsigned char *base = mmap;
	uint64_t prev_start = 0, prev_end = 0;
	for (uint64_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_desc *d = (const void *)(base + i * bi->mmap_desc_size);
		if (d->num_pages == 0)
			return reject(why, n, "boot_info: mmap[%lu].num_pages 0 at phys_start 0x%lx (zero length)",
				      i, d->phys_start);
		if (d->phys_start % PAGE_SIZE_4K)
			return reject(why, n, "boot_info: mmap[%lu].phys_start 0x%lx not 4 KiB aligned", i,
				      d->phys_start);
		if (d->num_pages > (BOOT_PHYS_LIMIT - (d->phys_start < BOOT_PHYS_LIMIT ? d->phys_start
							      : BOOT_PHYS_LIMIT)) / PAGE_SIZE_4K)
			return reject(why, n,
				      "boot_info: mmap[%lu].phys_start 0x%lx + num_pages 0x%lx pages passes 0x%llx "
				      "(wrap-around)", i, d->phys_start, d->num_pages, BOOT_PHYS_LIMIT);
		uint64_t end = d->phys_start + d->num_pages * PAGE_SIZE_4K;
		if (i > 0 && d->phys_start < prev_start)
			return reject(why, n, "boot_info: mmap[%lu].phys_start 0x%lx < mmap[%lu].phys_start 0x%lx "
				      "(unsorted)", i, d->phys_start, i - 1, prev_start);
		if (i > 0 && d->phys_start < prev_end)
			return reject(why, n, "boot_info: mmap[%lu].phys_start 0x%lx < end of mmap[%lu] 0x%lx "
				      "(overlap)", i, d->phys_start, i - 1, prev_end);
		prev_start = d->phys_start;
		prev_end = end;
	}

	if (bi->cmdline_phys != 0) {
		if (!cmdline)
			return reject(why, n, "boot_info: cmdline_phys 0x%lx but no command line mapped",
				      bi->cmdline_phys);
		size_t len = strnlen(cmdline, bi->cmdline_len + 1);
		if (len != bi->cmdline_len)
			return reject(why, n, "boot_info: cmdline not NUL-terminated at cmdline_len %lu "
				      "(NUL at %zu)", bi->cmdline_len, len);
	}
	return true;
}

/* True iff [pa, pa + len) lies below the direct-map limit without wrapping. */
static bool below_direct_limit(const struct boot_info *bi, uint64_t pa, uint64_t len)
{
	return pa + len >= pa && pa + len <= bi->direct_map_limit;
}

/* Bounds the map and command line by the direct map, then runs the pure checker on them. */
bool boot_info_check(const struct boot_info *bi, char *why, size_t n)
{
	if (!check_header(bi, why, n))
		return false;
	uint64_t map_bytes = bi->mmap_count * bi->mmap_desc_size;
	if (!below_direct_limit(bi, bi->mmap_phys, map_bytes))
		return reject(why, n, "boot_info: mmap_phys 0x%lx + %lu bytes beyond direct_map_limit 0x%lx",
			      bi->mmap_phys, map_bytes, bi->direct_map_limit);
	const char *cmdline = NULL;
	if (bi->cmdline_phys != 0) {
		if (!below_direct_limit(bi, bi->cmdline_phys, bi->cmdline_len + 1))
			return reject(why, n, "boot_info: cmdline_phys 0x%lx + %lu bytes beyond direct_map_limit "
				      "0x%lx", bi->cmdline_phys, bi->cmdline_len + 1, bi->direct_map_limit);
		cmdline = boot_phys(bi->cmdline_phys);
	}
	return boot_info_check_mapped(bi, boot_phys(bi->mmap_phys), cmdline, why, n);
}

/* Prints the memory map as text and the `@@ memmap` summary, by memmap_classify (kernel/mm/memmap.h, the
 * classifier the pmm and the direct map use too): usable_kib = USABLE + LOADER, reserved_kib = FIRMWARE (RAM
 * the firmware keeps), total_kib both (all RAM: the pmm's frames total), other_kib = RESERVED + NOT_RAM
 * (type-0 ranges, OEM types, MMIO, PAL); max_phys is the end (exclusive) of the highest usable descriptor. */
static void boot_report_memmap(const struct boot_info *bi)
{
	uint64_t usable = 0, reserved = 0, other = 0, max_phys = 0;
	printk("memory map (%lu entries):\n", bi->mmap_count);
	for (uint64_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_desc *d = &mmap_copy[i];
		uint64_t bytes = d->num_pages * PAGE_SIZE_4K;
		printk("  [0x%016lx-0x%016lx) %-12s %lu KiB\n", d->phys_start, d->phys_start + bytes,
		       boot_mem_type_name(d->type), bytes / 1024);
		switch (memmap_classify(d->type)) {
		case MEMMAP_USABLE:
		case MEMMAP_LOADER:
			usable += bytes;
			if (d->phys_start + bytes > max_phys)
				max_phys = d->phys_start + bytes;
			break;
		case MEMMAP_FIRMWARE:
			reserved += bytes;
			break;
		default:
			other += bytes;
			break;
		}
	}
	proto_line("memmap", "entries=%lu usable_kib=%lu reserved_kib=%lu total_kib=%lu other_kib=%lu max_phys=0x%lx",
		   bi->mmap_count, usable / 1024, reserved / 1024, (usable + reserved) / 1024, other / 1024, max_phys);
}

const struct boot_info *boot_info_validate(uint64_t phys)
{
	/* SAFETY: boot_info.h: RDI is the physical address of the boot_info, mapped through the direct map;
	 * its own size is checked against direct_map_limit right after the header is read. */
	if (phys == 0 || phys % 8 || phys >= BOOT_PHYS_LIMIT)
		panic("boot_info_validate: boot_info pointer 0x%lx from the loader is 0, misaligned or beyond "
		      "0x%llx", phys, BOOT_PHYS_LIMIT);
	const struct boot_info *bi = boot_phys(phys);
	char why[192];
	if (!boot_info_check(bi, why, sizeof(why)))
		panic("boot_info_validate: boot_info at phys 0x%lx rejected: %s", phys, why);
	if (!below_direct_limit(bi, phys, sizeof(*bi)))
		panic("boot_info_validate: boot_info at phys 0x%lx beyond direct_map_limit 0x%lx", phys,
		      bi->direct_map_limit);

	bi_copy = *bi;
	const unsigned char *src = boot_phys(bi->mmap_phys);
	for (uint64_t i = 0; i < bi->mmap_count; i++)
		memcpy(&mmap_copy[i], src + i * bi->mmap_desc_size, sizeof(mmap_copy[i]));
	if (bi->cmdline_phys)
		memcpy(cmdline_copy, boot_phys(bi->cmdline_phys), bi->cmdline_len + 1);
	else
		cmdline_copy[0] = '\0';
	bi_copy.size = sizeof(bi_copy);
	bi_copy.mmap_phys = kimg_phys(bi, mmap_copy);
	bi_copy.mmap_desc_size = sizeof(struct boot_mem_desc);
	bi_copy.cmdline_phys = kimg_phys(bi, cmdline_copy);
	bi_valid = true;

	char qloader[80], qcmd[2 * BOOT_CMDLINE_MAX + 3];
	proto_line("boot", "path=%s loader=%s version=%u cmdline=%s",
		   bi_copy.boot_path == BOOT_PATH_UEFI ? "uefi" : "multiboot2",
		   proto_quote(qloader, sizeof(qloader), bi_copy.loader_name), bi_copy.version,
		   proto_quote(qcmd, sizeof(qcmd), cmdline_copy));
	return &bi_copy;
}

/* Prints the memory map, then the memmap, rsdp and kernel lines. */
void boot_info_report(void)
{
	if (!bi_valid)
		panic("boot_info_report: called before boot_info_validate");
	boot_report_memmap(&bi_copy);
	proto_line("rsdp", "addr=0x%lx", bi_copy.rsdp_phys);
	proto_line("kernel", "phys_base=0x%lx phys_size=%lu", bi_copy.kernel_phys_base, bi_copy.kernel_phys_size);
	printk("boot_info: direct map [0, 0x%lx), boot tables [0x%lx, +0x%lx), initrd [0x%lx, +0x%lx)\n",
	       bi_copy.direct_map_limit, bi_copy.boot_tables_phys, bi_copy.boot_tables_size, bi_copy.initrd_phys,
	       bi_copy.initrd_size);
}

/* Returns the kernel's copy, NULL before boot_info_validate. */
const struct boot_info *boot_info_get(void)
{
	return bi_valid ? &bi_copy : NULL;
}

/* Returns descriptor i of the kernel's copy of the map; panics when out of range. */
const struct boot_mem_desc *boot_mmap_entry(uint64_t i)
{
	if (!bi_valid || i >= bi_copy.mmap_count)
		panic("boot_mmap_entry: index %lu out of range (count %lu)", i, bi_valid ? bi_copy.mmap_count : 0);
	return &mmap_copy[i];
}

/* Returns the kernel's copy of the command line. */
const char *boot_cmdline(void)
{
	return cmdline_copy;
}
