/*
 * main.c - efi_main: the loader's flow from firmware to kernel (see loader.h).
 *
 * efi_main is NOT marked EFIAPI: with GNU_EFI_USE_MS_ABI, gnu-efi's crt0
 * calls it with the SysV convention (PLATFORM-NOTES).
 */
#include "loader.h"
#include "cpu.h"

#define KERNEL_PATH   L"\\ferrous\\kernel.elf"
#define CMDLINE_PATH  L"\\ferrous\\cmdline.txt"
#define INITRD_PATH   L"\\ferrous\\initrd"
#define CMDLINE_MAX   4096          /* bytes, without the NUL */
#define MMAP_SLACK    64            /* extra descriptors: allocations after sizing split regions */

static const EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static const EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

/* Address of the ACPI RSDP from the configuration table: 2.0 GUID first, else 1.0, else 0. */
static uint64_t find_rsdp(void)
{
	uint64_t v1 = 0;
	for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
		if (!CompareGuid(&t->VendorGuid, (EFI_GUID *)&acpi20_guid))
			return (uint64_t)(uintptr_t)t->VendorTable;
		if (!CompareGuid(&t->VendorGuid, (EFI_GUID *)&acpi10_guid))
			v1 = (uint64_t)(uintptr_t)t->VendorTable;
	}
	return v1;
}

/* Copies the command line (without trailing CR/LF, cut at a NUL) into dst; returns its length. */
static uint64_t copy_cmdline(char *dst, const struct loaded_file *f)
{
	uint64_t len = 0;
	const char *src = f->data;
	while (len < f->size && src[len] != '\0')
		len++;
	while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r'))
		len--;
	bs_copy(dst, src, len);
	dst[len] = '\0';
	return len;
}

/* Allocates `pages` EfiLoaderData pages anywhere; 0 after loader_fail. */
static uint64_t alloc_pages(uint64_t pages, const char *what)
{
	EFI_PHYSICAL_ADDRESS pa = 0;
	EFI_STATUS st = BS->AllocatePages(AllocateAnyPages, EfiLoaderData, pages, &pa);
	if (EFI_ERROR(st)) {
		loader_fail("out of memory for %s (%lu pages): %s", what, pages, efi_status_name(st));
		return 0;
	}
	return pa;
}

/* Everything the kernel will be handed, gathered step by step before ExitBootServices. */
struct handoff {
	struct kernel_image kernel;
	struct loaded_file cmdline_file;  /* scratch, freed once copied */
	struct loaded_file initrd;        /* data == NULL: none */
	struct boot_info *bi;             /* first page of the meta block */
	char *cmdline;                    /* inside the meta block, NUL-terminated */
	uint64_t cmdline_len;
	bool has_cmdline;                 /* \ferrous\cmdline.txt exists (else cmdline_phys = 0) */
	struct memmap_buf mm;             /* descriptor array inside the meta block */
	struct loader_cfg cfg;            /* \ferrous\loader.cfg: loader-only test knobs */
	uint64_t rsdp;
	uint64_t direct_map_limit;
	uint64_t tables_phys, tables_pages;
};

/* Reads and loads \ferrous\kernel.elf; reads cmdline.txt, the initrd and loader.cfg. False after
 * loader_fail. */
static bool read_files(EFI_FILE_HANDLE root, struct handoff *h)
{
	struct loaded_file kfile;
	if (!files_read(root, KERNEL_PATH, "\\ferrous\\kernel.elf", true, true, &kfile))
		return false;
	bool ok = elf_load_kernel(kfile.data, kfile.size, &h->kernel);
	FreePool(kfile.data);
	if (!ok)
		return false;
	if (!files_read(root, CMDLINE_PATH, "\\ferrous\\cmdline.txt", false, true, &h->cmdline_file))
		return false;
	if (h->cmdline_file.size > CMDLINE_MAX) {
		loader_fail("\\ferrous\\cmdline.txt: %lu bytes, limit %u", h->cmdline_file.size, CMDLINE_MAX);
		return false;
	}
	if (!files_read(root, INITRD_PATH, "\\ferrous\\initrd", false, false, &h->initrd))
		return false;
	return loader_cfg_read(root, &h->cfg);
}

/* Allocates the meta block (boot_info | command line | descriptor array with MMAP_SLACK spare
 * descriptors) and copies the command line into it. False after loader_fail. */
static bool alloc_meta(struct handoff *h)
{
	UINTN map_bytes, desc_size;
	if (!memmap_probe(&map_bytes, &desc_size))
		return false;
	uint64_t cmdline_off = PAGE_ROUND_UP(sizeof(struct boot_info));
	uint64_t map_off = cmdline_off + ((h->cmdline_file.size + 1 + 63) & ~63ULL);
	uint64_t pages = PAGE_ROUND_UP(map_off + map_bytes + MMAP_SLACK * desc_size) / PAGE_SIZE;
	uint64_t pa = alloc_pages(pages, "boot_info and the memory map");
	if (!pa)
		return false;
	/* SAFETY: boot services identity-map memory; [pa, pa + pages * 4 KiB) was just allocated. */
	uint8_t *base = (uint8_t *)(uintptr_t)pa;
	bs_zero(base, pages * PAGE_SIZE);
	h->bi = (struct boot_info *)base;
	h->cmdline = (char *)(base + cmdline_off);
	h->mm.descs = (EFI_MEMORY_DESCRIPTOR *)(base + map_off);
	h->mm.capacity = pages * PAGE_SIZE - map_off;   /* the page rounding adds to the slack */
	h->mm.desc_size = desc_size;
	if (h->cmdline_file.data) {
		h->has_cmdline = true;
		h->cmdline_len = copy_cmdline(h->cmdline, &h->cmdline_file);
		FreePool(h->cmdline_file.data);
		h->cmdline_file.data = NULL;
	}
	return true;
}

/* Sizes the direct map from the current memory map, then allocates and fills the boot page
 * tables. False after loader_fail. */
static bool make_tables(struct handoff *h)
{
	if (!memmap_get(&h->mm))
		return false;
	bool capped;
	h->direct_map_limit = memmap_direct_map_limit(&h->mm, &capped);
	if (capped)
		con_printf("ferrous-efi: warning: RAM above 0x%lx is not in the direct map\n", h->direct_map_limit);
	h->tables_pages = boot_tables_pages(h->direct_map_limit, h->kernel.size);
	h->tables_phys = alloc_pages(h->tables_pages, "the boot page tables");
	if (!h->tables_phys)
		return false;

	/* The kernel reaches all of these through the identity and direct maps: they must lie below
	 * the limit (only possible to miss when RAM goes beyond the 64 GiB cap). */
	struct { const char *what; uint64_t end; } ends[] = {
		{ "kernel image", h->kernel.phys_base + h->kernel.size },
		{ "boot_info block", (uint64_t)(uintptr_t)h->mm.descs + h->mm.capacity },
		{ "boot page tables", h->tables_phys + h->tables_pages * PAGE_SIZE },
		{ "initrd", (uint64_t)(uintptr_t)h->initrd.data + h->initrd.size },
	};
	for (unsigned i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		if (ends[i].end > h->direct_map_limit) {
			loader_fail("%s ends at 0x%lx, above direct_map_limit 0x%lx", ends[i].what, ends[i].end,
				    h->direct_map_limit);
			return false;
		}
	}
	boot_tables_build(h->tables_phys, h->tables_pages, h->direct_map_limit, &h->kernel);
	return true;
}

/* Fills every boot_info field except the memory map, which is final only after ExitBootServices. */
static void fill_boot_info(const struct handoff *h)
{
	struct boot_info *bi = h->bi;
	bi->magic = BOOT_INFO_MAGIC;
	bi->version = BOOT_INFO_VERSION;
	bi->size = sizeof *bi;
	bi->boot_path = BOOT_PATH_UEFI;
	bi->rsdp_phys = h->rsdp;
	bi->kernel_phys_base = h->kernel.phys_base;
	bi->kernel_phys_size = h->kernel.size;
	bi->cmdline_phys = h->has_cmdline ? (uint64_t)(uintptr_t)h->cmdline : 0;
	bi->cmdline_len = h->cmdline_len;
	bi->initrd_phys = (uint64_t)(uintptr_t)h->initrd.data;
	bi->initrd_size = h->initrd.size;
	bi->boot_tables_phys = h->tables_phys;
	bi->boot_tables_size = h->tables_pages * PAGE_SIZE;
	bi->direct_map_limit = h->direct_map_limit;
	bs_copy(bi->loader_name, LOADER_NAME, sizeof LOADER_NAME);
}

/* The whole boot; returns only after loader_fail could not leave the machine. */
static EFI_STATUS boot(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *li;
	EFI_FILE_HANDLE root = files_open_root(image, &li);
	if (!root)
		return EFI_LOAD_ERROR;
	con_printf("ferrous-efi: ImageBase=0x%lx\n", (uint64_t)(uintptr_t)li->ImageBase);
	if (read_cr4() & CR4_LA57) {
		loader_fail("the firmware runs with 5-level paging (CR4.LA57); the boot tables are 4-level");
		return EFI_UNSUPPORTED;
	}
	/* The firmware arms a 5-minute watchdog for boot options; a stopped gdb session must not trip it. */
	BS->SetWatchdogTimer(0, 0, 0, NULL);

	struct handoff h;
	bs_zero(&h, sizeof h);
	bool ok = read_files(root, &h);
	root->Close(root);
	if (!ok || !alloc_meta(&h) || !make_tables(&h))
		return EFI_LOAD_ERROR;
	h.rsdp = find_rsdp();
	fill_boot_info(&h);

	con_printf("ferrous-efi: kernel phys=0x%lx size=%lu entry=0x%lx\n", h.kernel.phys_base, h.kernel.size,
		   h.kernel.entry);
	con_printf("ferrous-efi: cmdline=\"%s\" initrd=%lu bytes rsdp=0x%lx\n", h.cmdline, h.initrd.size, h.rsdp);
	con_printf("ferrous-efi: boot tables 0x%lx (%lu pages), direct map [0, 0x%lx)\n", h.tables_phys,
		   h.tables_pages, h.direct_map_limit);
	if (h.cfg.present)
		con_printf("ferrous-efi: loader.cfg: stale_map_key=%u (test knob; firmware UEFI revision 0x%x)\n",
			   h.cfg.stale_map_key, ST->Hdr.Revision);
	con_printf("ferrous-efi: exiting boot services\n");

	memmap_exit_boot_services(image, &h.mm, h.cfg.stale_map_key);
	con_boot_services_gone();
	memmap_sort(&h.mm);
	h.bi->mmap_phys = (uint64_t)(uintptr_t)h.mm.descs;
	h.bi->mmap_count = h.mm.size / h.mm.desc_size;
	h.bi->mmap_desc_size = h.mm.desc_size;
	enter_kernel(h.tables_phys, h.kernel.entry, (uint64_t)(uintptr_t)h.bi);
}

/* Entry from gnu-efi's crt0 (SysV, see above): sets up gnu-efi's globals (ST, BS, RT), then boots. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	InitializeLib(image, systab);
	return boot(image);
}
