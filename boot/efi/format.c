/*
 * format.c - a small snprintf for the loader's ASCII messages. Own code (not
 * gnu-efi's Print) so that gcc checks the formats and so that it works after
 * ExitBootServices (no allocation, no firmware call).
 */
#include "loader.h"

struct out {
	char  *buf;
	size_t n;    /* capacity including the NUL */
	size_t len;  /* characters produced so far (may exceed n - 1: truncated) */
};

/* Appends one character if it fits, always counting it. */
static void put(struct out *o, char c)
{
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

/* Appends `v` in base 10 or 16 (with a '-' when `negative`), right-aligned in `width` with `pad` unless
 * `left` (the caller pads on the right then). */
static void put_uint(struct out *o, uint64_t v, unsigned base, bool upper, int width, char pad, bool left,
		     bool negative)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int len = 0;
	do {
		tmp[len++] = digits[v % base];
		v /= base;
	} while (v);
	if (negative)
		tmp[len++] = '-';
	if (!left)
		for (int i = len; i < width; i++)
			put(o, pad);
	while (len)
		put(o, tmp[--len]);
}

size_t fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		bool left = false;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*p == '-') { left = true; p++; }
		if (*p == '0') { pad = '0'; p++; }
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l') { lng++; p++; }
		if (*p == 'z') { lng = 2; p++; }
		size_t start = o.len;
		switch (*p) {
		case 'd': case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			put_uint(&o, mag, 10, false, width, pad, left, v < 0);
			break;
		}
		case 'u': case 'x': case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_uint(&o, v, *p == 'u' ? 10 : 16, *p == 'X', width, pad, left, false);
			break;
		}
		case 'p':
			put(&o, '0'); put(&o, 'x');
			put_uint(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, width, pad, left, false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t len = 0;
			while (s[len]) len++;
			if (!left)
				for (size_t i = len; (int)i < width; i++) put(&o, ' ');
			while (*s) put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;  /* a lone '%' at the end: print nothing more */
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
		if (left)
			while (o.len - start < (size_t)width) put(&o, ' ');
	}
	if (n)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return o.len;
}
