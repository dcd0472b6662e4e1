/*
 * main.c - kmain: the boot sequence of the kernel core.
 *
 *   serial_init → gdt_init/idt_init → boot_info_validate (boot line)
 *   → boot_info_report (memmap, rsdp, kernel lines; quiet= already applied)
 *   → cmdline_parse → pmm_init → kheap_init → kas_init
 *   → ktest_run_selected → pmm_report (frames line) → tests line → end.
 *
 * The memory-management entry points come from kernel/mm and are called
 * directly: a kernel built without them does not link.
 */
#include <stdint.h>

#include "boot_info_check.h"
#include "checkpoint.h"
#include "cmdline.h"
#include "exit.h"
#include "gdt.h"
#include "ktest.h"
#include "panic.h"
#include "printk.h"
#include "serial.h"
#include "traps.h"

#include "mm/kas.h"
#include "mm/kheap.h"
#include "mm/pmm.h"

void kmain(uint64_t boot_info_phys);

/* The kernel proper; entered from kernel/entry.S on the boot stack with the boot_info's physical address. */
void kmain(uint64_t boot_info_phys)
{
	serial_init();
	/* Exceptions first: a loader that passes a bad boot_info pointer gets a fault report, not a
	 * silent triple fault. */
	gdt_init();
	idt_init();
	const struct boot_info *bi = boot_info_validate(boot_info_phys);
	cmdline_apply_quiet_early(boot_cmdline());
	boot_info_report();
	cmdline_parse(boot_cmdline());
	checkpoint_init();

	pmm_init(bi);
	kheap_init();
	kas_init(bi);

	struct ktest_totals totals = ktest_run_selected();

	pmm_report();
	ktest_report_totals(&totals);
	bool ok = totals.failed == 0 && !totals.selection_error && cmdline_bad_count() == 0;
	kernel_exit(ok ? EXIT_OK : EXIT_FAIL);
}
