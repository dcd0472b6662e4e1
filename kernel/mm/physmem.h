/*
 * physmem.h - the physical memory access window.
 *
 * All code that touches physical memory by address goes through
 * phys_to_virt(), which maps a physical address into a window:
 *
 *   kernel:     the direct map. At boot the window is [0, boot_info.direct_map_limit)
 *               at DIRECT_MAP_BASE (the loader's tables map only that much);
 *               after the kernel address space is built (kas_init) it is all RAM.
 *   host tests: a malloc'd array standing for physical [phys_base, phys_base + size).
 *
 * Both are the same code: a window is (virtual base, physical base, size).
 * The macros pass the caller's file and line, and an address outside the
 * window panics with them ("phys_to_virt: pa 0x... outside window [..)").
 */
#ifndef FERROUS_MM_PHYSMEM_H
#define FERROUS_MM_PHYSMEM_H

#include "mm/types.h"

struct boot_info;

/* Sets the window: physical [phys_base, phys_base + size) is reachable at base_ptr. */
void physmem_set_window(void *base_ptr, uint64_t phys_base, uint64_t size);

/* Kernel only: window = direct map of [0, bi->direct_map_limit), kernel image = bi's base and size. */
void physmem_init(const struct boot_info *bi);

/* Kernel only: after the switch, the direct map covers [0, limit); the window grows to it. */
void physmem_set_direct_map_limit(uint64_t limit);

/* Sets the kernel image range: virtual [virt_base, virt_base + size) lies at phys_base. */
void physmem_set_kimg(uint64_t virt_base, uint64_t phys_base, uint64_t size);

/* Physical end of the window (exclusive): phys_to_virt accepts [phys_base, limit). */
uint64_t physmem_window_limit(void);

/* Whether [p, p + len) lies inside the window (len may be 0). */
bool physmem_in_window(paddr_t p, uint64_t len);

/* Implementations behind the macros: panic naming file:line when out of range. */
void *phys_to_virt_at(paddr_t p, const char *file, int line);
paddr_t virt_to_phys_direct_at(const void *v, const char *file, int line);
paddr_t kimg_to_phys_at(const void *v, const char *file, int line);

/* Pointer to physical address p through the window; panics outside it. */
#define phys_to_virt(p) phys_to_virt_at((p), __FILE__, __LINE__)
/* Physical address of a pointer into the window; panics outside it. */
#define virt_to_phys_direct(v) virt_to_phys_direct_at((v), __FILE__, __LINE__)
/* Physical address of a kernel-image object (text, data, bss); panics outside the image. */
#define kimg_to_phys(v) kimg_to_phys_at((v), __FILE__, __LINE__)

#endif
