/*
 * panic.h (host shim) - the kernel's panic API for host builds of kernel/mm.
 *
 * panic_at formats the message into host_panic_msg; if a test armed
 * host_panic_jmp (HOST_EXPECT_PANIC) it longjmps there, otherwise it prints
 * the message and aborts (so ASan prints a stack).
 */
#ifndef FERROUS_HOST_PANIC_H
#define FERROUS_HOST_PANIC_H

#include <setjmp.h>

extern jmp_buf *host_panic_jmp;
extern char host_panic_msg[512];

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define kassert(e) ((e) ? (void)0 : panic("assertion failed: %s", #e))

#endif
