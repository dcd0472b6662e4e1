/*
 * memmap.c - the firmware memory map: sizing it, the direct-map limit, the
 * GetMemoryMap + ExitBootServices retry loop, and sorting the final map.
 *
 * Descriptors are stepped by the firmware's DescriptorSize (OVMF: 48 bytes),
 * never by sizeof(EFI_MEMORY_DESCRIPTOR); the kernel gets them in that
 * layout, with boot_info.mmap_desc_size = DescriptorSize.
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

void memmap_exit_boot_services(EFI_HANDLE image, struct memmap_buf *mm)
{
	EFI_STATUS st = EFI_SUCCESS;
	for (int attempt = 1; attempt <= EXIT_ATTEMPTS; attempt++) {
		/* Between GetMemoryMap and ExitBootServices nothing may allocate (not even a Print). After a
		 * failed ExitBootServices only these two calls are allowed, so errors go to COM1 directly. */
		if (!memmap_get(mm))
			halt_forever();  /* memmap_get reported it; every way out failed */
		st = BS->ExitBootServices(image, mm->map_key);
		if (st == EFI_SUCCESS)
			return;
		con_boot_services_gone();
		if (st != EFI_INVALID_PARAMETER)
			loader_fail_final("ExitBootServices: %s", efi_status_name(st));
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
