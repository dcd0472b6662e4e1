/*
 * enter.S - the jump from the loader into the kernel.
 *
 * void enter_kernel(uint64_t pml4 (rdi), uint64_t entry (rsi), uint64_t boot_info (rdx))
 * SysV convention (called from the loader's own C, not by the firmware). Never returns.
 */
	.text
	.globl enter_kernel
	.type enter_kernel, @function
enter_kernel:
	/* SAFETY: boot services are gone, so nothing may interrupt us with the firmware's handlers
	 * any more; the kernel runs with IF = 0 until it has its own IDT (boot_info.h). */
	cli
	/* SAFETY: pml4 heads the tables of boot_tables.c, which identity-map [0, direct_map_limit);
	 * that range holds this code (EfiLoaderCode), the current stack (firmware memory) and
	 * boot_info (EfiLoaderData), so the next instruction and the stack stay mapped. */
	movq %rdi, %cr3
	/* SAFETY: entry was checked to lie in an executable PT_LOAD above KERNEL_VBASE, which the new
	 * tables map to the loaded image; RDI = &boot_info is the kernel's documented argument. */
	movq %rdx, %rdi
	xorl %ebp, %ebp
	jmpq *%rsi
	.size enter_kernel, . - enter_kernel

	.section .note.GNU-stack, "", @progbits
