/* host_panic.c - panic_at for host builds (see panic.h shim). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "panic.h"

jmp_buf *host_panic_jmp;
char host_panic_msg[512];

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(host_panic_msg, sizeof host_panic_msg, "%s:%d: ", file, line);
	vsnprintf(host_panic_msg + n, sizeof host_panic_msg - (size_t)n, fmt, ap);
	va_end(ap);
	if (host_panic_jmp) {
		jmp_buf *j = host_panic_jmp;
		host_panic_jmp = NULL;
		longjmp(*j, 1);
	}
	fprintf(stderr, "PANIC at %s\n", host_panic_msg);
	abort();
}
