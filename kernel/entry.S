/*
 * entry.S - the one 64-bit entry of the kernel, reached from both loaders
 * (see boot_info.h for the machine state they guarantee).
 */
	.section .text.entry, "ax"
	.code64
	.globl kernel_entry
	.type kernel_entry, @function
kernel_entry:
	cli
	/* SAFETY: rdtsc writes only EDX:EAX (RDI, the boot_info address, is untouched); the stamp
	 * goes to kernel_entry_tsc in .bss, mapped writable by the loader's tables. kas_init
	 * reports entry-to-switch time from it (kas_timing=1). */
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, kernel_entry_tsc(%rip)
	/* The loader's stack may be anywhere; switch to ours (in .bss). */
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp         /* terminates the frame-pointer chain for backtraces */
	pushq $0                /* fake return address: aligns the stack for the call */
	/* RDI = physical address of struct boot_info, passed through. */
	call kmain
1:	hlt
	jmp 1b
	.size kernel_entry, . - kernel_entry

	/*
	 * The boot stack (16 KiB) and, below it, a page of its own that nothing
	 * else uses: kas_init leaves boot_stack_guard unmapped, so an overflow
	 * faults (#PF, then #DF on its IST stack) instead of corrupting .bss.
	 */
	.section .bss
	.balign 8
	.globl kernel_entry_tsc
kernel_entry_tsc:       /* TSC at kernel entry (kas_init's timing report) */
	.quad 0
	.balign 4096
	.globl boot_stack_guard
boot_stack_guard:
	.space 4096
	.globl boot_stack_bottom
boot_stack_bottom:
	.space 16384
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
