/*
 * pagefault.c - the page-fault walk report (kas_pf_report, the trap handler's
 * trap_pf_report_hook). The trap handler has already printed the `fault` line
 * with the decoded error code; this prints where the walk of cr2 stopped, each
 * level's entry and flags, so a student sees which level is missing or which
 * permission bit refused the access. It never faults itself: pt_walk stops at
 * tables outside the physmem window.
 */
#include <stdbool.h>
#include <stdint.h>

#include "mm/kas.h"
#include "mm/paging.h"
#include "mm/pte.h"
#include "printk.h"
#include "protocol.h"
#include "x86.h"

static const char *const level_name[PT_LEVELS] = { "PT", "PD", "PDPT", "PML4" };

/* hw_flags_str: the hardware bits of entry e at `level` as text ("P RW US ... NX"). */
static const char *hw_flags_str(pte_t e, unsigned level, char *buf, size_t n)
{
	static const struct { uint64_t bit; const char *name; } bits[] = {
		{ PTE_P, "P" }, { PTE_RW, "RW" }, { PTE_US, "US" }, { PTE_PWT, "PWT" }, { PTE_PCD, "PCD" },
		{ PTE_A, "A" }, { PTE_D, "D" }, { PTE_PS, "PS" }, { PTE_G, "G" }, { PTE_NX, "NX" },
	};
	size_t used = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++) {
		if (!(e.raw & bits[i].bit))
			continue;
		const char *name = bits[i].name;
		if (bits[i].bit == PTE_PS && level == 0)
			name = "PAT";
		int w = snprintk(buf + used, n - used, "%s%s", used ? " " : "", name);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	if (!(e.raw & PTE_P))
		snprintk(buf, n, "not present");
	return buf;
}

/* Prints the walk of cr2 in the current CR3 (human lines + `@@ pf_walk`); the #PF hook. */
void kas_pf_report(uint64_t cr2)
{
	uint64_t cr3 = read_cr3();
	struct page_table cur = { .root = paddr(cr3 & PTE_ADDR_MASK) };
	struct pt_walk_step st[PT_LEVELS];
	char fl[64];

	printk("page-fault walk of 0x%lx in CR3 0x%lx:\n", cr2, cr3);
	if (!vaddr_is_canonical(cr2)) {
		printk("  0x%lx is not canonical: no walk (the CPU raised #GP/#PF before the tables)\n", cr2);
		proto_line("pf_walk", "va=0x%lx cr3=0x%lx levels=0 stop=noncanonical", cr2, cr3);
		return;
	}
	unsigned n = pt_walk(&cur, vaddr_unchecked(cr2), st);
	const char *stop = "window";
	bool w = true, u = true, x = true;   /* effective permissions: AND over the levels */
	for (unsigned i = 0; i < n; i++) {
		unsigned lv = st[i].level;
		w = w && (st[i].entry.raw & PTE_RW);
		u = u && (st[i].entry.raw & PTE_US);
		x = x && !(st[i].entry.raw & PTE_NX);
		printk("  %-4s[%3u] @pa 0x%lx = 0x%016lx  %s", level_name[lv], st[i].index, st[i].entry_pa.pa,
		       st[i].entry.raw, hw_flags_str(st[i].entry, lv, fl, sizeof fl));
		if (!pte_present(st[i].entry)) {
			printk("  <- walk stops: not present\n");
			stop = "not_present";
		} else if (pte_is_leaf(st[i].entry, lv)) {
			uint64_t span = PT_SPAN(lv);
			printk("  -> %s page frame 0x%lx + offset 0x%lx\n", lv == 0 ? "4 KiB" : lv == 1 ? "2 MiB" : "1 GiB",
			       st[i].entry.raw & PTE_ADDR_MASK & ~(span - 1), cr2 & (span - 1));
			printk("  effective: %s%s%s (writable only if RW at every level, user only if US at every "
			       "level, executable only if NX at none; CR0.WP makes RW bind the kernel too)\n",
			       w ? "writable" : "read-only", u ? " user" : " kernel-only", x ? " executable" : " no-exec");
			stop = "leaf";
		} else {
			printk("  -> table 0x%lx\n", st[i].entry.raw & PTE_ADDR_MASK);
		}
	}
	if (stop[0] == 'w')
		printk("  walk stops: next table outside the physical-memory window\n");
	proto_line("pf_walk", "va=0x%lx cr3=0x%lx levels=%u l3=0x%lx l2=0x%lx l1=0x%lx l0=0x%lx stop=%s", cr2, cr3, n,
		   n > 0 ? st[0].entry.raw : 0, n > 1 ? st[1].entry.raw : 0, n > 2 ? st[2].entry.raw : 0,
		   n > 3 ? st[3].entry.raw : 0, stop);
}
