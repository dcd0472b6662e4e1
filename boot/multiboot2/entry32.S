/*
 * entry32.S - the Multiboot2 entry: GRUB (32-bit protected mode) -> long mode -> kernel_entry.
 *
 * GRUB loads kernel.elf by its physical load addresses (kernel/kernel.ld):
 * this file's sections at 1 MiB (identity), the kernel at KERNEL_LMA = 2 MiB.
 * It jumps to mb2_entry32 (the entry-address tag below; the ELF e_entry is the
 * 64-bit kernel_entry, which GRUB cannot enter) with
 *   EAX = 0x36d76289, EBX = physical address of the Multiboot2 information
 *   (mbi), CS/DS/ES/SS flat 32-bit, paging off, IF = 0, no usable stack or GDTR.
 *
 * This code then
 *   1. initialises COM1 (Bochs' UART starts in 5-bit mode) so errors can be told,
 *   2. checks the magic (anything else: message on COM1 and port 0xe9, halt),
 *   3. builds the boot page tables of boot_info.h's contract in .boot32.bss,
 *      all contiguous in [boot_tables_start, boot_tables_end):
 *        boot_pml4[0]   -> boot_pdpt_low  -> boot_pd_low[0..3]: [0, 4 GiB) identity, 2 MiB pages
 *        boot_pml4[256] -> boot_pdpt_low  (the same tables): [0, 4 GiB) at DIRECT_MAP_BASE
 *        boot_pml4[511] -> boot_pdpt_kernel[510] -> boot_pd_kernel: KERNEL_VBASE ->
 *                          KERNEL_LMA in 2 MiB pages, up to _kernel_end
 *   4. enables PAE, EFER.LME and PG (NXE is left to the kernel), loads a 64-bit GDT,
 *   5. in 64-bit mode calls the converter mb2_boot_info_from_mbi() (mb2_boot_info.c,
 *      higher half) and jumps to kernel_entry with RDI = boot_info's physical address.
 *
 * Everything here lives below 4 GiB and runs at its link address, so 32-bit
 * absolute addresses of this file's labels are physical addresses.
 */

#define MB2_HEADER_MAGIC     0xE85250D6
#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define MB2_ARCH_I386        0

#define KERNEL_VBASE_ASM     0xFFFFFFFF80000000
#define KERNEL_LMA_ASM       0x200000
#define PAGE_2M_SHIFT        21
#define PTE_P                0x001
#define PTE_W                0x002
#define PTE_PS               0x080   /* 2 MiB page in a PD entry */

#define COM1                 0x3f8
#define E9_PORT              0xe9

#define CR0_PG               0x80000000
#define CR4_PAE              0x00000020
#define MSR_EFER             0xC0000080
#define EFER_LME             0x00000100

#define GDT_CODE64           0x08
#define GDT_DATA             0x10

/* ------------------------------------------------------------------------ */
/* The Multiboot2 header: first in the file's first loaded segment (well inside
 * the first 32 KiB of kernel.elf), 8-byte aligned, tags 8-byte aligned. */
	.section .multiboot2, "a"
	.balign 8
	.globl mb2_header
mb2_header:
	.long MB2_HEADER_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long 0x100000000 - (MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

	/* Entry-address tag (type 3): where GRUB jumps, instead of e_entry. */
	.balign 8
	.short 3, 0
	.long 12
	.long mb2_entry32

	/* Module-alignment tag (type 6): modules (the ramdisk) page aligned. */
	.balign 8
	.short 6, 0
	.long 8

	/* End tag. */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

/* ------------------------------------------------------------------------ */
	.section .boot32.text, "ax"
	.code32
	.globl mb2_entry32
	.type mb2_entry32, @function
mb2_entry32:
	cli
	cld
	/* GRUB's EAX/EBX are saved before anything can clobber them. */
	movl %eax, mb2_magic_saved
	movl %ebx, mb2_mbi_saved
	/* GRUB guarantees a flat 32-bit SS but no stack: use ours. */
	movl $boot32_stack_top, %esp

	call uart_init32

	cmpl $MB2_BOOTLOADER_MAGIC, mb2_magic_saved
	je 1f
	movl $msg_bad_magic, %esi
	jmp die32
1:
	/* SAFETY: [boot_tables_start, boot_tables_end) is this file's own
	 * .boot32.bss, loaded by GRUB at its link address (paging off, so the
	 * addresses below are physical), and nothing else uses it.
	 * The tables must be zero outside the entries written below. .boot32.bss
	 * is zero in the file today, but clear it so this does not depend on how
	 * the linker lays the section out. */
	movl $boot_tables_start, %edi
	movl $(boot_tables_end - boot_tables_start) / 4, %ecx
	xorl %eax, %eax
	rep stosl

	/* boot_pd_low: 2048 entries of 2 MiB cover [0, 4 GiB); the physical
	 * addresses fit in the low dword, the high dword stays 0. */
	movl $boot_pd_low, %edi
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $PAGE_2M_SHIFT, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	movl %eax, (%edi, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b

	/* boot_pdpt_low[0..3] -> the four PDs. */
	movl $boot_pdpt_low, %edi
	movl $(boot_pd_low + PTE_P + PTE_W), %eax
	xorl %ecx, %ecx
3:	movl %eax, (%edi, %ecx, 8)
	addl $4096, %eax
	incl %ecx
	cmpl $4, %ecx
	jne 3b

	/* Kernel image: n = ceil((_kernel_end - KERNEL_VBASE) / 2 MiB) entries of
	 * boot_pd_kernel, mapping KERNEL_VBASE + i * 2 MiB -> KERNEL_LMA + i * 2 MiB.
	 * One PD covers 1 GiB; a larger kernel cannot be entered. */
	movl $(_kernel_end - KERNEL_VBASE_ASM), %ecx
	addl $((1 << PAGE_2M_SHIFT) - 1), %ecx
	shrl $PAGE_2M_SHIFT, %ecx
	cmpl $512, %ecx
	jbe 4f
	movl $msg_kernel_too_big, %esi
	jmp die32
4:	movl $boot_pd_kernel, %edi
	movl $(KERNEL_LMA_ASM | PTE_P | PTE_W | PTE_PS), %eax
	xorl %edx, %edx
5:	cmpl %ecx, %edx
	je 6f
	movl %eax, (%edi, %edx, 8)
	addl $(1 << PAGE_2M_SHIFT), %eax
	incl %edx
	jmp 5b
6:
	movl $(boot_pd_kernel + PTE_P + PTE_W), boot_pdpt_kernel + 510 * 8
	movl $(boot_pdpt_low + PTE_P + PTE_W), boot_pml4 + 0 * 8
	movl $(boot_pdpt_low + PTE_P + PTE_W), boot_pml4 + 256 * 8
	movl $(boot_pdpt_kernel + PTE_P + PTE_W), boot_pml4 + 511 * 8

	/* SAFETY: gdt64 lies in .boot32.data, identity-mapped by the new tables
	 * and never reused before the kernel loads its own GDT; GRUB's segment
	 * registers stay valid (their cached descriptors) until reloaded below. */
	lgdt gdt64_desc

	/* SAFETY: CR4.PAE must be set before long mode is activated; paging is
	 * still off here, so no translation changes yet. */
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4

	/* SAFETY: boot_pml4 is page aligned and fully built above (every entry
	 * not written is 0, i.e. not present); it takes effect only when CR0.PG is
	 * set below. It identity-maps this code, so the instruction fetch after
	 * enabling paging continues here. */
	movl $boot_pml4, %eax
	movl %eax, %cr3

	/* SAFETY: EFER.LME with paging off only arms long mode; it becomes
	 * active when CR0.PG is set. Other EFER bits (SCE, NXE) are kept. */
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr

	/* SAFETY: PAE, LME and CR3 are set up, so setting PG enters long mode
	 * (compatibility submode, CS still the 32-bit GRUB segment); the identity
	 * map keeps the next instructions at the same address. CR0.PE is already
	 * set by GRUB. */
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0

	/* SAFETY: GDT_CODE64 is gdt64's L=1 code descriptor, so this far jump
	 * completes the switch to 64-bit mode; mb2_entry64 is identity-mapped. */
	ljmp $GDT_CODE64, $mb2_entry64

/* Program COM1 for 115200 8N1, FIFO on (DLAB dance). Clobbers EAX, EDX. */
uart_init32:
	movw $COM1 + 1, %dx
	xorb %al, %al
	outb %al, %dx           /* IER: no interrupts */
	movw $COM1 + 3, %dx
	movb $0x80, %al
	outb %al, %dx           /* LCR: DLAB */
	movw $COM1 + 0, %dx
	movb $1, %al
	outb %al, %dx           /* divisor low: 115200 baud */
	movw $COM1 + 1, %dx
	xorb %al, %al
	outb %al, %dx           /* divisor high */
	movw $COM1 + 3, %dx
	movb $0x03, %al
	outb %al, %dx           /* LCR: 8N1, DLAB off */
	movw $COM1 + 2, %dx
	movb $0xC7, %al
	outb %al, %dx           /* FCR: FIFO on, cleared */
	movw $COM1 + 4, %dx
	movb $0x0B, %al
	outb %al, %dx           /* MCR: DTR, RTS, OUT2 */
	ret

/* Write the NUL-terminated string at ESI to COM1 and port 0xe9, then halt
 * forever. Only reached when the machine cannot enter the kernel. */
die32:
1:	movb (%esi), %bl
	testb %bl, %bl
	jz 3f
	movw $COM1 + 5, %dx
2:	inb %dx, %al
	testb $0x20, %al        /* LSR.THRE: transmitter can take a byte */
	jz 2b
	movb %bl, %al
	movw $COM1, %dx
	outb %al, %dx
	movw $E9_PORT, %dx
	outb %al, %dx
	incl %esi
	jmp 1b
3:	cli
	hlt
	jmp 3b
	.size mb2_entry32, . - mb2_entry32

/* ------------------------------------------------------------------------ */
	.code64
/* 64-bit continuation of mb2_entry32 (CS = GDT_CODE64, boot tables live):
 * converts the mbi and enters kernel_entry; never returns. */
mb2_entry64:
	/* SAFETY: GDT_DATA is gdt64's flat data descriptor; in 64-bit mode only
	 * SS's presence matters, DS/ES are loaded for tidiness, FS/GS null. */
	movl $GDT_DATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	/* boot32_stack_top is 16-byte aligned, so the callee sees the ABI's
	 * RSP = 8 (mod 16) after the call pushes its return address. */
	movl $boot32_stack_top, %esp
	xorl %ebp, %ebp

	/* rax = mb2_boot_info_from_mbi(mbi_phys, &mb2_layout, &mb2_error) */
	movl mb2_mbi_saved, %edi
	movl $mb2_layout, %esi
	movl $mb2_error, %edx
	movabsq $mb2_boot_info_from_mbi, %rax
	call *%rax
	testq %rax, %rax
	jz 1f

	/* SAFETY: boot_info.h's entry state holds: long mode, IF = 0, CR3 = the
	 * boot tables mapping identity, direct map and kernel image; RDI = the
	 * physical address of the struct boot_info the converter filled. */
	movq %rax, %rdi
	movabsq $kernel_entry, %rax
	jmp *%rax

	/* The converter refused the mbi: print its message and halt. */
1:	movq mb2_error, %rsi
	testq %rsi, %rsi
	jnz 2f
	movabsq $msg_convert_failed, %rsi
2:	movb (%rsi), %bl
	testb %bl, %bl
	jz 4f
	movw $COM1 + 5, %dx
3:	inb %dx, %al
	testb $0x20, %al
	jz 3b
	movb %bl, %al
	movw $COM1, %dx
	outb %al, %dx
	movw $E9_PORT, %dx
	outb %al, %dx
	incq %rsi
	jmp 2b
4:	cli
	hlt
	jmp 4b

/* ------------------------------------------------------------------------ */
	.section .boot32.data, "aw"
	.balign 8
/* GDT: null, 64-bit code (L=1, DPL 0), flat data. */
gdt64:
	.quad 0
	.quad 0x00AF9A000000FFFF
	.quad 0x00CF92000000FFFF
gdt64_end:
	.balign 8
	.short 0
gdt64_desc:
	.short gdt64_end - gdt64 - 1
	.long gdt64

/* struct mb2_layout (mb2_boot_info.h): what the converter must know about
 * this file and the kernel image, as physical addresses and sizes. The field
 * order is checked against the C struct by _Static_asserts there. */
	.balign 8
	.globl mb2_layout
mb2_layout:
	.quad mb2_header                            /* boot32_start */
	.quad boot32_end                            /* boot32_end */
	.quad boot_tables_start                     /* boot_tables_phys */
	.quad boot_tables_end - boot_tables_start   /* boot_tables_size */
	.quad KERNEL_LMA_ASM                        /* kernel_phys_base */
	.quad _kernel_end - KERNEL_VBASE_ASM        /* kernel_phys_size */

mb2_error:        .quad 0   /* const char *: the converter's refusal, if any */
mb2_magic_saved:  .long 0
mb2_mbi_saved:    .long 0

msg_bad_magic:
	.asciz "\nferrous: mb2_entry32: EAX is not the Multiboot2 magic 0x36d76289 (not loaded by a Multiboot2 loader); halting\n"
msg_kernel_too_big:
	.asciz "\nferrous: mb2_entry32: kernel image larger than 1 GiB, cannot map it; halting\n"
msg_convert_failed:
	.asciz "\nferrous: mb2_entry64: mb2_boot_info_from_mbi failed without a message; halting\n"

/* ------------------------------------------------------------------------ */
	.section .boot32.bss, "aw", @nobits
	.balign 4096
	.globl boot_tables_start, boot_tables_end
boot_tables_start:
boot_pml4:        .space 4096
boot_pdpt_low:    .space 4096
boot_pd_low:      .space 4 * 4096
boot_pdpt_kernel: .space 4096
boot_pd_kernel:   .space 4096
boot_tables_end:

	.balign 16
boot32_stack_bottom:
	.space 16384
boot32_stack_top:
	.balign 4096
boot32_end:
