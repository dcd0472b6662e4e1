/* traps.c - the exception report (every exception is fatal until user space exists). */
#include "traps.h"

#include "backtrace.h"
#include "exit.h"
#include "panic.h"
#include "printk.h"
#include "protocol.h"
#include "x86.h"

void (*trap_pf_report_hook)(uint64_t cr2);

static const char *const trap_names[32] = {
	[0] = "divide_error",       [1] = "debug",               [2] = "nmi",
	[3] = "breakpoint",         [4] = "overflow",            [5] = "bound_range",
	[6] = "invalid_opcode",     [7] = "device_not_available", [8] = "double_fault",
	[9] = "coprocessor_overrun", [10] = "invalid_tss",        [11] = "segment_not_present",
	[12] = "stack_fault",       [13] = "general_protection", [14] = "page_fault",
	[15] = "reserved_15",       [16] = "x87_fpu_error",      [17] = "alignment_check",
	[18] = "machine_check",     [19] = "simd_fp_error",      [20] = "virtualization",
	[21] = "control_protection", [22] = "reserved_22",       [23] = "reserved_23",
	[24] = "reserved_24",       [25] = "reserved_25",        [26] = "reserved_26",
	[27] = "reserved_27",       [28] = "hypervisor_injection", [29] = "vmm_communication",
	[30] = "security",          [31] = "reserved_31",
};

/* Name of an exception vector for the fault line. */
const char *trap_name(uint64_t vector)
{
	return vector < 32 ? trap_names[vector] : "unknown";
}

/* Prints the general registers, control registers and the interrupted context as text. */
static void trap_dump_registers(const struct trapframe *tf, uint64_t cr2)
{
	printk("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printk("  rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->rsp);
	printk("  r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx\n", tf->r8, tf->r9, tf->r10, tf->r11);
	printk("  r12=%016lx r13=%016lx r14=%016lx r15=%016lx\n", tf->r12, tf->r13, tf->r14, tf->r15);
	printk("  rip=%016lx cs=%04lx rflags=%016lx ss=%04lx error=%lx\n", tf->rip, tf->cs, tf->rflags,
	       tf->ss, tf->error);
	printk("  cr0=%016lx cr2=%016lx cr3=%016lx cr4=%016lx\n", read_cr0(), cr2, read_cr3(), read_cr4());
}

/* Reports the exception in tf (protocol line, registers, page walk, backtrace) and ends the run. */
static _Noreturn void trap_fatal(struct trapframe *tf, uint64_t cr2)
{
	int depth = fatal_enter();
	if (depth > 0) {
		printk("\nfault vector %lu at rip 0x%lx while reporting a panic or fault\n",
		       (unsigned long)tf->vector, (unsigned long)tf->rip);
		kernel_exit(EXIT_PANIC);
	}

	const char *name = trap_name(tf->vector);
	if (tf->vector == T_PAGE_FAULT) {
		uint64_t e = tf->error;
		proto_line("fault", "vector=%lu name=%s error=0x%lx rip=0x%lx cr2=0x%lx p=%d w=%d u=%d i=%d rsvd=%d",
			   (unsigned long)tf->vector, name, (unsigned long)e, (unsigned long)tf->rip,
			   (unsigned long)cr2, !!(e & PF_ERR_P), !!(e & PF_ERR_W), !!(e & PF_ERR_U),
			   !!(e & PF_ERR_I), !!(e & PF_ERR_RSVD));
		printk("page fault: %s %s of %s address 0x%lx at rip 0x%lx%s\n",
		       (e & PF_ERR_U) ? "user" : "kernel",
		       (e & PF_ERR_I) ? "instruction fetch" : (e & PF_ERR_W) ? "write" : "read",
		       (e & PF_ERR_P) ? "protected" : "not-present", (unsigned long)cr2,
		       (unsigned long)tf->rip, (e & PF_ERR_RSVD) ? " (reserved bit set in a table entry)" : "");
	} else {
		proto_line("fault", "vector=%lu name=%s error=0x%lx rip=0x%lx cr2=0x%lx", (unsigned long)tf->vector,
			   name, (unsigned long)tf->error, (unsigned long)tf->rip, (unsigned long)cr2);
		printk("exception %lu (%s), error code 0x%lx, at rip 0x%lx\n", (unsigned long)tf->vector, name,
		       (unsigned long)tf->error, (unsigned long)tf->rip);
	}
	trap_dump_registers(tf, cr2);
	if (tf->vector == T_PAGE_FAULT && trap_pf_report_hook)
		trap_pf_report_hook(cr2);
	backtrace_report(tf->rip, tf->rbp);
	kernel_exit(EXIT_PANIC);
}

/* Entry from trap_common: every exception is fatal for now. */
void trap_dispatch(struct trapframe *tf)
{
	/* CR2 first: a fault while reporting would overwrite it. */
	uint64_t cr2 = read_cr2();
	trap_fatal(tf, cr2);
}
