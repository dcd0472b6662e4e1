/* shims.c - host stand-ins for the kernel's panic (print + abort) used by the
 * paging host tests and benchmarks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "panic.h"

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "PANIC at %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}
