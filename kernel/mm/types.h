/*
 * types.h - typed addresses and the memory error enum.
 *
 * paddr_t, vaddr_t and pfn_t are one-member structs, so passing a physical
 * address where a virtual one is expected (or a frame number where an address
 * is expected) is a compile error, not a silent bug. Conversions between them
 * are the small inline functions below; nothing else looks inside.
 *
 *   63        48 47       39 38       30 29       21 20       12 11        0
 *  +-----------+-----------+-----------+-----------+-----------+-----------+
 *  | sign ext. | PML4 idx  | PDPT idx  |  PD idx   |  PT idx   |  offset   |
 *  +-----------+-----------+-----------+-----------+-----------+-----------+
 *  A virtual address is canonical when bits 63..47 are all equal.
 *
 * Errors: recoverable failures (caused by input or by exhaustion) return an
 * mm_err_t; broken kernel invariants panic instead.
 */
#ifndef FERROUS_MM_TYPES_H
#define FERROUS_MM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "panic.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  ((uint64_t)1 << PAGE_SHIFT)
#define PAGE_MASK  (PAGE_SIZE - 1)

typedef struct { uint64_t pa; } paddr_t;   /* physical address */
typedef struct { uint64_t va; } vaddr_t;   /* canonical virtual address */
typedef struct { uint64_t n; } pfn_t;      /* physical frame number = pa >> PAGE_SHIFT */

/* The seed's MemoryError. MM_OK is 0 so `if (err)` reads naturally. */
typedef enum {
	MM_OK = 0,
	MM_ERR_OUT_OF_MEMORY,
	MM_ERR_INVALID_ADDRESS,
	MM_ERR_ALREADY_MAPPED,
	MM_ERR_NOT_MAPPED,
	MM_ERR_INVALID_FLAGS,
	MM_ERR_NUMA_NODE_NOT_FOUND,
	MM_ERR_COUNT
} mm_err_t;

/* Name of an error ("OutOfMemory", ...); "UnknownError" for values outside the enum. */
const char *mm_strerror(mm_err_t err);

/* ---- alignment helpers (align must be a power of two) ---- */

/* Whether x is a multiple of align. */
static inline bool is_aligned(uint64_t x, uint64_t align) { return (x & (align - 1)) == 0; }
/* x rounded down to a multiple of align. */
static inline uint64_t align_down(uint64_t x, uint64_t align) { return x & ~(align - 1); }
/* x rounded up to a multiple of align; the caller ensures no overflow (x <= UINT64_MAX - align + 1). */
static inline uint64_t align_up(uint64_t x, uint64_t align) { return (x + align - 1) & ~(align - 1); }
/* Whether x is a nonzero power of two. */
static inline bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* ---- physical addresses and frame numbers ---- */

/* Any 64-bit value is a representable physical address (range checks happen at use). */
static inline paddr_t paddr(uint64_t x) { return (paddr_t){ .pa = x }; }
/* A frame number from a raw value. */
static inline pfn_t pfn(uint64_t n) { return (pfn_t){ .n = n }; }
/* The frame containing p (rounds down). */
static inline pfn_t pfn_of(paddr_t p) { return (pfn_t){ .n = p.pa >> PAGE_SHIFT }; }
/* The first byte of frame f. */
static inline paddr_t pfn_to_paddr(pfn_t f) { return (paddr_t){ .pa = f.n << PAGE_SHIFT }; }
/* p + off (no overflow check: physical addresses are < 2^52). */
static inline paddr_t paddr_add(paddr_t p, uint64_t off) { return (paddr_t){ .pa = p.pa + off }; }
/* Whether p is on a page boundary. */
static inline bool paddr_page_aligned(paddr_t p) { return is_aligned(p.pa, PAGE_SIZE); }

/* Panics unless frames [pfn, pfn + count) lie inside [base, base + nframes), the span of `span` (e.g. "the
 * bitmap"); overflow-safe for any inputs. The message names fn, the range and the span. */
static inline void pfn_range_check(const char *fn, const char *span, uint64_t base, uint64_t nframes, uint64_t pfn,
				   uint64_t count)
{
	if (pfn < base || count > nframes || pfn - base > nframes - count)
		panic("%s: pfns [0x%lx, +%lu) outside %s [0x%lx, +%lu)", fn, pfn, count, span, base, nframes);
}

/* ---- virtual addresses ---- */

/* Whether raw is canonical for 48-bit virtual addresses (bits 63..47 all equal). */
static inline bool vaddr_is_canonical(uint64_t raw)
{
	uint64_t top = raw >> 47;
	return top == 0 || top == 0x1ffff;
}

/* Builds a vaddr_t from an untrusted value: MM_ERR_INVALID_ADDRESS unless canonical. */
static inline mm_err_t vaddr_checked(uint64_t raw, vaddr_t *out)
{
	if (!vaddr_is_canonical(raw))
		return MM_ERR_INVALID_ADDRESS;
	*out = (vaddr_t){ .va = raw };
	return MM_OK;
}

/* Builds a vaddr_t from a kernel constant known to be canonical (no check; use vaddr_checked for input). */
static inline vaddr_t vaddr_unchecked(uint64_t raw) { return (vaddr_t){ .va = raw }; }

#endif
