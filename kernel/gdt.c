/* gdt.c - the GDT, the TSS and the IST stacks (layout in gdt.h). */
#include "gdt.h"

#include "kstring.h"
#include "panic.h"
#include "x86.h"

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

#define GDT_ENTRIES 7

/* Code/data descriptors: base 0, limit 0xfffff, G=1; long-mode code has L=1, D=0. */
#define DESC_KERNEL_CODE 0x00AF9A000000FFFFULL
#define DESC_KERNEL_DATA 0x00CF92000000FFFFULL
#define DESC_USER_DATA   0x00CFF2000000FFFFULL
#define DESC_USER_CODE   0x00AFFA000000FFFFULL

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));

extern char boot_stack_top[];

/* Writes the 16-byte available-64-bit-TSS descriptor for tss at gdt[index], gdt[index + 1]. */
static void gdt_set_tss(unsigned index, uint64_t base, uint32_t limit)
{
	uint64_t lo = (limit & 0xFFFFULL) | ((base & 0xFFFFFFULL) << 16) | (0x89ULL << 40) |
		      ((uint64_t)((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFFULL) << 56);
	gdt[index] = lo;
	gdt[index + 1] = base >> 32;
}

/* Builds the descriptors and the TSS, loads GDTR, reloads segments and TR. */
void gdt_init(void)
{
	gdt[0] = 0;
	gdt[GDT_KERNEL_CODE >> 3] = DESC_KERNEL_CODE;
	gdt[GDT_KERNEL_DATA >> 3] = DESC_KERNEL_DATA;
	gdt[GDT_USER_DATA >> 3] = DESC_USER_DATA;
	gdt[GDT_USER_CODE >> 3] = DESC_USER_CODE;

	memset(&tss, 0, sizeof(tss));
	tss.rsp[0] = (uint64_t)(uintptr_t)boot_stack_top;
	for (unsigned i = 0; i < 3; i++)
		tss.ist[i] = (uint64_t)(uintptr_t)(ist_stacks[i] + IST_STACK_SIZE);
	tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */
	gdt_set_tss(GDT_TSS >> 3, (uint64_t)(uintptr_t)&tss, sizeof(tss) - 1);

	struct x86_dtr gdtr = { .limit = sizeof(gdt) - 1, .base = (uint64_t)(uintptr_t)gdt };
	/* SAFETY: gdt is a static array of the kernel image, fully written above and never moved, so GDTR
	 * points at mapped, valid descriptors for as long as it is loaded; interrupts are still off (the loader
	 * hands over with IF = 0 and nothing has enabled them), so nothing uses a segment between the loads. */
	lgdt(&gdtr);
	/* SAFETY: GDT_KERNEL_CODE and GDT_KERNEL_DATA index the DPL-0 long-mode code and data descriptors just
	 * written and loaded; we run at CPL 0, so the far return and the data-segment loads cannot fault. */
	load_segments(GDT_KERNEL_CODE, GDT_KERNEL_DATA);
	/* SAFETY: GDT_TSS indexes the available 64-bit TSS descriptor gdt_set_tss wrote for the static tss (its
	 * limit covers the whole struct; iomap_base = sizeof(tss): no I/O bitmap); ltr runs once per boot, so the
	 * descriptor is not already busy. */
	ltr(GDT_TSS);
}

/* Sets the ring-0 stack used on traps from user mode. */
void tss_set_rsp0(uint64_t rsp0)
{
	tss.rsp[0] = rsp0;
}

/* Returns the top of IST stack ist (1..3); panics otherwise. */
uint64_t tss_ist_top(unsigned ist)
{
	if (ist < 1 || ist > 3)
		panic("tss_ist_top: ist %u out of range 1..3", ist);
	return tss.ist[ist - 1];
}
