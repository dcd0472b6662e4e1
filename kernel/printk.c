/*
 * printk.c - the formatting engine (kvformat), printk/snprintk and the console.
 *
 * The console is COM1 behind one spinlock; it tracks the output column so the
 * protocol layer can start every `@@` line at column 0.
 */
#include "printk.h"

#include <stdint.h>
#include "serial.h"
#include "spinlock.h"

static struct spinlock console_spinlock = SPINLOCK_INIT(console);
static unsigned console_col;
static bool console_is_quiet;

/* ---- formatting engine ---- */

struct fmt_spec {
	bool left;
	bool zero;
	unsigned width;
};

/* Emits s (len bytes) padded to spec->width; returns the characters emitted. */
static int emit_padded(void (*put)(void *, char), void *ctx, const struct fmt_spec *spec,
		       const char *prefix, const char *s, unsigned len)
{
	unsigned plen = 0;
	while (prefix[plen])
		plen++;
	unsigned total = plen + len;
	unsigned pad = spec->width > total ? spec->width - total : 0;
	int n = 0;

	if (!spec->left && !spec->zero)
		for (; pad; pad--, n++)
			put(ctx, ' ');
	for (unsigned i = 0; i < plen; i++, n++)
		put(ctx, prefix[i]);
	if (!spec->left && spec->zero)
		for (; pad; pad--, n++)
			put(ctx, '0');
	for (unsigned i = 0; i < len; i++, n++)
		put(ctx, s[i]);
	for (; pad; pad--, n++)
		put(ctx, ' ');
	return n;
}

/* Formats v in base 10 or 16 into the end of buf; returns the start of the digits. */
static char *format_u64(char *end, uint64_t v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;
	do {
		*--p = digits[v % base];
		v /= base;
	} while (v);
	return p;
}

/* The one formatter behind printk and snprintk (conversions in printk.h). */
int kvformat(void (*put)(void *ctx, char c), void *ctx, const char *fmt, va_list ap)
{
	int n = 0;
	char numbuf[24];

	while (*fmt) {
		if (*fmt != '%') {
			put(ctx, *fmt++);
			n++;
			continue;
		}
		const char *start = fmt++;
		struct fmt_spec spec = { false, false, 0 };
		for (;; fmt++) {
			if (*fmt == '-')
				spec.left = true;
			else if (*fmt == '0')
				spec.zero = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			spec.width = spec.width * 10 + (unsigned)(*fmt++ - '0');
		int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
		if (*fmt == 'l') {
			lng = 1;
			fmt++;
			if (*fmt == 'l') {
				lng = 2;
				fmt++;
			}
		} else if (*fmt == 'z') {
			lng = 3;
			fmt++;
		}
		char conv = *fmt;
		if (conv)
			fmt++;
		switch (conv) {
		case 'd':
		case 'i': {
			int64_t v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long)
				  : lng == 2 ? (int64_t)va_arg(ap, long long) : (int64_t)va_arg(ap, size_t);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			char *end = numbuf + sizeof(numbuf);
			char *p = format_u64(end, mag, 10, false);
			n += emit_padded(put, ctx, &spec, v < 0 ? "-" : "", p, (unsigned)(end - p));
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng == 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long)
				   : lng == 2 ? va_arg(ap, unsigned long long) : va_arg(ap, size_t);
			char *end = numbuf + sizeof(numbuf);
			char *p = format_u64(end, v, conv == 'u' ? 10 : 16, conv == 'X');
			n += emit_padded(put, ctx, &spec, "", p, (unsigned)(end - p));
			break;
		}
		case 'p': {
			uint64_t v = (uint64_t)(uintptr_t)va_arg(ap, void *);
			char *end = numbuf + sizeof(numbuf);
			char *p = format_u64(end, v, 16, false);
			while (end - p < 16)
				*--p = '0';
			n += emit_padded(put, ctx, &spec, "0x", p, (unsigned)(end - p));
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			unsigned len = 0;
			while (s[len])
				len++;
			struct fmt_spec sp = spec;
			sp.zero = false;
			n += emit_padded(put, ctx, &sp, "", s, len);
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			struct fmt_spec sp = spec;
			sp.zero = false;
			n += emit_padded(put, ctx, &sp, "", &c, 1);
			break;
		}
		case '%':
			put(ctx, '%');
			n++;
			break;
		default:
			/* Unknown conversion: copy it literally so the mistake is visible. */
			for (const char *q = start; q < fmt; q++, n++)
				put(ctx, *q);
			break;
		}
	}
	return n;
}

/* ---- snprintk ---- */

struct buf_sink {
	char *buf;
	size_t cap;   /* bytes available including the NUL */
	size_t len;   /* characters produced so far (may exceed cap) */
};

/* kvformat sink: stores into a struct buf_sink while room remains, always counts. */
static void buf_put(void *ctx, char c)
{
	struct buf_sink *b = ctx;
	if (b->len + 1 < b->cap)
		b->buf[b->len] = c;
	b->len++;
}

/* va_list form of snprintk. */
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct buf_sink b = { buf, n, 0 };
	int r = kvformat(buf_put, &b, fmt, ap);
	if (n > 0)
		buf[b.len < n ? b.len : n - 1] = '\0';
	return r;
}

/* Formats into buf (NUL-terminated if n > 0); returns the untruncated length. */
int snprintk(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintk(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- console ---- */

/* Takes the console lock (interrupts off while held). */
void console_lock(void)
{
	spin_lock(&console_spinlock);
}

/* Releases the console lock. */
void console_unlock(void)
{
	spin_unlock(&console_spinlock);
}

/* Writes c to COM1 and tracks the column; caller holds the console lock. */
void console_putc_locked(char c)
{
	serial_putc(c);
	console_col = c == '\n' ? 0 : console_col + 1;
}

/* Column of the next character (0 = start of a line). */
unsigned console_column(void)
{
	return console_col;
}

/* Fatal paths only: releases the lock whoever holds it and lifts quiet. */
void console_break_lock(void)
{
	__atomic_store_n(&console_spinlock.locked, 0u, __ATOMIC_RELEASE);
	console_is_quiet = false;
}

/* Sets whether printk output is dropped. */
void console_set_quiet(bool quiet)
{
	console_is_quiet = quiet;
}

/* True while printk output is dropped. */
bool console_quiet(void)
{
	return console_is_quiet;
}

/* kvformat sink writing to the console (lock held by the caller). */
static void console_put(void *ctx, char c)
{
	(void)ctx;
	console_putc_locked(c);
}

/* kvformat sink that discards (quiet mode still returns the length). */
static void count_put(void *ctx, char c)
{
	(void)ctx;
	(void)c;
}

/* va_list form of printk. */
int vprintk(const char *fmt, va_list ap)
{
	if (console_is_quiet)
		return kvformat(count_put, NULL, fmt, ap);
	console_lock();
	int n = kvformat(console_put, NULL, fmt, ap);
	console_unlock();
	return n;
}

/* Formats to the console under its lock; dropped while quiet. */
int printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}
