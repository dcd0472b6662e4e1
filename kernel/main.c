/* main.c - placeholder until the kernel core lands: prints the boot line and exits QEMU. */
#include <stdint.h>
#include "boot_info.h"

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static void putc_(char c) { while (!(inb(0x3f8 + 5) & 0x20)) {} outb(0x3f8, (uint8_t)c); }
static void puts_(const char *s) { while (*s) putc_(*s++); }

void kmain(uint64_t boot_info_phys);
void kmain(uint64_t boot_info_phys)
{
	(void)boot_info_phys;
	outb(0x3f8 + 3, 0x80); outb(0x3f8 + 0, 1); outb(0x3f8 + 1, 0); outb(0x3f8 + 3, 0x03);
	outb(0x3f8 + 2, 0xC7); outb(0x3f8 + 4, 0x0B);
	puts_("\n@@ boot path=unknown\n@@ end status=ok\n");
	__asm__ volatile("outw %0, %1" :: "a"((uint16_t)0x10), "Nd"((uint16_t)0xf4));
	for (;;) __asm__ volatile("hlt");
}
