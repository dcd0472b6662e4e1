/*
 * bootcheck_entry.S - entry of the loader's test kernel (bootcheck.c), linked with
 * kernel/kernel.ld like the real kernel, so it is loaded exactly the same way.
 */
	.section .text.entry, "ax"
	.code64
	.globl kernel_entry
	.type kernel_entry, @function
kernel_entry:
	/* SAFETY: the loader guarantees IF = 0 and a valid stack; we switch to our own stack in
	 * .bss, which must be mapped (that is one of the things bootcheck checks). */
	leaq bootcheck_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	pushq $0
	call bootcheck_main   /* RDI = &boot_info, passed through */
1:	hlt
	jmp 1b
	.size kernel_entry, . - kernel_entry

	/* A byte in the low .boot32 segment, which the UEFI loader must skip. */
	.section .boot32.text, "ax"
	.byte 0xf4

	.section .bss
	.balign 4096
bootcheck_stack:
	.space 16384
bootcheck_stack_top:

	.section .note.GNU-stack, "", @progbits
