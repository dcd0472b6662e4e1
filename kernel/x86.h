/*
 * x86.h - the one place for the kernel's inline assembly.
 *
 * Every helper is a thin wrapper around one instruction (or one short fixed
 * sequence). Each carries a SAFETY comment naming what the caller must
 * guarantee; the wrappers themselves add no policy.
 */
#ifndef FERROUS_X86_H
#define FERROUS_X86_H

#include <stdint.h>
#include <stdbool.h>

#define X86_RFLAGS_IF   (1ULL << 9)
#define X86_CR0_WP      (1ULL << 16)
#define X86_CR0_PG      (1ULL << 31)
#define X86_CR4_PAE     (1ULL << 5)
#define X86_CR4_PGE     (1ULL << 7)
#define X86_MSR_EFER    0xC0000080u
#define X86_EFER_NXE    (1ULL << 11)

/* ---- port I/O ---- */

/* Reads one byte from an I/O port. */
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	/* SAFETY: port input has no memory side effects; device side effects are the caller's intent. */
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Writes one byte to an I/O port. */
static inline void outb(uint16_t port, uint8_t v)
{
	/* SAFETY: port output touches no memory; the caller names a port whose device it owns. */
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Reads a 16-bit word from an I/O port. */
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	/* SAFETY: as inb. */
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Writes a 16-bit word to an I/O port. */
static inline void outw(uint16_t port, uint16_t v)
{
	/* SAFETY: as outb. */
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

/* Writes a 32-bit word to an I/O port. */
static inline void outl(uint16_t port, uint32_t v)
{
	/* SAFETY: as outb. */
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* ---- control registers ---- */

/* Returns CR0. */
static inline uint64_t read_cr0(void)
{
	uint64_t v;
	/* SAFETY: reading CR0 has no side effects at CPL 0. */
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

/* Loads CR0; the caller keeps PG and PE set (the kernel runs paged, in long mode). */
static inline void write_cr0(uint64_t v)
{
	/* SAFETY: the caller only toggles bits like WP; clearing PG/PE in long mode would fault. "memory"
	 * keeps the compiler from moving memory accesses across the mode change. */
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

/* Returns CR2, the linear address of the last page fault. */
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	/* SAFETY: reading CR2 has no side effects at CPL 0. */
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* Returns CR3 (physical address of the PML4 plus flag bits). */
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	/* SAFETY: reading CR3 has no side effects at CPL 0. */
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Loads CR3 (switches address space and flushes non-global TLB entries). */
static inline void write_cr3(uint64_t v)
{
	/* SAFETY: the caller guarantees v is the physical address of a valid PML4 that maps the code
	 * running now, its stack and every kernel datum it touches next. "memory" orders all prior
	 * stores to page tables before the switch. */
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

/* Returns CR4. */
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	/* SAFETY: reading CR4 has no side effects at CPL 0. */
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* Loads CR4; the caller keeps PAE set (required in long mode). */
static inline void write_cr4(uint64_t v)
{
	/* SAFETY: the caller keeps PAE set and only enables features CPUID reports. */
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* ---- MSRs, TLB, CPUID ---- */

/* Reads a model-specific register. */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	/* SAFETY: the caller names an MSR that exists on this CPU (else #GP). */
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* Writes a model-specific register. */
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	/* SAFETY: the caller names an MSR that exists and a value valid for it (e.g. EFER keeps LME/LMA). */
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Drops the TLB entry (all levels) for the page containing va on this CPU. */
static inline void invlpg(uint64_t va)
{
	/* SAFETY: invlpg never faults and only discards cached translations; "memory" orders the
	 * preceding page-table store before it. */
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Reads the time-stamp counter. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	/* SAFETY: rdtsc only writes EDX:EAX (CR4.TSD is clear, so it is allowed at any CPL we run). */
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Executes CPUID for leaf/subleaf; fills the four output registers. */
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	/* SAFETY: CPUID only writes the four named registers. */
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

/* ---- interrupts and halting ---- */

/* Returns RFLAGS. */
static inline uint64_t read_rflags(void)
{
	uint64_t v;
	/* SAFETY: pushf/pop uses 8 bytes of our own stack; the kernel is built with -mno-red-zone. */
	__asm__ volatile("pushfq; popq %0" : "=r"(v) : : "memory");
	return v;
}

/* Disables maskable interrupts on this CPU. */
static inline void cli(void)
{
	/* SAFETY: CPL 0; "memory" keeps accesses of the critical section after it. */
	__asm__ volatile("cli" : : : "memory");
}

/* Enables maskable interrupts on this CPU; the caller has a valid IDT for every source it unmasked. */
static inline void sti(void)
{
	/* SAFETY: the IDT handles every vector that can arrive (see idt.c). */
	__asm__ volatile("sti" : : : "memory");
}

/* Disables interrupts and returns the previous RFLAGS for irq_restore(). */
static inline uint64_t irq_save(void)
{
	uint64_t flags = read_rflags();
	cli();
	return flags;
}

/* Re-enables interrupts iff they were enabled in flags (from irq_save). */
static inline void irq_restore(uint64_t flags)
{
	if (flags & X86_RFLAGS_IF)
		sti();
}

/* Halts until the next interrupt (forever when IF = 0). */
static inline void hlt(void)
{
	/* SAFETY: halting has no memory effects; with IF = 0 only NMI/SMI/INIT resume it. */
	__asm__ volatile("hlt" : : : "memory");
}

/* Spin-loop hint. */
static inline void cpu_pause(void)
{
	/* SAFETY: pause is a hint with no architectural effect. */
	__asm__ volatile("pause" : : : "memory");
}

/* Bochs magic breakpoint (xchg bx, bx): stops Bochs in its debugger; a no-op on QEMU and hardware. */
static inline void bochs_magic_break(void)
{
	/* SAFETY: exchanging BX with itself changes no state. */
	__asm__ volatile("xchgw %%bx, %%bx" : : : "memory");
}

/* ---- descriptor tables ---- */

struct __attribute__((packed)) x86_dtr {
	uint16_t limit;
	uint64_t base;
};

/* Loads GDTR. */
static inline void lgdt(const struct x86_dtr *d)
{
	/* SAFETY: d describes a GDT in memory that stays mapped and unchanged while loaded. */
	__asm__ volatile("lgdt %0" : : "m"(*d) : "memory");
}

/* Loads IDTR. */
static inline void lidt(const struct x86_dtr *d)
{
	/* SAFETY: d describes an IDT that stays mapped while loaded (a limit of 0 is allowed and makes
	 * every interrupt escalate: harness.triple uses that on purpose). */
	__asm__ volatile("lidt %0" : : "m"(*d) : "memory");
}

/* Loads the task register with a TSS selector. */
static inline void ltr(uint16_t sel)
{
	/* SAFETY: sel names an available 64-bit TSS descriptor in the loaded GDT; ltr marks it busy. */
	__asm__ volatile("ltr %0" : : "r"(sel) : "memory");
}

/* Reloads CS (by a far return) and DS/ES/SS with the given selectors; FS/GS get the null selector. */
static inline void load_segments(uint16_t code_sel, uint16_t data_sel)
{
	/* SAFETY: both selectors name present 64-bit descriptors of the loaded GDT with DPL 0; the far
	 * return pops exactly the two quadwords pushed here, so the stack is balanced. */
	__asm__ volatile(
		"pushq %q0\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movw %w1, %%ds\n\t"
		"movw %w1, %%es\n\t"
		"movw %w1, %%ss\n\t"
		"xorl %%eax, %%eax\n\t"
		"movw %%ax, %%fs\n\t"
		"movw %%ax, %%gs\n\t"
		: : "r"((uint64_t)code_sel), "r"(data_sel) : "rax", "memory");
}

/* ---- deliberate faults (used only by tests that end the run on purpose) ---- */

/* Raises #DE by dividing by zero. */
static inline void x86_raise_divide_error(void)
{
	/* SAFETY: raises #DE on purpose; the trap handler reports it and never returns here. */
	__asm__ volatile("xorl %%ecx, %%ecx\n\tmovl $1, %%eax\n\txorl %%edx, %%edx\n\tdivl %%ecx"
			 : : : "rax", "rcx", "rdx", "memory");
}

/* Executes int3 (#BP). */
static inline void x86_int3(void)
{
	/* SAFETY: raises #BP on purpose; its handler (or the lack of an IDT) decides what happens. */
	__asm__ volatile("int3" : : : "memory");
}

#endif
