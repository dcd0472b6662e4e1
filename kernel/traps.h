/*
 * traps.h - CPU exceptions: the IDT, the saved register frame, the report.
 *
 * Every exception is fatal for now: the handler prints
 *   @@ fault vector=N name=... error=0x.. rip=0x.. cr2=0x.. [p= w= u= i= rsvd= for #PF]
 * a register dump, the page-walk report of the paging code for #PF
 * (trap_pf_report_hook), the backtrace, `@@ end status=panic`, and exits (37).
 */
#ifndef FERROUS_TRAPS_H
#define FERROUS_TRAPS_H

#include <stdint.h>

/* Saved by kernel/trap_entry.S; field order = reverse push order there. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector;
	uint64_t error;     /* CPU error code, 0 for vectors without one */
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trapframe) == 176, "trap_entry.S pushes 22 quadwords");

#define T_DIVIDE       0
#define T_DEBUG        1
#define T_NMI          2
#define T_BREAKPOINT   3
#define T_DOUBLE_FAULT 8
#define T_GP           13
#define T_PAGE_FAULT   14
#define T_MACHINE_CHECK 18

/* #PF error-code bits. */
#define PF_ERR_P    (1u << 0)  /* 1: protection violation; 0: page not present */
#define PF_ERR_W    (1u << 1)  /* write access */
#define PF_ERR_U    (1u << 2)  /* user-mode access */
#define PF_ERR_RSVD (1u << 3)  /* reserved bit set in a paging-structure entry */
#define PF_ERR_I    (1u << 4)  /* instruction fetch */

/* Set by the paging code: prints the page walk of cr2 during a #PF report (NULL: skipped). */
extern void (*trap_pf_report_hook)(uint64_t cr2);

/* Fills the IDT with the 32 exception gates (IST stacks for #DF, NMI, #MC) and loads it. */
void idt_init(void);

/* Called by trap_entry.S with the saved frame; returns only for a handled, resumable trap. */
void trap_dispatch(struct trapframe *tf);

/* Returns the mnemonic-style name of an exception vector ("page_fault"), "vector_N" style "unknown". */
const char *trap_name(uint64_t vector);

#endif
