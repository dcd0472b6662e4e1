/*
 * ksyms.h - the kernel's own text symbols, for symbolised backtraces.
 *
 * The table is generated at link time (kernel/build.mk): the kernel is linked
 * once with an empty table, `nm -n` of that image becomes the table, and the
 * kernel is linked again; the build checks that no text symbol moved.
 */
#ifndef FERROUS_KSYMS_H
#define FERROUS_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct ksym {
	uint64_t addr;
	const char *name;
};

/* Sorted by addr (ascending). */
extern const struct ksym ksyms_table[];
extern const uint64_t ksyms_count;

/* Returns the name of the text symbol containing addr and stores addr - symbol start in *offset;
 * NULL when addr is outside the kernel's text. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

/* Formats addr as "name+0xoff" (or "0x..." when unknown) into buf; returns buf. */
const char *ksym_format(char *buf, size_t n, uint64_t addr);

/* Returns true iff addr lies in the kernel's text section. */
int ksym_is_kernel_text(uint64_t addr);

#endif
