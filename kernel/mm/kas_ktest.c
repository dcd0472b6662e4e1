/*
 * kas_ktest.c - in-kernel checks of the kernel address space (group `kas`).
 * The kernel's own view; grade/tests/test_higherhalf.py checks the same from
 * outside at the `kas.layout` checkpoint.
 */
#include <stdint.h>

#include "boot_info.h"
#include "checkpoint.h"
#include "ktest.h"
#include "mm/kas.h"
#include "mm/paging.h"
#include "mm/physmem.h"
#include "x86.h"

static vaddr_t V(uint64_t x) { return vaddr_unchecked(x); }

/* translate_flags: flags of va in the kernel's tables, or ~0 when not mapped. */
static pgflags_t translate_flags(uint64_t va)
{
	struct pt_mapping m;
	if (pt_translate(kas_page_table(), V(va), &m) != MM_OK)
		return ~(pgflags_t)0;
	return m.flags;
}

/* Per-section permissions of the kernel image and the guard page. */
KTEST(kas, sections)
{
	if (!kas_active())
		KT_SKIP("kas_init did not switch (no pmm?)");
	const struct kas_layout *l = kas_get_layout();
	const pgflags_t g = PG_GLOBAL;
	KT_ASSERT_EQ(translate_flags(l->text_start), PG_READ | PG_EXEC | g);
	KT_ASSERT_EQ(translate_flags(l->text_end - 1), PG_READ | PG_EXEC | g);
	KT_ASSERT_EQ(translate_flags(l->rodata_start), PG_READ | g);
	KT_ASSERT_EQ(translate_flags(l->rodata_end - 1), PG_READ | g);
	KT_ASSERT_EQ(translate_flags(l->data_start), PG_READ | PG_WRITE | g);
	KT_ASSERT_EQ(translate_flags(l->data_end - 1), PG_READ | PG_WRITE | g);
	KT_ASSERT_EQ(translate_flags(l->stack_guard), ~(pgflags_t)0);
	KT_ASSERT_EQ(translate_flags(l->stack_guard + PAGE_SIZE_4K), PG_READ | PG_WRITE | g);
	struct pt_mapping m;
	KT_ASSERT_OK(pt_translate(kas_page_table(), V(l->data_start), &m));
	KT_ASSERT_EQ(m.pa.pa, l->kernel_phys_base + (l->data_start - KERNEL_VBASE));
	KT_ASSERT((rdmsr(X86_MSR_EFER) & X86_EFER_NXE) != 0);
	KT_ASSERT((read_cr0() & X86_CR0_WP) != 0);
	KT_ASSERT_EQ(read_cr3() & PTE_ADDR_MASK, l->cr3);
}

/* No low-half mapping at all; the direct map covers every run with RW+NX (R+NX for the kernel's ro alias). */
KTEST(kas, direct_map)
{
	if (!kas_active())
		KT_SKIP("kas_init did not switch (no pmm?)");
	const struct kas_layout *l = kas_get_layout();
	struct pt_walk_step st[PT_LEVELS];
	for (uint64_t slot = 0; slot < 256; slot++) {
		unsigned n = pt_walk(kas_page_table(), V(slot << 39), st);
		KT_ASSERT_EQ(n, 1);
		KT_ASSERT_EQ(st[0].entry.raw, 0);
	}
	KT_ASSERT_EQ(translate_flags(l->kernel_phys_base), ~(pgflags_t)0);   /* old identity map */
	uint64_t ro_s = l->kernel_phys_base + (l->text_start - KERNEL_VBASE);
	uint64_t ro_e = l->kernel_phys_base + (l->rodata_end - KERNEL_VBASE);
	for (uint32_t i = 0; i < l->runs && i < 64; i++) {
		uint64_t probes[3] = { l->run_start[i], (l->run_start[i] + l->run_end[i]) / 2 & ~(PAGE_SIZE_4K - 1),
				       l->run_end[i] - PAGE_SIZE_4K };
		for (unsigned j = 0; j < 3; j++) {
			struct pt_mapping m;
			uint64_t pa = probes[j];
			KT_ASSERT_OK(pt_translate(kas_page_table(), V(DIRECT_MAP_BASE + pa + 8), &m));
			KT_ASSERT_EQ(m.pa.pa, pa + 8);
			pgflags_t want = (pa >= ro_s && pa < ro_e) ? PG_READ | PG_GLOBAL : PG_READ | PG_WRITE | PG_GLOBAL;
			KT_ASSERT_EQ(m.flags, want);
		}
	}
	/* the direct map reads the same bytes as the kernel image mapping */
	struct pt_mapping m;
	KT_ASSERT_OK(pt_translate(kas_page_table(), V(l->data_start), &m));
	KT_ASSERT_EQ(*(volatile uint64_t *)phys_to_virt(m.pa), *(volatile uint64_t *)(uintptr_t)l->data_start);
}

/* The grader's view of the switched address space (grade/tests/test_higherhalf.py). */
KTEST(kas, layout)
{
	if (!kas_active())
		KT_SKIP("kas_init did not switch (no pmm?)");
	const struct kas_layout *l = kas_get_layout();
	/* Short keys: checkpoint() keeps 256 bytes of fields. text_end = rodata, rodata_end = data (kas_init
	 * checks both). */
	checkpoint("kas.layout", "cr3=0x%lx text=0x%lx rodata=0x%lx data=0x%lx end=0x%lx guard=0x%lx kphys=0x%lx "
		   "dm=0x%lx", l->cr3, l->text_start, l->rodata_start, l->data_start, l->data_end, l->stack_guard,
		   l->kernel_phys_base, l->direct_map_limit);
	KT_ASSERT_EQ(read_cr3() & PTE_ADDR_MASK, l->cr3);
}

/* Ends the run on purpose (group `fault`: only run when named): a kernel write to
 * .rodata must fault with p=1 w=1 now that CR0.WP is on and rodata is mapped
 * read-only; the fault report then shows the walk down to the read-only leaf. */
static const uint64_t kas_ro_probe = 0x726f6461746121ULL;   /* "rodata!" */
KTEST(fault, rodata_write)
{
	if (!kas_active())
		KT_SKIP("kas_init did not switch (no pmm?)");
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)&kas_ro_probe;
	*p = 0;   /* faults: the trap handler reports and ends the run */
	KT_ASSERT(!"write to .rodata did not fault");
}
