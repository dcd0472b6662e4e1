/*
 * memmap.c - the firmware memory map: sizing it, the direct-map limit, the
 * GetMemoryMap + ExitBootServices retry loop, and sorting the final map.
 *
 * Descriptors are stepped by the firmware's DescriptorSize (OVMF: 48 bytes),
 * never by sizeof(EFI_MEMORY_DESCRIPTOR); the kernel gets them in that
 * layout, with boot_info.mmap_desc_size = DescriptorSize.
 *
 * The retry loop (UEFI 2.10, 7.4 ExitBootServices): a MapKey that is no longer
 * current makes ExitBootServices return EFI_INVALID_PARAMETER, and the loader
 * must call GetMemoryMap and ExitBootServices again. After that first failed
 * call the firmware may have partly shut down, and a loader may call no boot
 * service but GetMemoryMap and ExitBootServices (UEFI <= 2.8; 2.9 and later
 * also allow the memory allocation services). ConOut is a boot-time protocol,
 * so from then on the loader prints straight to COM1 (port I/O, no firmware
 * call, no change to the map): one `@@ loader_retry attempt=N max=M` line per
 * retry, before the next GetMemoryMap (grade/PROTOCOL.md). Up to EXIT_ATTEMPTS
 * attempts; then `@@ loader_error` and QEMU exit 39.
 *
 * TEST KNOB (loader-only, read from the ESP, not from the build):
 * \ferrous\loader.cfg with the line `stale_map_key=N` (N <= 16, see config.c)
 * makes the first N ExitBootServices calls fail with EFI_INVALID_PARAMETER, so
 * that the loop above runs for real (OVMF never fails the first call).
 *   Attempt 1: between GetMemoryMap and ExitBootServices the knob does what a
 *     firmware event (a timer callback, a driver) does at that moment: it
 *     changes the map, by AllocatePages + FreePages of one page. The key from
 *     GetMemoryMap is then stale and the firmware rejects it. This is before
 *     the first ExitBootServices call, when every boot service is allowed.
 *   Attempts 2..N: the knob may not change the map any more (the rule above:
 *     after a failed ExitBootServices, GetMemoryMap and ExitBootServices only;
 *     OVMF 2022.11 reports UEFI 2.70), so it hands ExitBootServices the key of
 *     attempt 1's GetMemoryMap, which the firmware has already seen go stale
 *     (edk2 bumps the key on every map change and compares for equality). The
 *     loop itself still calls GetMemoryMap for a fresh map each time.
 * Not used: an EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES (UEFI 2.9) notify that
 * changes the map inside every ExitBootServices; OVMF 2022.11 never signals it.
 * If the map change of attempt 1 fails, or ExitBootServices accepts the stale
 * key, the knob did not do what it says: the loader stops with
 * `@@ loader_error` instead of booting as if the retry path had run.
 * No loader.cfg, or N = 0: the boot is exactly as without the knob.
 * Tests: boot/efi/test/run.sh, cases stale-once, stale-kernel, stale-max.
 */
#include "loader.h"
#include "cpu.h"

#define GIB                     (1ULL << 30)
#define DIRECT_MAP_MIN          (4 * GIB)   /* low MMIO (local APIC, IOAPIC, HPET) and ACPI tables */
#define DIRECT_MAP_MAX          (64 * GIB)  /* 64 page directories per tree in boot_tables.c */
#define EXIT_ATTEMPTS           8
#define MAX_DESC_SIZE           256         /* memmap_sort's swap buffer */

/* The kernel reads the firmware's descriptors as struct boot_mem_desc: same layout. */
_Static_assert(sizeof(EFI_MEMORY_DESCRIPTOR) == sizeof(struct boot_mem_desc), "descriptor size");
_Static_assert(offsetof(EFI_MEMORY_DESCRIPTOR, PhysicalStart) == offsetof(struct boot_mem_desc, phys_start) &&
	       offsetof(EFI_MEMORY_DESCRIPTOR, NumberOfPages) == offsetof(struct boot_mem_desc, num_pages) &&
	       offsetof(EFI_MEMORY_DESCRIPTOR, Attribute) == offsetof(struct boot_mem_desc, attribute),
	       "descriptor layout");

/* The descriptor at index i of a firmware map. */
static EFI_MEMORY_DESCRIPTOR *desc_at(const struct memmap_buf *mm, UINTN i)
{
	return (EFI_MEMORY_DESCRIPTOR *)((uint8_t *)mm->descs + i * mm->desc_size);
}

bool memmap_probe(UINTN *bytes, UINTN *desc_size)
{
	UINTN size = 0, key = 0;
	UINT32 version = 0;
	*desc_size = 0;
	EFI_STATUS st = BS->GetMemoryMap(&size, NULL, &key, desc_size, &version);
	if (st != EFI_BUFFER_TOO_SMALL || size == 0) {
		loader_fail("GetMemoryMap gives no memory map: %s (size %lu)", efi_status_name(st), (uint64_t)size);
		return false;
	}
	if (*desc_size < sizeof(EFI_MEMORY_DESCRIPTOR) || *desc_size > MAX_DESC_SIZE || *desc_size % 8) {
		loader_fail("GetMemoryMap: descriptor size %lu, want a multiple of 8 in [%zu, %u]",
			    (uint64_t)*desc_size, sizeof(EFI_MEMORY_DESCRIPTOR), MAX_DESC_SIZE);
		return false;
	}
	*bytes = size;
	return true;
}

bool memmap_get(struct memmap_buf *mm)
{
	UINTN size = mm->capacity, desc_size = 0;
	EFI_STATUS st = BS->GetMemoryMap(&size, mm->descs, &mm->map_key, &desc_size, &mm->desc_version);
	if (EFI_ERROR(st)) {
		loader_fail("GetMemoryMap: %s (needs %lu bytes, buffer has %lu)", efi_status_name(st),
			    (uint64_t)size, (uint64_t)mm->capacity);
		return false;
	}
	if (desc_size != mm->desc_size || mm->desc_version != EFI_MEMORY_DESCRIPTOR_VERSION) {
		loader_fail("GetMemoryMap: descriptor size %lu version %u, want size %lu version %u",
			    (uint64_t)desc_size, mm->desc_version, (uint64_t)mm->desc_size,
			    EFI_MEMORY_DESCRIPTOR_VERSION);
		return false;
	}
	mm->size = size;
	return true;
}

/* True for memory that is RAM (usable now or after the firmware/ACPI is done with it). */
static bool is_ram(UINT32 type)
{
	switch (type) {
	case EfiLoaderCode: case EfiLoaderData:
	case EfiBootServicesCode: case EfiBootServicesData:
	case EfiRuntimeServicesCode: case EfiRuntimeServicesData:
	case EfiConventionalMemory: case EfiACPIReclaimMemory: case EfiACPIMemoryNVS:
		return true;
	default:
		return false;
	}
}

uint64_t memmap_direct_map_limit(const struct memmap_buf *mm, bool *capped)
{
	uint64_t top = 0;
	for (UINTN i = 0; i < mm->size / mm->desc_size; i++) {
		const EFI_MEMORY_DESCRIPTOR *d = desc_at(mm, i);
		uint64_t end = d->PhysicalStart + d->NumberOfPages * PAGE_SIZE;
		if (is_ram(d->Type) && end > top)
			top = end;
	}
	uint64_t limit = (top + GIB - 1) & ~(GIB - 1);
	*capped = limit > DIRECT_MAP_MAX;
	if (limit < DIRECT_MAP_MIN)
		limit = DIRECT_MAP_MIN;
	if (limit > DIRECT_MAP_MAX)
		limit = DIRECT_MAP_MAX;
	return limit;
}

/* The test knob (see the top of this file): how many more ExitBootServices calls must fail, and the
 * key that attempt 1 made stale. */
static struct {
	unsigned left;
	UINTN stale_key;
} knob;

/* Returns the key to hand to ExitBootServices on this attempt: fresh_key (the one GetMemoryMap just
 * gave) unless the knob still has failures to cause. On attempt 1 (no ExitBootServices call yet, every
 * boot service allowed) it changes the map so that fresh_key goes stale; later it returns that key again
 * and calls no firmware service. Prints nothing (the map must not change after the knob's own change). */
static UINTN knob_key(int attempt, UINTN fresh_key)
{
	if (knob.left == 0)
		return fresh_key;
	knob.left--;
	if (attempt > 1)
		return knob.stale_key;
	EFI_PHYSICAL_ADDRESS pa = 0;
	EFI_STATUS st = BS->AllocatePages(AllocateAnyPages, EfiBootServicesData, 1, &pa);
	if (!EFI_ERROR(st))
		st = BS->FreePages(pa, 1);
	if (EFI_ERROR(st))
		loader_fail_final("stale_map_key: AllocatePages/FreePages of one page after GetMemoryMap: %s",
				  efi_status_name(st));
	knob.stale_key = fresh_key;
	return fresh_key;
}

void memmap_exit_boot_services(EFI_HANDLE image, struct memmap_buf *mm, unsigned stale_map_key)
{
	knob.left = stale_map_key;
	EFI_STATUS st = EFI_SUCCESS;
	for (int attempt = 1; attempt <= EXIT_ATTEMPTS; attempt++) {
		/* Between GetMemoryMap and ExitBootServices nothing may allocate (not even a Print). After a
		 * failed ExitBootServices only these two calls are allowed, so output goes to COM1 directly. */
		if (!memmap_get(mm))
			halt_forever();  /* memmap_get reported it; every way out failed */
		bool knob_stale = knob.left > 0;
		st = BS->ExitBootServices(image, knob_key(attempt, mm->map_key));
		con_boot_services_gone();
		if (st == EFI_SUCCESS && knob_stale)
			loader_fail_final("stale_map_key: ExitBootServices accepted a stale map key (attempt %d)",
					  attempt);
		if (st == EFI_SUCCESS)
			return;
		if (st != EFI_INVALID_PARAMETER)
			loader_fail_final("ExitBootServices: %s", efi_status_name(st));
		if (attempt < EXIT_ATTEMPTS)
			con_printf("@@ loader_retry attempt=%d max=%d\n", attempt, EXIT_ATTEMPTS);
	}
	loader_fail_final("ExitBootServices: map key still stale after %d attempts", EXIT_ATTEMPTS);
}

void memmap_sort(struct memmap_buf *mm)
{
	uint8_t tmp[MAX_DESC_SIZE];   /* memmap_probe checked desc_size <= MAX_DESC_SIZE */
	UINTN n = mm->size / mm->desc_size;
	for (UINTN i = 1; i < n; i++) {
		uint8_t *cur = (uint8_t *)desc_at(mm, i);
		uint64_t key = ((EFI_MEMORY_DESCRIPTOR *)cur)->PhysicalStart;
		UINTN j = i;
		while (j > 0 && desc_at(mm, j - 1)->PhysicalStart > key)
			j--;
		if (j == i)
			continue;
		/* Rotate [j, i] right by one descriptor, byte by byte (no allocation, no firmware). */
		for (UINTN b = 0; b < mm->desc_size; b++)
			tmp[b] = cur[b];
		for (uint8_t *p = cur + mm->desc_size - 1; p >= (uint8_t *)desc_at(mm, j) + mm->desc_size; p--)
			*p = *(p - mm->desc_size);
		uint8_t *dst = (uint8_t *)desc_at(mm, j);
		for (UINTN b = 0; b < mm->desc_size; b++)
			dst[b] = tmp[b];
	}
}
