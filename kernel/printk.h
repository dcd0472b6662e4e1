/*
 * printk.h - formatted console output (COM1).
 *
 * Conversions: %d %i %u %x %X %p %s %c %%; length modifiers l, ll, z; a field
 * width; flags '0' (zero pad) and '-' (left justify). %p prints 0x and 16 hex
 * digits. A NULL %s prints "(null)". Anything else is copied literally.
 */
#ifndef FERROUS_PRINTK_H
#define FERROUS_PRINTK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Prints to the console (dropped while quiet); returns the number of characters formatted. */
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);

/* Formats into buf (always NUL-terminated when n > 0); returns the length the full output would have. */
int snprintk(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap);

/* Calls put(ctx, c) for each output character of fmt; returns the number of characters. */
int kvformat(void (*put)(void *ctx, char c), void *ctx, const char *fmt, va_list ap);

/* quiet: drop printk (free text); protocol lines and panic output are never dropped. */
void console_set_quiet(bool quiet);
bool console_quiet(void);

/* Console primitives used by the protocol layer: take/release the console lock, write one char
 * (tracking the column), and the column itself (0 = at the start of a line). */
void console_lock(void);
void console_unlock(void);
void console_putc_locked(char c);
unsigned console_column(void);
/* For panic/fault paths only: forget a holder that will never release the lock (it was interrupted
 * by the fault on this CPU) and ignore quiet from now on. */
void console_break_lock(void);

#endif
