/* exit.h - end the run: the final `@@ end` line, then leave the emulator. */
#ifndef FERROUS_EXIT_H
#define FERROUS_EXIT_H

enum exit_status {
	EXIT_OK    = 0x10, /* QEMU exit code 33 */
	EXIT_FAIL  = 0x11, /* 35 */
	EXIT_PANIC = 0x12, /* 37 */
};

/* Prints `@@ end status=ok|fail|panic` (once per run: later calls skip it) and leaves: QEMU
 * isa-debug-exit, Bochs magic break, QEMU ACPI-less power-off, then halts forever. */
_Noreturn void kernel_exit(enum exit_status status);

/* Returns the protocol name of a status ("ok", "fail", "panic"). */
const char *exit_status_name(enum exit_status status);

#endif
