/*
 * paging.c - the x86-64 4-level page-table walker (contracts in paging.h).
 *
 * Single-page operations are split in two phases (seL4 style):
 *   decode  - walk the tables, validate everything, allocate what is needed;
 *             may fail, and then has changed nothing (fresh frames are freed);
 *   commit  - write the entries; cannot fail.
 * pt_map_range is all-or-nothing in a different order: it maps piece by piece,
 * rolls the mapped pieces back on a failure, and only then marks user paths;
 * its own comment states that order and why the tables end up unchanged.
 * The one walk loop is pt_find(); tables are reached through the physical
 * memory window (phys_to_virt), so the same code runs in the kernel and in
 * host tests over a malloc'd array. TLB invalidation happens in
 * tlb_invalidate() only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/paging.h"
#include "mm/physmem.h"
#include "mm/frame.h"
#include "mm/types.h"
#include "panic.h"
#include "printk.h"

#ifdef __FERROUS_KERNEL__
#include "x86.h"
#endif

bool paging_have_1g;
uint64_t paging_tlb_invalidations;

/* Intermediate entries: present and writable; permissions live in the leaves. */
#define PTE_TABLE_BITS (PTE_P | PTE_RW)

/* tlb_invalidate: drop the TLB entry (and paging-structure cache entries) for va
 * on this CPU. The one place the walker touches the TLB.
 * Called after every change that removes or narrows a translation (unmap, protect,
 * split), whichever table it was made in: for a table that is not loaded it only
 * costs an invlpg (without PCIDs a CR3 load flushes its non-global entries anyway).
 * Mapping a non-present entry needs none (the CPU caches no non-present entries).
 * Other CPUs: no shootdown yet (Ferrous runs one CPU). */
static void tlb_invalidate(vaddr_t va)
{
	paging_tlb_invalidations++;
#ifdef __FERROUS_KERNEL__
	invlpg(va.va);
#else
	(void)va;
#endif
}

/* table_of: the 512 entries of the table frame at pa, through the physmem window. */
static pte_t *table_of(paddr_t pa)
{
	return (pte_t *)phys_to_virt(pa);
}

/* table_alloc: a zeroed FRAME_PAGETABLE frame into *out. */
static mm_err_t table_alloc(paddr_t *out)
{
	struct frame f;
	mm_err_t err = frame_alloc(&f, FRAME_PAGETABLE);
	if (err != MM_OK)
		return err;
	*out = pfn_to_paddr(f.pfn);
	pte_t *t = table_of(*out);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		t[i].raw = 0;
	return MM_OK;
}

/* table_free: give a table frame (state FRAME_PAGETABLE) back to the allocator. */
static void table_free(paddr_t pa)
{
	struct frame f = { .pfn = pfn_of(pa) };
	frame_free(&f);
}

/* table_empty: no present entry in the table. */
static bool table_empty(const pte_t *t)
{
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (pte_present(t[i]))
			return false;
	return true;
}

/*
 * The walk. pt_find() descends from the root towards va and stops at the first
 * entry that is not present, is a leaf, or is at `stop_level`. It records the
 * table it read at each level in path->table[level] (pointers), so commit code
 * can write entries and unmap can climb back up.
 */
struct walk_path {
	pte_t *table[PT_LEVELS];   /* table[l] = the level-l table on the way to va */
	unsigned level;            /* level of the entry where the walk stopped */
};

/* pt_find: walk to va; returns the entry where the walk stopped (see above). */
static pte_t *pt_find(const struct page_table *pt, uint64_t va, unsigned stop_level, struct walk_path *path)
{
	pte_t *t = table_of(pt->root);
	unsigned level = PT_ROOT_LEVEL;
	for (;;) {
		path->table[level] = t;
		pte_t *e = &t[PT_INDEX(va, level)];
		if (level == stop_level || !pte_present(*e) || pte_is_leaf(*e, level)) {
			path->level = level;
			return e;
		}
		t = table_of(pte_addr(*e));
		level--;
	}
}

/* Allocates a zeroed root table into *pt; MM_ERR_OUT_OF_MEMORY without a frame. */
mm_err_t pt_create(struct page_table *pt)
{
	paddr_t root;
	mm_err_t err = table_alloc(&root);
	if (err != MM_OK)
		return err;
	pt->root = root;
	return MM_OK;
}

/* destroy_level: free the level-`level` table at t_pa and every table below it. */
static void destroy_level(paddr_t t_pa, unsigned level)
{
	const pte_t *t = table_of(t_pa);
	if (level > 0)
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (pte_present(t[i]) && !pte_is_leaf(t[i], level))
				destroy_level(pte_addr(t[i]), level - 1);
	table_free(t_pa);
}

/* Frees every table of pt (never the mapped frames) and poisons the handle. */
void pt_destroy(struct page_table *pt)
{
	destroy_level(pt->root, PT_ROOT_LEVEL);
	pt->root = paddr(PTE_ADDR_MASK);   /* poison: any later use panics in the window check */
}

/* map_check_args: the address/size/flag checks shared by map (decode phase). */
static mm_err_t map_check_args(vaddr_t va, paddr_t pa, enum page_size size, pgflags_t flags, uint64_t *hw)
{
	if ((unsigned)size > (unsigned)PAGE_1G)
		return MM_ERR_INVALID_FLAGS;
	if (size == PAGE_1G && !paging_have_1g)
		return MM_ERR_INVALID_FLAGS;
	mm_err_t err = pte_flags_to_hw(flags, size, hw);
	if (err != MM_OK)
		return err;
	uint64_t span = page_size_bytes(size);
	if (!vaddr_is_canonical(va.va) || (va.va & (span - 1)) != 0)
		return MM_ERR_INVALID_ADDRESS;
	if ((pa.pa & (span - 1)) != 0 || (pa.pa & ~PTE_ADDR_MASK) != 0)
		return MM_ERR_INVALID_ADDRESS;
	return MM_OK;
}

/* map_one: pt_map's body. link_user says whether the intermediate entries on the
 * way get US when flags has PG_USER (pt_map_range defers that to its commit). */
static mm_err_t map_one(struct page_table *pt, vaddr_t va, paddr_t pa, enum page_size size, pgflags_t flags,
			bool link_user)
{
	uint64_t hw;
	mm_err_t err = map_check_args(va, pa, size, flags, &hw);
	if (err != MM_OK)
		return err;

	/* decode: find where the walk stops and what is in the way. */
	const unsigned leaf = (unsigned)size;
	struct walk_path path;
	pte_t *e = pt_find(pt, va.va, leaf, &path);
	if (pte_present(*e))
		return MM_ERR_ALREADY_MAPPED;   /* a leaf (maybe huge) or, at `leaf`, a table */
	unsigned missing = path.level - leaf;   /* tables to create: levels path.level-1 .. leaf */
	paddr_t fresh[PT_LEVELS - 1];
	for (unsigned i = 0; i < missing; i++) {
		err = table_alloc(&fresh[i]);
		if (err != MM_OK) {
			while (i-- > 0)
				table_free(fresh[i]);
			return err;
		}
	}

	/* commit: link the fresh tables, mark the path user if needed, write the leaf. */
	const uint64_t link = PTE_TABLE_BITS | ((link_user && (flags & PG_USER)) ? PTE_US : 0);
	for (unsigned level = PT_ROOT_LEVEL; level > leaf; level--) {
		pte_t *pe = &path.table[level][PT_INDEX(va.va, level)];
		if (level <= path.level) {   /* at or below where the walk stopped: new table */
			paddr_t t = fresh[path.level - level];
			pe->raw = t.pa | link;
			path.table[level - 1] = table_of(t);
		} else {
			pe->raw |= link;       /* existing: already P|RW; adds US for user pages */
		}
	}
	path.table[leaf][PT_INDEX(va.va, leaf)].raw = pa.pa | hw;
	return MM_OK;
}

/* Maps one page of `size` at va to pa; on any error the tables are as they were. */
mm_err_t pt_map(struct page_table *pt, vaddr_t va, paddr_t pa, enum page_size size, pgflags_t flags)
{
	return map_one(pt, va, pa, size, flags, true);
}

/* mark_path_user: set US in every intermediate entry above the leaf at `level`
 * that maps va (the leaf exists: pt_map_range's commit). Cannot fail. */
static void mark_path_user(struct page_table *pt, uint64_t va, unsigned level)
{
	struct walk_path path;
	pt_find(pt, va, level, &path);
	for (unsigned l = PT_ROOT_LEVEL; l > level; l--)
		path.table[l][PT_INDEX(va, l)].raw |= PTE_US;
}

/* find_base_leaf: the leaf entry whose page starts exactly at va (decode for
 * unmap/protect). */
static mm_err_t find_base_leaf(const struct page_table *pt, vaddr_t va, struct walk_path *path, pte_t **out)
{
	if (!vaddr_is_canonical(va.va) || (va.va & (PAGE_SIZE_4K - 1)) != 0)
		return MM_ERR_INVALID_ADDRESS;
	pte_t *e = pt_find(pt, va.va, 0, path);
	if (!pte_present(*e))
		return MM_ERR_NOT_MAPPED;
	if ((va.va & (PT_SPAN(path->level) - 1)) != 0)
		return MM_ERR_INVALID_ADDRESS;   /* inside a huge page, not at its base */
	*out = e;
	return MM_OK;
}

/* mapping_of: describe the leaf e at `level` that contains va. */
static void mapping_of(pte_t e, unsigned level, uint64_t va, struct pt_mapping *m)
{
	uint64_t span = PT_SPAN(level);
	m->size = (enum page_size)level;
	m->base = paddr(e.raw & PTE_ADDR_MASK & ~(span - 1));
	m->pa = paddr(m->base.pa + (va & (span - 1)));
	m->va_base = vaddr_unchecked(va & ~(span - 1));
	m->flags = pte_flags_from_hw(e);
}

/* Removes the mapping based at va, frees emptied tables, invalidates va; *old gets what was there. */
mm_err_t pt_unmap(struct page_table *pt, vaddr_t va, struct pt_mapping *old)
{
	struct walk_path path;
	pte_t *e;
	mm_err_t err = find_base_leaf(pt, va, &path, &e);
	if (err != MM_OK)
		return err;
	if (old)
		mapping_of(*e, path.level, va.va, old);

	/* commit: clear the leaf, then every table that became empty, bottom up. */
	e->raw = 0;
	paddr_t dead[PT_LEVELS - 1];
	unsigned ndead = 0;
	for (unsigned level = path.level; level < PT_ROOT_LEVEL; level++) {
		if (!table_empty(path.table[level]))
			break;
		pte_t *parent = &path.table[level + 1][PT_INDEX(va.va, level + 1)];
		dead[ndead++] = pte_addr(*parent);
		parent->raw = 0;
	}
	tlb_invalidate(va);   /* before the frames can be reused */
	for (unsigned i = 0; i < ndead; i++)
		table_free(dead[i]);
	return MM_OK;
}

/* Describes the mapping containing va into *out; MM_ERR_NOT_MAPPED when none. */
mm_err_t pt_translate(const struct page_table *pt, vaddr_t va, struct pt_mapping *out)
{
	if (!vaddr_is_canonical(va.va))
		return MM_ERR_INVALID_ADDRESS;
	struct walk_path path;
	pte_t *e = pt_find(pt, va.va, 0, &path);
	if (!pte_present(*e))
		return MM_ERR_NOT_MAPPED;
	mapping_of(*e, path.level, va.va, out);
	return MM_OK;
}

/* Replaces the flags of the mapping based at va (address, A and D kept) and invalidates va. */
mm_err_t pt_protect(struct page_table *pt, vaddr_t va, pgflags_t flags)
{
	struct walk_path path;
	pte_t *e;
	mm_err_t err = find_base_leaf(pt, va, &path, &e);
	if (err != MM_OK)
		return err;
	uint64_t hw;
	err = pte_flags_to_hw(flags, (enum page_size)path.level, &hw);
	if (err != MM_OK)
		return err;

	/* commit: keep the address and the CPU-owned A/D bits, replace the rest. */
	if (flags & PG_USER)
		for (unsigned level = PT_ROOT_LEVEL; level > path.level; level--)
			path.table[level][PT_INDEX(va.va, level)].raw |= PTE_US;
	e->raw = (e->raw & (PTE_ADDR_MASK | PTE_A | PTE_D)) | hw;
	tlb_invalidate(va);
	return MM_OK;
}

/* Replaces the huge page containing va by a table of 512 next-smaller pages with the same bits. */
mm_err_t pt_split(struct page_table *pt, vaddr_t va)
{
	if (!vaddr_is_canonical(va.va))
		return MM_ERR_INVALID_ADDRESS;
	struct walk_path path;
	pte_t *e = pt_find(pt, va.va, 0, &path);
	if (!pte_present(*e) || path.level == 0)
		return MM_ERR_NOT_MAPPED;   /* no huge page contains va */
	paddr_t t_pa;
	mm_err_t err = table_alloc(&t_pa);
	if (err != MM_OK)
		return err;

	/* commit: 512 children covering the same range with the same bits. */
	const unsigned child = path.level - 1;
	const uint64_t base = e->raw & PTE_ADDR_MASK;            /* PAT (bit 12) never set by us */
	uint64_t bits = e->raw & ~PTE_ADDR_MASK;
	if (child == 0)
		bits &= ~PTE_PS;                                       /* bit 7 is PAT in a 4 KiB entry */
	pte_t *t = table_of(t_pa);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		t[i].raw = (base + (uint64_t)i * PT_SPAN(child)) | bits;
	e->raw = t_pa.pa | PTE_TABLE_BITS | (bits & PTE_US);
	tlb_invalidate(vaddr_unchecked(va.va & ~(PT_SPAN(path.level) - 1)));
	return MM_OK;
}

/* range_piece: the page size for the next piece of a range mapping at va/pa with
 * len bytes left: the largest <= max that both addresses are aligned to and fits. */
static enum page_size range_piece(uint64_t va, uint64_t pa, uint64_t len, enum page_size max)
{
	for (unsigned s = (unsigned)max; s > 0; s--) {
		uint64_t span = PT_SPAN(s);
		if (s == PAGE_1G && !paging_have_1g)
			continue;
		if (((va | pa) & (span - 1)) == 0 && len >= span)
			return (enum page_size)s;
	}
	return PAGE_4K;
}

/* Maps a range with the largest pages that fit; all or nothing: a failure leaves the tables
 * byte-for-byte as they were.
 * Phase 1 maps every piece with map_one() without touching the US bit of any intermediate
 * entry (new tables are linked P|RW); a failure unmaps the pieces mapped so far, which frees
 * exactly the tables phase 1 created and leaves the entries that existed before unchanged.
 * Phase 2 (PG_USER only, cannot fail) sets US along every piece's path. */
mm_err_t pt_map_range(struct page_table *pt, vaddr_t va, paddr_t pa, uint64_t len, pgflags_t flags,
		      enum page_size max_size, uint64_t counts[3])
{
	if (((va.va | pa.pa | len) & (PAGE_SIZE_4K - 1)) != 0 || (unsigned)max_size > (unsigned)PAGE_1G)
		return MM_ERR_INVALID_ADDRESS;
	uint64_t done = 0;
	mm_err_t err = MM_OK;
	while (done < len) {
		enum page_size s = range_piece(va.va + done, pa.pa + done, len - done, max_size);
		err = map_one(pt, vaddr_unchecked(va.va + done), paddr(pa.pa + done), s, flags, false);
		if (err != MM_OK)
			break;
		done += page_size_bytes(s);
	}
	/* the same pieces again: on success count them (and mark their paths user), on failure unmap them */
	for (uint64_t off = 0; off < done;) {
		enum page_size s = range_piece(va.va + off, pa.pa + off, len - off, max_size);
		if (err == MM_OK) {
			if (flags & PG_USER)
				mark_path_user(pt, va.va + off, (unsigned)s);
			if (counts)
				counts[s]++;
		} else {
			mm_err_t uerr = pt_unmap(pt, vaddr_unchecked(va.va + off), NULL);
			if (uerr != MM_OK)
				panic("pt_map_range: rollback of the piece it mapped at va 0x%lx failed: %s",
				      va.va + off, mm_strerror(uerr));
		}
		off += page_size_bytes(s);
	}
	return err;
}

/* Records each entry read on the way to va; never faults (stops at tables outside the window). */
unsigned pt_walk(const struct page_table *pt, vaddr_t va, struct pt_walk_step steps[PT_LEVELS])
{
	paddr_t t = pt->root;
	unsigned n = 0;
	if (!physmem_in_window(t, PAGE_SIZE_4K))
		return 0;
	for (unsigned level = PT_ROOT_LEVEL;; level--) {
		unsigned idx = PT_INDEX(va.va, level);
		pte_t e = table_of(t)[idx];
		steps[n].level = level;
		steps[n].index = idx;
		steps[n].entry_pa = paddr(t.pa + idx * sizeof(pte_t));
		steps[n].entry = e;
		n++;
		if (level == 0 || !pte_present(e) || pte_is_leaf(e, level))
			return n;
		t = pte_addr(e);
		if (!physmem_in_window(t, PAGE_SIZE_4K))
			return n;
	}
}

/* count_level: tables at and below the level-`level` table t. */
static size_t count_level(const pte_t *t, unsigned level)
{
	size_t n = 1;
	if (level > 0)
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (pte_present(t[i]) && !pte_is_leaf(t[i], level))
				n += count_level(table_of(pte_addr(t[i])), level - 1);
	return n;
}

/* Number of table frames of pt, root included. */
size_t pt_count_tables(const struct page_table *pt)
{
	return count_level(table_of(pt->root), PT_ROOT_LEVEL);
}

/* fmt_why: the pt_check message "pt_check: <what> at level L index 0xIII entry 0x<16 hex>" into why. */
static void fmt_why(char *why, size_t n, const char *what, unsigned level, unsigned idx, uint64_t raw)
{
	snprintk(why, n, "pt_check: %s at level %u index 0x%03x entry 0x%016lx", what, level, idx, raw);
}

/* check_level: the invariant of paging.h for the level-`level` table t. */
static bool check_level(const pte_t *t, unsigned level, bool is_root, char *why, size_t n)
{
	if (!is_root && table_empty(t)) {
		fmt_why(why, n, "empty non-root table", level, 0, 0);
		return false;
	}
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		pte_t e = t[i];
		if (!pte_present(e))
			continue;
		if (level == PT_ROOT_LEVEL && (e.raw & PTE_PS)) {
			fmt_why(why, n, "PS set in a PML4 entry", level, i, e.raw);
			return false;
		}
		if (pte_is_leaf(e, level)) {
			if (level == 2 && !paging_have_1g) {
				fmt_why(why, n, "1 GiB leaf without CPU support", level, i, e.raw);
				return false;
			}
			/* PAT is never used: bit 7 of a 4 KiB leaf, bit 12 of a huge leaf. */
			if ((level == 0 && (e.raw & PTE_PS)) || (level > 0 && (e.raw & PAGE_SIZE_4K))) {
				fmt_why(why, n, "PAT bit set in a leaf", level, i, e.raw);
				return false;
			}
			if (level > 0 && (e.raw & PTE_ADDR_MASK & (PT_SPAN(level) - 1)) != 0) {
				fmt_why(why, n, "misaligned huge leaf", level, i, e.raw);
				return false;
			}
			continue;
		}
		if ((e.raw & PTE_NX) || !(e.raw & PTE_RW)) {
			fmt_why(why, n, "intermediate entry not P|RW or has NX", level, i, e.raw);
			return false;
		}
		if (!check_level(table_of(pte_addr(e)), level - 1, false, why, n))
			return false;
	}
	return true;
}

/* Checks the paging.h invariant over all of pt; false with a message in why on the first break. */
bool pt_check(const struct page_table *pt, char *why, size_t n)
{
	return check_level(table_of(pt->root), PT_ROOT_LEVEL, true, why, n);
}
