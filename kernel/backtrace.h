/* backtrace.h - walk the frame-pointer chain and report it (human text + `@@ backtrace`). */
#ifndef FERROUS_BACKTRACE_H
#define FERROUS_BACKTRACE_H

#include <stddef.h>
#include <stdint.h>

#define BACKTRACE_MAX_FRAMES 32

/* Collects return addresses starting at frame pointer rbp: at most max entries, stopping at a NULL,
 * misaligned, non-increasing or out-of-kernel frame pointer, or a return address outside kernel text.
 * If first_pc is nonzero it is stored first. Returns the count. */
size_t backtrace_collect(uint64_t first_pc, uint64_t rbp, uint64_t *pcs, size_t max);

/* Prints the symbolised trace as text and as `@@ backtrace frames="sym+0xoff ..."`. */
void backtrace_report(uint64_t first_pc, uint64_t rbp);

#endif
