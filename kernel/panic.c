/* panic.c - the one way the kernel stops on a broken invariant (see panic.h). */
#include "panic.h"

#include <stdarg.h>
#include <stdint.h>
#include "backtrace.h"
#include "exit.h"
#include "printk.h"
#include "protocol.h"
#include "x86.h"

static int fatal_depth;

/* Counts nested fatal reports; the first caller gets 0. */
int fatal_enter(void)
{
	cli();
	int depth = __atomic_fetch_add(&fatal_depth, 1, __ATOMIC_SEQ_CST);
	console_break_lock();
	return depth;
}

/* panic line, human message, backtrace from the caller, end; a nested panic only prints its location. */
_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	int depth = fatal_enter();
	if (depth > 0) {
		/* A panic while reporting a panic or fault: report the bare location and stop, without
		 * touching the code that failed again (formatting, symbols, backtrace). */
		printk("\nrecursive panic at %s:%d (depth %d): %s\n", file, line, depth, fmt);
		kernel_exit(EXIT_PANIC);
	}

	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintk(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	char quoted[sizeof(msg) * 2 + 3];
	proto_line("panic", "msg=%s file=%s line=%d", proto_quote(quoted, sizeof(quoted), msg), file, line);
	printk("kernel panic at %s:%d: %s\n", file, line, msg);
	backtrace_report(0, (uint64_t)(uintptr_t)__builtin_frame_address(0));
	kernel_exit(EXIT_PANIC);
}
