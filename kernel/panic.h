/*
 * panic.h - stop the kernel on a broken invariant.
 *
 * panic() prints `@@ panic msg="..." file=F line=N`, a human message, the
 * symbolised backtrace (`@@ backtrace frames="..."`), then `@@ end
 * status=panic`, and leaves the emulator (QEMU exit code 37). A panic while
 * panicking prints a short note and exits at once.
 */
#ifndef FERROUS_PANIC_H
#define FERROUS_PANIC_H

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Reports the formatted message with file and line, a backtrace, and ends the run. */
_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), cold));

/* Panics with the expression text, file and line when e is false. */
#define kassert(e) \
	do { \
		if (!(e)) \
			panic_at(__FILE__, __LINE__, "kassert: %s", #e); \
	} while (0)

/* For the panic and fault paths only: disables interrupts, breaks a console lock the interrupted code
 * may hold, and returns how many fatal reports were already in progress (0 for the first). */
int fatal_enter(void);

#endif
