/* checkpoint.c - checkpoint lines and the wait= handshake (see checkpoint.h). */
#include "checkpoint.h"

#include <stdarg.h>
#include "cmdline.h"
#include "kstring.h"
#include "printk.h"
#include "protocol.h"
#include "serial.h"
#include "x86.h"

enum wait_mode { WAIT_NONE, WAIT_SERIAL, WAIT_MAGIC };

static enum wait_mode mode = WAIT_NONE;

/* Reads wait= once; a value other than serial/magic is a cmdline_bad. */
void checkpoint_init(void)
{
	const char *w = cmdline_get("wait");
	if (!w)
		mode = WAIT_NONE;
	else if (strcmp(w, "serial") == 0)
		mode = WAIT_SERIAL;
	else if (strcmp(w, "magic") == 0)
		mode = WAIT_MAGIC;
	else
		cmdline_report_bad("wait", w, "must be serial or magic");
}

/* Drains stale input, prints the line, flushes the UART, then waits per wait=. */
void checkpoint(const char *name, const char *fmt, ...)
{
	char fields[256];
	fields[0] = '\0';
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintk(fields, sizeof(fields), fmt, ap);
		va_end(ap);
	}
	uint64_t flags = irq_save();
	uint8_t stale;
	if (mode == WAIT_SERIAL)
		while (serial_try_getc(&stale))
			;
	if (fields[0])
		proto_line("checkpoint", "name=%s %s", name, fields);
	else
		proto_line("checkpoint", "name=%s", name);
	serial_flush();
	if (mode == WAIT_SERIAL)
		(void)serial_getc();
	else if (mode == WAIT_MAGIC)
		bochs_magic_break();
	irq_restore(flags);
}
