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
