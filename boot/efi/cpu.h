/*
 * cpu.h - the loader's only inline asm: port I/O and reading CR4.
 */
#ifndef FERROUS_EFI_CPU_H
#define FERROUS_EFI_CPU_H

#include <stdint.h>

#define COM1_PORT        0x3f8
#define DEBUG_EXIT_PORT  0xf4   /* QEMU isa-debug-exit: exit code (v << 1) | 1 */
#define CR4_LA57         (1ULL << 12)

/* Writes one byte to an I/O port. */
static inline void outb(uint16_t port, uint8_t v)
{
	/* SAFETY: used only for COM1 (0x3f8..0x3ff, programmed by the firmware) and 0xf4 (isa-debug-exit
	 * under QEMU, an unclaimed port elsewhere); neither write touches memory. */
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Writes a 16-bit word to an I/O port. */
static inline void outw(uint16_t port, uint16_t v)
{
	/* SAFETY: only used on DEBUG_EXIT_PORT (see outb); a write there ends QEMU or is ignored. */
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

/* Reads one byte from an I/O port. */
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	/* SAFETY: only used on the COM1 line-status register, whose read has no side effect. */
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Returns CR4. */
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	/* SAFETY: reading CR4 at CPL 0 (where UEFI applications run) has no side effect. */
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* Stops this CPU for good: interrupts masked, halted. */
static inline _Noreturn void halt_forever(void)
{
	for (;;) {
		/* SAFETY: the end state when no way out of the machine worked; touches no memory. */
		__asm__ volatile("cli; hlt");
	}
}

#endif
