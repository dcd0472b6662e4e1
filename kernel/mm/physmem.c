/*
 * physmem.c - the physical memory window and the kernel-image translation.
 *
 * One window (virtual base, physical base, size) serves the kernel's direct
 * map and the host tests' backing array alike; see physmem.h.
 */
#include "mm/physmem.h"
#include "panic.h"
#ifdef __FERROUS_KERNEL__
#include "boot_info.h"
#endif

/* Invariant: physical [phys_base, phys_base + size) is mapped at virt_base, read-write. */
static struct {
	uintptr_t virt_base;
	uint64_t phys_base;
	uint64_t size;
} window;

/* Invariant: kernel-image virtual [virt_base, virt_base + size) lies at physical phys_base. */
static struct {
	uint64_t virt_base;
	uint64_t phys_base;
	uint64_t size;
} kimg;

/* Sets the window: physical [phys_base, phys_base + size) is reachable at base_ptr. */
void physmem_set_window(void *base_ptr, uint64_t phys_base, uint64_t size)
{
	window.virt_base = (uintptr_t)base_ptr;
	window.phys_base = phys_base;
	window.size = size;
}

/* Sets the kernel image range: virtual [virt_base, virt_base + size) lies at phys_base. */
void physmem_set_kimg(uint64_t virt_base, uint64_t phys_base, uint64_t size)
{
	kimg.virt_base = virt_base;
	kimg.phys_base = phys_base;
	kimg.size = size;
}

#ifdef __FERROUS_KERNEL__
/* Kernel: window = the loader's direct map of [0, direct_map_limit); image = bi's base and size. */
void physmem_init(const struct boot_info *bi)
{
	/* SAFETY: boot_info.h guarantees the loader's tables map [0, direct_map_limit) at
	 * DIRECT_MAP_BASE; boot_info_validate() checked the limit before pmm_init runs. */
	physmem_set_window((void *)DIRECT_MAP_BASE, 0, bi->direct_map_limit);
	physmem_set_kimg(KERNEL_VBASE, bi->kernel_phys_base, bi->kernel_phys_size);
}

/* Kernel: the direct map now covers [0, limit) (called by kas_init after the switch). */
void physmem_set_direct_map_limit(uint64_t limit)
{
	/* SAFETY: the caller (kas_init) has mapped [0, limit) at DIRECT_MAP_BASE and loaded CR3. */
	physmem_set_window((void *)DIRECT_MAP_BASE, 0, limit);
}
#endif

/* Physical end of the window (exclusive). */
uint64_t physmem_window_limit(void)
{
	return window.phys_base + window.size;
}

/* Whether [p, p + len) lies inside the window. */
bool physmem_in_window(paddr_t p, uint64_t len)
{
	if (p.pa < window.phys_base)
		return false;
	uint64_t off = p.pa - window.phys_base;
	return off <= window.size && len <= window.size - off;
}

/* Pointer to physical address p through the window; panics (naming the caller's file:line) outside it. */
void *phys_to_virt_at(paddr_t p, const char *file, int line)
{
	if (p.pa < window.phys_base || p.pa - window.phys_base >= window.size)
		panic_at(file, line, "phys_to_virt: pa 0x%lx outside the window [0x%lx, 0x%lx)",
			 p.pa, window.phys_base, window.phys_base + window.size);
	/* SAFETY: p is inside [phys_base, phys_base + size), which the window invariant says is
	 * mapped at virt_base; the offset is < size, so the sum cannot leave the window. */
	return (void *)(window.virt_base + (uintptr_t)(p.pa - window.phys_base));
}

/* Physical address of a pointer into the window; panics outside it. */
paddr_t virt_to_phys_direct_at(const void *v, const char *file, int line)
{
	uintptr_t a = (uintptr_t)v;
	if (a < window.virt_base || a - window.virt_base >= window.size)
		panic_at(file, line, "virt_to_phys_direct: va %p outside the window [0x%lx, 0x%lx)",
			 v, (uint64_t)window.virt_base, (uint64_t)(window.virt_base + window.size));
	return paddr(window.phys_base + (a - window.virt_base));
}

/* Physical address of a kernel-image object; panics outside the image. */
paddr_t kimg_to_phys_at(const void *v, const char *file, int line)
{
	uint64_t a = (uint64_t)(uintptr_t)v;
	if (a < kimg.virt_base || a - kimg.virt_base >= kimg.size)
		panic_at(file, line, "kimg_to_phys: va %p outside the kernel image [0x%lx, 0x%lx)",
			 v, kimg.virt_base, kimg.virt_base + kimg.size);
	return paddr(kimg.phys_base + (a - kimg.virt_base));
}
