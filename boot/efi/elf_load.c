/*
 * elf_load.c - validating the kernel ELF and loading its higher-half segments.
 *
 * Every PT_LOAD with p_vaddr >= KERNEL_VBASE goes into ONE block of
 * EfiLoaderData pages at offset p_vaddr - KERNEL_VBASE; the low .boot32
 * segment (GRUB's 32-bit entry, see kernel/kernel.ld) is skipped. The block
 * is zeroed first, so .bss and the gaps between segments are zero.
 */
#include "loader.h"
#include "elf64.h"

#define PF_X            1u
#define KERNEL_MAX_SIZE (1ULL << 30)  /* one page directory of 4 KiB tables; see boot_tables.c */

/* Checks the ELF header. False after loader_fail. */
static bool check_header(const struct elf64_ehdr *eh, uint64_t size)
{
	if (size < sizeof *eh) {
		loader_fail("kernel.elf: %lu bytes, shorter than an ELF header", size);
		return false;
	}
	if (eh->e_ident[0] != 0x7f || eh->e_ident[1] != 'E' || eh->e_ident[2] != 'L' || eh->e_ident[3] != 'F') {
		loader_fail("kernel.elf: bad ELF magic %02x %02x %02x %02x", eh->e_ident[0], eh->e_ident[1],
			    eh->e_ident[2], eh->e_ident[3]);
		return false;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT) {
		loader_fail("kernel.elf: not a little-endian ELF-64 v1 file (class %u data %u version %u)",
			    eh->e_ident[EI_CLASS], eh->e_ident[EI_DATA], eh->e_ident[EI_VERSION]);
		return false;
	}
	if (eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
		loader_fail("kernel.elf: machine %u type %u, want x86_64 (%u) executable (%u)", eh->e_machine,
			    eh->e_type, EM_X86_64, ET_EXEC);
		return false;
	}
	if (eh->e_phentsize != sizeof(struct elf64_phdr) || eh->e_phnum == 0) {
		loader_fail("kernel.elf: %u program headers of %u bytes, want at least one of %zu bytes",
			    eh->e_phnum, eh->e_phentsize, sizeof(struct elf64_phdr));
		return false;
	}
	if (eh->e_phoff > size || (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr) > size - eh->e_phoff) {
		loader_fail("kernel.elf: program headers at %lu (+%u) run past the file end %lu", eh->e_phoff,
			    eh->e_phnum, size);
		return false;
	}
	return true;
}

/* Checks one PT_LOAD against the file and the kernel window; sets *load when it is a kernel segment.
 * False after loader_fail. */
static bool check_segment(const struct elf64_phdr *ph, unsigned i, uint64_t size, bool *load)
{
	if (ph->p_filesz > ph->p_memsz || ph->p_offset > size || ph->p_filesz > size - ph->p_offset) {
		loader_fail("kernel.elf: segment %u (offset %lu filesz %lu memsz %lu) outside the %lu-byte file",
			    i, ph->p_offset, ph->p_filesz, ph->p_memsz, size);
		return false;
	}
	if (ph->p_memsz > UINT64_MAX - ph->p_vaddr) {
		loader_fail("kernel.elf: segment %u at 0x%lx + %lu wraps around", i, ph->p_vaddr, ph->p_memsz);
		return false;
	}
	if (ph->p_vaddr < KERNEL_VBASE) {
		if (ph->p_vaddr + ph->p_memsz > KERNEL_VBASE) {
			loader_fail("kernel.elf: segment %u [0x%lx, 0x%lx) straddles KERNEL_VBASE 0x%llx", i,
				    ph->p_vaddr, ph->p_vaddr + ph->p_memsz, KERNEL_VBASE);
			return false;
		}
		*load = false;  /* the low .boot32 segment: only GRUB uses it */
		return true;
	}
	*load = true;
	return true;
}

bool elf_load_kernel(const void *file, uint64_t size, struct kernel_image *out)
{
	const struct elf64_ehdr *eh = file;
	if (!check_header(eh, size))
		return false;
	const struct elf64_phdr *ph = (const void *)((const uint8_t *)file + eh->e_phoff);

	uint64_t end = KERNEL_VBASE;   /* highest p_vaddr + p_memsz of a kernel segment */
	unsigned loaded = 0;
	bool entry_ok = false;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		bool load;
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (!check_segment(&ph[i], i, size, &load))
			return false;
		if (!load)
			continue;
		for (unsigned j = 0; j < i; j++) {
			if (ph[j].p_type != PT_LOAD || ph[j].p_vaddr < KERNEL_VBASE)
				continue;
			if (ph[i].p_vaddr < ph[j].p_vaddr + ph[j].p_memsz &&
			    ph[j].p_vaddr < ph[i].p_vaddr + ph[i].p_memsz) {
				loader_fail("kernel.elf: segments %u and %u overlap at 0x%lx", j, i, ph[i].p_vaddr);
				return false;
			}
		}
		if (ph[i].p_vaddr + ph[i].p_memsz > end)
			end = ph[i].p_vaddr + ph[i].p_memsz;
		if ((ph[i].p_flags & PF_X) && eh->e_entry >= ph[i].p_vaddr &&
		    eh->e_entry < ph[i].p_vaddr + ph[i].p_memsz)
			entry_ok = true;
		loaded++;
	}
	if (!loaded) {
		loader_fail("kernel.elf: no PT_LOAD segment at or above KERNEL_VBASE 0x%llx", KERNEL_VBASE);
		return false;
	}
	if (!entry_ok) {
		loader_fail("kernel.elf: entry 0x%lx is not inside an executable kernel segment", eh->e_entry);
		return false;
	}
	uint64_t span = PAGE_ROUND_UP(end - KERNEL_VBASE);
	if (span > KERNEL_MAX_SIZE) {
		loader_fail("kernel.elf: image spans %lu bytes above KERNEL_VBASE, limit %llu", span,
			    KERNEL_MAX_SIZE);
		return false;
	}

	EFI_PHYSICAL_ADDRESS base = 0;
	EFI_STATUS st = BS->AllocatePages(AllocateAnyPages, EfiLoaderData, span / PAGE_SIZE, &base);
	if (EFI_ERROR(st)) {
		loader_fail("out of memory for the kernel image (%lu pages): %s", span / PAGE_SIZE,
			    efi_status_name(st));
		return false;
	}
	/* SAFETY: boot services identity-map memory, and [base, base + span) was just allocated to us. */
	uint8_t *image = (uint8_t *)(uintptr_t)base;
	bs_zero(image, span);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_vaddr < KERNEL_VBASE)
			continue;
		/* Bounds: checked above, p_vaddr + p_memsz <= end, so the copy stays inside the block. */
		bs_copy(image + (ph[i].p_vaddr - KERNEL_VBASE), (const uint8_t *)file + ph[i].p_offset,
			ph[i].p_filesz);
	}
	out->phys_base = base;
	out->size = span;
	out->entry = eh->e_entry;
	return true;
}
