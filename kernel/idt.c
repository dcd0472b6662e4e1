/* idt.c - the interrupt descriptor table: 32 exception gates into kernel/trap_entry.S. */
#include "gdt.h"
#include "traps.h"
#include "x86.h"

struct __attribute__((packed)) idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t  ist;        /* bits 0-2: IST slot, 0 = none */
	uint8_t  type_attr;  /* P | DPL | 0 | type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

#define IDT_ENTRIES        256
#define GATE_INTERRUPT_DPL0 0x8E /* present, DPL 0, 64-bit interrupt gate (IF cleared on entry) */

/* Vectors 32..255 stay not-present: one arriving raises #NP (vector 11), which is reported. */
static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));

extern const uint64_t trap_stub_table[32];

/* Installs an interrupt gate for vector v to handler, using IST slot ist (0 = current stack). */
static void idt_set_gate(unsigned v, uint64_t handler, unsigned ist)
{
	idt[v] = (struct idt_gate){
		.offset_lo = (uint16_t)handler,
		.selector = GDT_KERNEL_CODE,
		.ist = (uint8_t)ist,
		.type_attr = GATE_INTERRUPT_DPL0,
		.offset_mid = (uint16_t)(handler >> 16),
		.offset_hi = (uint32_t)(handler >> 32),
		.reserved = 0,
	};
}

/* Installs gates 0..31 (IST for #DF, NMI, #MC) and loads IDTR. */
void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++) {
		unsigned ist = 0;
		if (v == T_DOUBLE_FAULT)
			ist = IST_DOUBLE_FAULT;
		else if (v == T_NMI)
			ist = IST_NMI;
		else if (v == T_MACHINE_CHECK)
			ist = IST_MACHINE_CHECK;
		idt_set_gate(v, trap_stub_table[v], ist);
	}
	struct x86_dtr idtr = { .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };
	/* SAFETY: idt is a static array of the kernel image that stays mapped for the whole run; gates 0..31 were
	 * just filled with the trap stubs on GDT_KERNEL_CODE (loaded by gdt_init, which runs first) and the other
	 * vectors are not present, so every vector delivered after this either reaches a stub or raises #NP. */
	lidt(&idtr);
}
