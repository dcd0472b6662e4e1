/*
 * physmem.h - the physical memory access window.
 *
 * All code that touches physical memory by address goes through
 * phys_to_virt(), which maps a physical address into a window:
 *
 *   kernel:     the direct map. At boot the window is [0, boot_info.direct_map_limit)
 *               at DIRECT_MAP_BASE (the loader's tables map only that much); after the
 *               kernel address space is built (kas_init) it is exactly the runs the new
 *               direct map covers (RAM read-write, firmware-reserved ranges read-only):
 *               holes between them are outside the window.
 *   host tests: a malloc'd array standing for physical [phys_base, phys_base + size),
 *               optionally with holes (physmem_set_runs).
 *
 * Both are the same code: a window is (virtual base, physical base, sorted list of
 * physical runs). The macros pass the caller's file and line, and an address outside
 * every run panics with them ("phys_to_virt: pa 0x... outside the window ...").
 */
#ifndef FERROUS_MM_PHYSMEM_H
#define FERROUS_MM_PHYSMEM_H

#include "mm/types.h"

struct boot_info;

/* Most runs a window can have (kas_init's direct map: RAM runs and read-only firmware runs). */
#define PHYSMEM_MAX_RUNS 128

/* One physically contiguous piece of the window: physical [start, end), mapped readable. */
struct physmem_run {
	uint64_t start, end;
	bool read_only;   /* firmware-reserved range: writes through the window fault */
};

/* Sets the window: physical [phys_base, phys_base + size) is reachable at base_ptr (one run). */
void physmem_set_window(void *base_ptr, uint64_t phys_base, uint64_t size);

/* Sets the window to n runs (sorted by start, disjoint, non-empty, n <= PHYSMEM_MAX_RUNS): physical pa in
 * a run is reachable at base_ptr + (pa - phys_base); panics on a malformed list. */
void physmem_set_runs(void *base_ptr, uint64_t phys_base, const struct physmem_run *runs, unsigned n);

/* Kernel only: window = direct map of [0, bi->direct_map_limit), kernel image = bi's base and size. */
void physmem_init(const struct boot_info *bi);

/* Kernel only: after the switch the direct map covers exactly these runs at DIRECT_MAP_BASE (kas_init). */
void physmem_set_direct_map(const struct physmem_run *runs, unsigned n);

/* Sets the kernel image range: virtual [virt_base, virt_base + size) lies at phys_base. */
void physmem_set_kimg(uint64_t virt_base, uint64_t phys_base, uint64_t size);

/* Physical end (exclusive) of the highest run: nothing at or above it is in the window. */
uint64_t physmem_window_limit(void);

/* Whether all of [p, p + len) lies inside the window's runs (len may be 0: p inside a run or at the end of
 * one). */
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
