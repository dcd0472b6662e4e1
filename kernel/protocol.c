/* protocol.c - protocol lines on the console (grade/PROTOCOL.md). */
#include "protocol.h"

#include "printk.h"
#include "serial.h"

/* kvformat sink for protocol fields (console lock held). */
static void proto_put(void *ctx, char c)
{
	(void)ctx;
	console_putc_locked(c);
}

/* Emits one complete protocol line under the console lock. */
void proto_vline(const char *event, const char *fmt, va_list ap)
{
	console_lock();
	if (console_column() != 0)
		console_putc_locked('\n');
	console_putc_locked('@');
	console_putc_locked('@');
	console_putc_locked(' ');
	for (const char *p = event; *p; p++)
		console_putc_locked(*p);
	if (fmt && *fmt) {
		console_putc_locked(' ');
		kvformat(proto_put, NULL, fmt, ap);
	}
	console_putc_locked('\n');
	/* A run may die right after this line (triple fault, hang): let the UART send all of it. */
	serial_flush();
	console_unlock();
}

/* Variadic form of proto_vline. */
void proto_line(const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	proto_vline(event, fmt, ap);
	va_end(ap);
}

/* Quotes and escapes s for a protocol value; cuts long values between characters. */
const char *proto_quote(char *buf, size_t n, const char *s)
{
	if (n < 3) {
		if (n > 0)
			buf[0] = '\0';
		return buf;
	}
	size_t o = 0;
	buf[o++] = '"';
	/* Keep room for the closing quote and the NUL. */
	for (; s && *s; s++) {
		char c = *s;
		char esc = 0;
		if (c == '"' || c == '\\')
			esc = c;
		else if (c == '\n')
			esc = 'n';
		if (esc) {
			if (o + 2 > n - 2)
				break;
			buf[o++] = '\\';
			buf[o++] = esc;
		} else {
			if (o + 1 > n - 2)
				break;
			buf[o++] = ((unsigned char)c < 0x20 || c == 0x7f) ? '?' : c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
