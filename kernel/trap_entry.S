/*
 * trap_entry.S - the 32 exception entry stubs and the common trap path.
 *
 * Each stub makes the stack look the same for every vector (a zero error
 * code where the CPU pushes none), pushes its vector number and jumps to
 * trap_common, which saves all general registers as a struct trapframe
 * (kernel/traps.h; the push order here and the field order there must match)
 * and calls trap_dispatch(tf). The CPU aligned RSP to 16 before pushing its
 * 5-word frame; 5 + 2 + 15 words = 176 bytes keeps the call aligned.
 */
	.code64

.macro TRAP_NOERR vec
	.p2align 4
trap_stub_\vec:
	pushq $0
	pushq $\vec
	jmp trap_common
.endm

.macro TRAP_ERR vec
	.p2align 4
trap_stub_\vec:
	pushq $\vec
	jmp trap_common
.endm

	.text
	.globl trap_common
	.type trap_common, @function
trap_common:
	cld
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	/* Chain the backtrace through the interrupted code: a fake frame (saved rbp, rip). */
	pushq 136(%rdi)          /* tf->rip */
	pushq 64(%rdi)           /* tf->rbp */
	movq %rsp, %rbp
	call trap_dispatch
	/* trap_dispatch returns only for traps that are handled and resumable. */
	addq $16, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp           /* vector and error code */
	iretq
	.size trap_common, . - trap_common

	/* Vectors with a CPU-pushed error code: 8, 10-14, 17, 21, 29, 30. */
	TRAP_NOERR 0
	TRAP_NOERR 1
	TRAP_NOERR 2
	TRAP_NOERR 3
	TRAP_NOERR 4
	TRAP_NOERR 5
	TRAP_NOERR 6
	TRAP_NOERR 7
	TRAP_ERR   8
	TRAP_NOERR 9
	TRAP_ERR   10
	TRAP_ERR   11
	TRAP_ERR   12
	TRAP_ERR   13
	TRAP_ERR   14
	TRAP_NOERR 15
	TRAP_NOERR 16
	TRAP_ERR   17
	TRAP_NOERR 18
	TRAP_NOERR 19
	TRAP_NOERR 20
	TRAP_ERR   21
	TRAP_NOERR 22
	TRAP_NOERR 23
	TRAP_NOERR 24
	TRAP_NOERR 25
	TRAP_NOERR 26
	TRAP_NOERR 27
	TRAP_NOERR 28
	TRAP_ERR   29
	TRAP_ERR   30
	TRAP_NOERR 31

	/* trap_stub_table[v] = entry address of vector v (read by idt.c). */
	.section .rodata
	.balign 8
	.globl trap_stub_table
trap_stub_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_stub_\v
	.endr

	.section .note.GNU-stack, "", @progbits
