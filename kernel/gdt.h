/*
 * gdt.h - the kernel's GDT and TSS.
 *
 *   index  selector  descriptor
 *   0      0x00      null
 *   1      0x08      kernel code (64-bit, DPL 0)
 *   2      0x10      kernel data (DPL 0)
 *   3      0x1b      user data   (DPL 3)   user data before user code: the
 *   4      0x23      user code   (64-bit, DPL 3)   order SYSRET expects
 *   5-6    0x28      TSS (16-byte system descriptor)
 *
 * The TSS gives #DF, NMI and #MC their own stacks (IST), so a kernel stack
 * overflow into the guard page still produces a readable double-fault report.
 */
#ifndef FERROUS_GDT_H
#define FERROUS_GDT_H

#include <stdint.h>

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA   0x1b
#define GDT_USER_CODE   0x23
#define GDT_TSS         0x28

/* IST slots (1-based, as the IDT gate field takes them). */
#define IST_DOUBLE_FAULT  1
#define IST_NMI           2
#define IST_MACHINE_CHECK 3

#define IST_STACK_SIZE 8192

/* Builds the GDT and TSS, loads them, reloads every segment register and the task register. */
void gdt_init(void);

/* Sets the stack the CPU switches to on a trap from user mode (TSS.rsp0). */
void tss_set_rsp0(uint64_t rsp0);

/* Returns the top of IST stack slot ist (1..3), for tests and reports. */
uint64_t tss_ist_top(unsigned ist);

#endif
