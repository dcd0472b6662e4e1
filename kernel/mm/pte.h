/*
 * pte.h - x86-64 page-table entries and the one translation between portable
 * mapping flags and hardware bits.
 *
 * A 48-bit canonical virtual address splits into four 9-bit table indices and
 * a page offset:
 *
 *   63        48 47     39 38     30 29     21 20     12 11          0
 *  +------------+---------+---------+---------+---------+-------------+
 *  | sign ext.  |  PML4   |  PDPT   |   PD    |   PT    |   offset    |
 *  |  of bit 47 | level 3 | level 2 | level 1 | level 0 |             |
 *  +------------+---------+---------+---------+---------+-------------+
 *
 * Level numbers count up from the leaf: level 0 (PT) maps 4 KiB pages, a
 * level 1 (PD) entry with PS maps a 2 MiB page, a level 2 (PDPT) entry with PS
 * maps a 1 GiB page. PT_SHIFT(l) is the lowest address bit a level-l entry
 * decides; PT_INDEX(va, l) is the index into the level-l table.
 *
 * Entries are `pte_t` (a one-member struct) so that an entry cannot be mixed
 * up with an address or a pfn. Everything here is pure arithmetic: it compiles
 * unchanged in the kernel and in host tests.
 */
#ifndef FERROUS_MM_PTE_H
#define FERROUS_MM_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/types.h"

#define PT_LEVELS        4
#define PT_ENTRIES       512
#define PT_ROOT_LEVEL    (PT_LEVELS - 1)
#define PT_SHIFT(level)  (12u + 9u * (unsigned)(level))
#define PT_INDEX(va, level) ((unsigned)(((uint64_t)(va) >> PT_SHIFT(level)) & 0x1ffu))
#define PT_SPAN(level)   (UINT64_C(1) << PT_SHIFT(level))  /* bytes one level-l entry covers */

#define PAGE_SIZE_4K     UINT64_C(0x1000)
#define PAGE_SIZE_2M     UINT64_C(0x200000)
#define PAGE_SIZE_1G     UINT64_C(0x40000000)

/* Page sizes; the value is the level at which such a page is a leaf. */
enum page_size {
	PAGE_4K = 0,
	PAGE_2M = 1,
	PAGE_1G = 2,
};

static inline uint64_t page_size_bytes(enum page_size s) { return PT_SPAN((unsigned)s); }

/* ---- hardware bits (Intel SDM vol. 3A, 4.5, tables 4-14 to 4-20) ---- */
#define PTE_P      (UINT64_C(1) << 0)   /* present */
#define PTE_RW     (UINT64_C(1) << 1)   /* writable */
#define PTE_US     (UINT64_C(1) << 2)   /* user accessible */
#define PTE_PWT    (UINT64_C(1) << 3)   /* write-through */
#define PTE_PCD    (UINT64_C(1) << 4)   /* cache disable */
#define PTE_A      (UINT64_C(1) << 5)   /* accessed (set by the CPU) */
#define PTE_D      (UINT64_C(1) << 6)   /* dirty (set by the CPU; leaves only) */
#define PTE_PS     (UINT64_C(1) << 7)   /* page size: leaf at level 1 or 2 (PAT at level 0) */
#define PTE_G      (UINT64_C(1) << 8)   /* global (leaves only; needs CR4.PGE) */
#define PTE_NX     (UINT64_C(1) << 63)  /* no execute (needs EFER.NXE, else reserved) */
/* Physical address field: bits 12..51 (MAXPHYADDR <= 52). Huge leaves use the
 * same field but bits below the page size (bit 12 = PAT, the rest 0) must be
 * zero in what we write. */
#define PTE_ADDR_MASK  UINT64_C(0x000FFFFFFFFFF000)

typedef struct { uint64_t raw; } pte_t;

static inline bool pte_present(pte_t e) { return (e.raw & PTE_P) != 0; }
/* A present entry at `level` maps a page (rather than pointing at a table). */
static inline bool pte_is_leaf(pte_t e, unsigned level)
{
	return pte_present(e) && (level == 0 || (e.raw & PTE_PS) != 0);
}
static inline paddr_t pte_addr(pte_t e) { return paddr(e.raw & PTE_ADDR_MASK); }

/* ---- portable mapping flags ---- */
#define PG_READ         (1u << 0)
#define PG_WRITE        (1u << 1)
#define PG_EXEC         (1u << 2)
#define PG_USER         (1u << 3)
#define PG_GLOBAL       (1u << 4)
#define PG_NOCACHE      (1u << 5)  /* cache disable (PCD) */
#define PG_WRITETHROUGH (1u << 6)  /* write-through (PWT) */
#define PG_ALL_FLAGS    0x7fu
typedef uint32_t pgflags_t;

/*
 * pte_flags_to_hw: hardware bits for a leaf of size `size` with portable flags
 * `f` into *out (P set, address bits clear). Rejects with MM_ERR_INVALID_FLAGS
 * what x86-64 cannot express or what is never meant: a mapping without READ
 * (x86 has no write-only or execute-only pages), unknown bits, and GLOBAL
 * together with USER (a global user page would survive address-space switches).
 */
static inline mm_err_t pte_flags_to_hw(pgflags_t f, enum page_size size, uint64_t *out)
{
	if ((f & ~PG_ALL_FLAGS) != 0 || (f & PG_READ) == 0)
		return MM_ERR_INVALID_FLAGS;
	if ((f & PG_GLOBAL) && (f & PG_USER))
		return MM_ERR_INVALID_FLAGS;
	uint64_t hw = PTE_P;
	if (f & PG_WRITE)        hw |= PTE_RW;
	if (!(f & PG_EXEC))      hw |= PTE_NX;
	if (f & PG_USER)         hw |= PTE_US;
	if (f & PG_GLOBAL)       hw |= PTE_G;
	if (f & PG_NOCACHE)      hw |= PTE_PCD;
	if (f & PG_WRITETHROUGH) hw |= PTE_PWT;
	if (size != PAGE_4K)     hw |= PTE_PS;
	*out = hw;
	return MM_OK;
}

/* pte_flags_from_hw: the portable flags of a present leaf entry (A, D, PS and
 * the address are not flags and are ignored). */
static inline pgflags_t pte_flags_from_hw(pte_t e)
{
	pgflags_t f = PG_READ;
	if (e.raw & PTE_RW)  f |= PG_WRITE;
	if (!(e.raw & PTE_NX)) f |= PG_EXEC;
	if (e.raw & PTE_US)  f |= PG_USER;
	if (e.raw & PTE_G)   f |= PG_GLOBAL;
	if (e.raw & PTE_PCD) f |= PG_NOCACHE;
	if (e.raw & PTE_PWT) f |= PG_WRITETHROUGH;
	return f;
}

/* pte_flags_str: writes "rwxug" style text ('-' for clear, then " nc"/" wt")
 * of portable flags into buf (n >= 16); returns buf. */
static inline const char *pte_flags_str(pgflags_t f, char *buf, unsigned n)
{
	if (n < 16) { if (n) buf[0] = 0; return buf; }
	unsigned i = 0;
	buf[i++] = (f & PG_READ) ? 'r' : '-';
	buf[i++] = (f & PG_WRITE) ? 'w' : '-';
	buf[i++] = (f & PG_EXEC) ? 'x' : '-';
	buf[i++] = (f & PG_USER) ? 'u' : '-';
	buf[i++] = (f & PG_GLOBAL) ? 'g' : '-';
	if (f & PG_NOCACHE)      { buf[i++] = ' '; buf[i++] = 'n'; buf[i++] = 'c'; }
	if (f & PG_WRITETHROUGH) { buf[i++] = ' '; buf[i++] = 'w'; buf[i++] = 't'; }
	buf[i] = 0;
	return buf;
}

#endif
