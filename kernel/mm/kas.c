/*
 * kas.c - build the kernel address space and switch to it (layout in kas.h).
 *
 * Order matters and is the whole point of this file:
 *   1. copy from boot_info what is needed (the memory map runs, the kernel's
 *      physical base) while the loader's tables still map it;
 *   2. build fresh tables with the walker: direct map, kernel image per section;
 *   3. check the new tables map what runs next (this code, the stack);
 *   4. EFER.NXE on (NX is a reserved bit without it), CR0.WP on, load CR3,
 *      CR4.PGE on: from here the loader's identity map is gone;
 *   5. make the physmem window the new direct map's runs, give loader memory back.
 */
#include <stdbool.h>
#include <stdint.h>

#include "boot_info.h"
#include "cmdline.h"
#include "mm/frame.h"
#include "mm/kas.h"
#include "mm/paging.h"
#include "mm/physmem.h"
#include "mm/pmm.h"
#include "mm/memmap.h"
#include "panic.h"
#include "printk.h"
#include "protocol.h"
#include "traps.h"
#include "x86.h"

/* Linker symbols (kernel/kernel.ld) and the boot stack (kernel/entry.S). */
extern char _text_start[], _text_end[], _rodata_start[], _rodata_end[], _data_start[], _bss_end[];
extern char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];
extern uint64_t kernel_entry_tsc;   /* kernel/entry.S: TSC at kernel_entry */

CMDLINE_KEY_U64(kas_timing, "1: print kas_init's TSC ticks in the `kas` line (off by default: keeps "
		"the transcript deterministic)");

static struct page_table kas_pt;
static struct kas_layout layout;
static bool have_nx, have_pge;
/* Every run of the direct map in address order (RAM read-write, firmware-reserved read-only); handed to
 * physmem after the switch. layout.run_* keeps the read-write ones. */
static struct physmem_run dm_runs[PHYSMEM_MAX_RUNS];
static unsigned dm_nruns;

#define FOUR_GIB UINT64_C(0x100000000)

/* Whether kas_init switched CR3 to the kernel's tables. */
bool kas_active(void) { return layout.cr3 != 0; }
/* The kernel's page table and what kas_init built (valid once kas_active()). */
struct page_table *kas_page_table(void) { return &kas_pt; }
const struct kas_layout *kas_get_layout(void) { return &layout; }

/* Reads CPUID: 1 GiB pages, NX (required: panics without), PGE. */
void paging_init_cpu(void)
{
	uint32_t a, b, c, d;
	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	uint32_t max_ext = a;
	if (max_ext >= 0x80000001u) {
		cpuid(0x80000001u, 0, &a, &b, &c, &d);
		paging_have_1g = (d >> 26) & 1;   /* Page1GB */
		have_nx = (d >> 20) & 1;          /* NX */
	}
	cpuid(1, 0, &a, &b, &c, &d);
	have_pge = (d >> 13) & 1;
	if (!have_nx)
		panic("paging_init_cpu: CPUID 0x80000001 EDX.NX = 0 (max ext leaf 0x%x): W^X needs NX", max_ext);
}

/* kas_table_count: table frames the kernel address space owns (pmm leak accounting). */
static uint64_t kas_table_count(void)
{
	return pt_count_tables(&kas_pt);
}

/* dm_access: how the direct map covers a descriptor of this type, by memmap_classify: RAM (usable, loader,
 * firmware) read-write; firmware-reserved ranges (type 0, OEM) read-only and only below 4 GiB (BIOS ROM and
 * data areas, SeaBIOS' ACPI tables live there; above 4 GiB firmware reports address holes with it, e.g.
 * QEMU's 12 GiB HyperTransport window at 0xfd00000000); MMIO and PAL never. */
enum dm_access { DM_NONE, DM_RW, DM_RO };
static enum dm_access dm_access(uint32_t type)
{
	enum memmap_kind k = memmap_classify(type);
	if (memmap_kind_is_ram(k))
		return DM_RW;
	return k == MEMMAP_RESERVED ? DM_RO : DM_NONE;
}

/* add_run: append physical [s, e) to dm_runs, merging with the last run when it touches it with the same
 * access; a part that overlaps the last run (the first MiB) is covered by it already. */
static void add_run(uint64_t s, uint64_t e, bool ro)
{
	if (dm_nruns > 0) {
		struct physmem_run *last = &dm_runs[dm_nruns - 1];
		if (s < last->start)
			panic("kas_init: direct-map run [0x%lx, 0x%lx) below the previous one at 0x%lx (map not sorted)",
			      s, e, last->start);
		if (s <= last->end && last->read_only == ro) {
			if (e > last->end)
				last->end = e;
			return;
		}
		if (s < last->end)
			s = last->end;
	}
	if (s >= e)
		return;
	if (dm_nruns == PHYSMEM_MAX_RUNS)
		panic("kas_init: more than %u direct-map runs (next [0x%lx, 0x%lx))", PHYSMEM_MAX_RUNS, s, e);
	dm_runs[dm_nruns++] = (struct physmem_run){ .start = s, .end = e, .read_only = ro };
}

/* collect_runs: the physical ranges of the direct map, from the memory map (sorted and non-overlapping:
 * boot_info_validate checked it) plus the first MiB (read-write: BIOS data, trampolines); the read-write
 * runs are copied to layout.run_* for tests and graders. */
static void collect_runs(const struct boot_info *bi)
{
	add_run(0, MEMMAP_LOW_END, false);
	const uint8_t *p = phys_to_virt(paddr(bi->mmap_phys));
	for (uint64_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_desc *d = (const struct boot_mem_desc *)(const void *)(p + i * bi->mmap_desc_size);
		uint64_t s = d->phys_start, e = d->phys_start + d->num_pages * PAGE_SIZE_4K;
		switch (dm_access(d->type)) {
		case DM_RW:
			add_run(s, e, false);
			break;
		case DM_RO:
			if (s < FOUR_GIB)
				add_run(s, e < FOUR_GIB ? e : FOUR_GIB, true);
			break;
		case DM_NONE:
			break;
		}
	}
	for (unsigned i = 0; i < dm_nruns; i++) {
		if (dm_runs[i].read_only) {
			layout.ro_runs++;
			continue;
		}
		if (layout.runs == 64)
			panic("kas_init: more than 64 read-write direct-map runs (next [0x%lx, 0x%lx))", dm_runs[i].start,
			      dm_runs[i].end);
		layout.run_start[layout.runs] = dm_runs[i].start;
		layout.run_end[layout.runs] = dm_runs[i].end;
		layout.runs++;
	}
	layout.direct_map_limit = dm_runs[dm_nruns - 1].end;
}

/* map_or_panic: pt_map_range for the kernel's own tables; any error is fatal here. */
static void map_or_panic(const char *what, uint64_t va, uint64_t pa, uint64_t len, pgflags_t flags,
			 enum page_size max, uint64_t *counts)
{
	if (len == 0)
		return;
	mm_err_t err = pt_map_range(&kas_pt, vaddr_unchecked(va), paddr(pa), len, flags, max, counts);
	if (err != MM_OK)
		panic("kas_init: mapping %s va 0x%lx pa 0x%lx len 0x%lx: %s", what, va, pa, len, mm_strerror(err));
}

/* map_direct: the direct map of every run: RAM RW+NX, except the physical range of the kernel's text and
 * rodata, mapped read-only there too so no alias of them is writable; firmware-reserved runs R+NX. */
static void map_direct(void)
{
	const pgflags_t rw = PG_READ | PG_WRITE | PG_GLOBAL;
	const pgflags_t ro = PG_READ | PG_GLOBAL;
	uint64_t ro_s = layout.kernel_phys_base + (layout.text_start - KERNEL_VBASE);
	uint64_t ro_e = layout.kernel_phys_base + (layout.rodata_end - KERNEL_VBASE);
	for (unsigned i = 0; i < dm_nruns; i++) {
		uint64_t s = dm_runs[i].start, e = dm_runs[i].end;
		if (dm_runs[i].read_only) {
			map_or_panic("direct map (firmware, read-only)", DIRECT_MAP_BASE + s, s, e - s, ro, PAGE_1G,
				     layout.dm_pages);
			continue;
		}
		/* three pieces: below, inside, above the read-only kernel range */
		uint64_t a, b = e < ro_s ? e : ro_s;
		if (s < ro_s)
			map_or_panic("direct map", DIRECT_MAP_BASE + s, s, b - s, rw, PAGE_1G, layout.dm_pages);
		a = s > ro_s ? s : ro_s;
		b = e < ro_e ? e : ro_e;
		if (a < b)
			map_or_panic("direct map (kernel ro alias)", DIRECT_MAP_BASE + a, a, b - a, ro, PAGE_1G,
				     layout.dm_pages);
		a = s > ro_e ? s : ro_e;
		if (a < e)
			map_or_panic("direct map", DIRECT_MAP_BASE + a, a, e - a, rw, PAGE_1G, layout.dm_pages);
	}
}

/* map_kernel_image: text R+X, rodata R+NX, data+bss RW+NX, 4 KiB pages, minus the stack guard. */
static void map_kernel_image(void)
{
	const uint64_t pb = layout.kernel_phys_base;
#define KPA(va) (pb + ((va) - KERNEL_VBASE))
	map_or_panic("kernel text", layout.text_start, KPA(layout.text_start), layout.text_end - layout.text_start,
		     PG_READ | PG_EXEC | PG_GLOBAL, PAGE_4K, NULL);
	map_or_panic("kernel rodata", layout.rodata_start, KPA(layout.rodata_start),
		     layout.rodata_end - layout.rodata_start, PG_READ | PG_GLOBAL, PAGE_4K, NULL);
	const pgflags_t rw = PG_READ | PG_WRITE | PG_GLOBAL;
	map_or_panic("kernel data", layout.data_start, KPA(layout.data_start), layout.stack_guard - layout.data_start,
		     rw, PAGE_4K, NULL);
	uint64_t after = layout.stack_guard + PAGE_SIZE_4K;
	map_or_panic("kernel data", after, KPA(after), layout.data_end - after, rw, PAGE_4K, NULL);
#undef KPA
}

/* expect_mapped: panic unless va translates to pa with flags in the new tables. */
static void expect_mapped(const char *what, uint64_t va, uint64_t pa, pgflags_t flags)
{
	struct pt_mapping m;
	mm_err_t err = pt_translate(&kas_pt, vaddr_unchecked(va), &m);
	if (err != MM_OK || m.pa.pa != pa || m.flags != flags)
		panic("kas_init: before the switch, %s va 0x%lx -> %s pa 0x%lx flags 0x%x (want pa 0x%lx flags 0x%x)",
		      what, va, mm_strerror(err), m.pa.pa, m.flags, pa, flags);
}

/* Builds the kernel address space, switches CR3 to it, reclaims loader memory (see kas.h). */
void kas_init(const struct boot_info *bi)
{
	uint64_t tsc0 = rdtsc();
	if (kas_active())
		panic("kas_init: called again (CR3 already 0x%lx)", layout.cr3);
	paging_init_cpu();

	/* 1. everything needed from boot_info, while the loader's tables still map it */
	layout.kernel_phys_base = bi->kernel_phys_base;
	layout.text_start = (uint64_t)(uintptr_t)_text_start;
	layout.text_end = (uint64_t)(uintptr_t)_text_end;
	layout.rodata_start = (uint64_t)(uintptr_t)_rodata_start;
	layout.rodata_end = (uint64_t)(uintptr_t)_rodata_end;
	layout.data_start = (uint64_t)(uintptr_t)_data_start;
	layout.data_end = (uint64_t)(uintptr_t)_bss_end;
	layout.stack_guard = (uint64_t)(uintptr_t)boot_stack_guard;
	kassert((layout.stack_guard & (PAGE_SIZE_4K - 1)) == 0);
	/* kernel.ld: each section page aligned, one after the other (the grader relies on it too) */
	kassert(layout.text_end == layout.rodata_start && layout.rodata_end == layout.data_start);
	kassert(layout.stack_guard >= layout.data_start && layout.stack_guard < layout.data_end);
	collect_runs(bi);

	/* 2. the new tables */
	mm_err_t err = pt_create(&kas_pt);
	if (err != MM_OK)
		panic("kas_init: no frame for the PML4: %s", mm_strerror(err));
	map_direct();
	map_kernel_image();

	/* 3. what runs right after the switch must be there */
	uint64_t here = (uint64_t)(uintptr_t)&kas_init;
	expect_mapped("kas_init", here, layout.kernel_phys_base + (here - KERNEL_VBASE), PG_READ | PG_EXEC | PG_GLOBAL);
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	expect_mapped("stack", sp & ~(PAGE_SIZE_4K - 1), layout.kernel_phys_base + ((sp & ~(PAGE_SIZE_4K - 1)) - KERNEL_VBASE),
		      PG_READ | PG_WRITE | PG_GLOBAL);
	if (sp < layout.stack_guard + PAGE_SIZE_4K || sp >= (uint64_t)(uintptr_t)boot_stack_top)
		panic("kas_init: running on sp 0x%lx outside the boot stack [0x%lx, 0x%lx)", sp,
		      layout.stack_guard + PAGE_SIZE_4K, (uint64_t)(uintptr_t)boot_stack_top);
	char why[160];
	if (!pt_check(&kas_pt, why, sizeof why))
		panic("kas_init: new tables broken: %s", why);

	/* 4. the switch */
	/* SAFETY: EFER exists in long mode; only NXE is added (LME/LMA kept), and paging_init_cpu
	 * checked CPUID.NX, so the bit is writable. The loader's tables set no NX bit, so nothing
	 * that is mapped now changes meaning. */
	wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_NXE);
	/* SAFETY: only WP is added (PG/PE kept); from here the kernel obeys R/W too. Nothing writes
	 * to a read-only page before the switch: the loader's tables map everything writable. */
	write_cr0(read_cr0() | X86_CR0_WP);
	layout.tables_at_switch = pt_count_tables(&kas_pt);
	layout.cr3 = kas_pt.root.pa;
	/* SAFETY: kas_pt maps this code (checked above: kas_init R+X), the boot stack we run on
	 * (checked: RW), all kernel data and the direct map of all RAM the pmm and the heap use;
	 * EFER.NXE is on, so the NX bits in it are not reserved bits. */
	write_cr3(kas_pt.root.pa);
	if (have_pge) {
		/* SAFETY: PAE stays set; PGE is in CPUID.1:EDX[13]. Clearing then setting PGE flushes the
		 * whole TLB, global entries included, so no translation of the loader's tables survives. */
		write_cr4(read_cr4() & ~X86_CR4_PGE);
		write_cr4(read_cr4() | X86_CR4_PGE);
	}
	layout.tsc_switch = rdtsc();

	/* 5. the window becomes the new direct map's runs; loader memory (boot_info included) is freed */
	physmem_set_direct_map(dm_runs, dm_nruns);
	pmm_reclaim_loader();
	pmm_register_owner("kas", kas_table_count);
	trap_pf_report_hook = kas_pf_report;

	uint64_t timing = 0;
	cmdline_get_u64("kas_timing", &timing);
	char tsc_field[64] = "";
	if (timing)
		snprintk(tsc_field, sizeof tsc_field, " tsc_build=%lu tsc_entry=%lu", layout.tsc_switch - tsc0,
			 layout.tsc_switch - kernel_entry_tsc);
	proto_line("kas", "cr3=0x%lx direct_map_limit=0x%lx runs=%u ro_runs=%u pages_4k=%lu pages_2m=%lu "
		   "pages_1g=%lu tables=%lu have_1g=%u guard=0x%lx%s",
		   layout.cr3, layout.direct_map_limit, layout.runs, layout.ro_runs, layout.dm_pages[PAGE_4K],
		   layout.dm_pages[PAGE_2M], layout.dm_pages[PAGE_1G], layout.tables_at_switch,
		   (unsigned)paging_have_1g, layout.stack_guard, tsc_field);
}
