/*
 * console.c - the loader's output and its one way out on failure.
 *
 * Before ExitBootServices text goes to ConOut (OVMF copies it to the serial
 * port). Once ExitBootServices has been called, even unsuccessfully, ConOut
 * may be gone, so text goes straight to COM1, which the firmware left
 * programmed (115200 8N1).
 */
#include "loader.h"
#include "cpu.h"

static bool boot_services_gone;

void con_boot_services_gone(void)
{
	boot_services_gone = true;
}

/* Sends one byte to COM1, waiting (bounded) for the transmitter to be empty. */
static void com1_putc(char c)
{
	for (int spin = 0; spin < 100000 && !(inb(COM1_PORT + 5) & 0x20); spin++) {}
	outb(COM1_PORT, (uint8_t)c);
}

/* Writes NUL-terminated ASCII, turning "\n" into "\r\n". */
static void con_write(const char *s)
{
	if (boot_services_gone || !ST || !ST->ConOut) {
		for (; *s; s++) {
			if (*s == '\n')
				com1_putc('\r');
			com1_putc(*s);
		}
		return;
	}
	CHAR16 chunk[129];
	size_t n = 0;
	for (; *s; s++) {
		if (n + 2 >= 128) {
			chunk[n] = 0;
			ST->ConOut->OutputString(ST->ConOut, chunk);
			n = 0;
		}
		if (*s == '\n')
			chunk[n++] = L'\r';
		chunk[n++] = (CHAR16)(uint8_t)*s;
	}
	chunk[n] = 0;
	if (n)
		ST->ConOut->OutputString(ST->ConOut, chunk);
}

void con_printf(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	con_write(line);
}

/* Copies s into buf as a protocol field value: double-quoted; '"', '\\' and newline escaped; other
 * control characters dropped. */
static void quote(char *buf, size_t n, const char *s)
{
	size_t o = 0;
	buf[o++] = '"';
	for (; *s && o + 4 < n; s++) {
		if (*s == '"' || *s == '\\') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if ((uint8_t)*s >= 0x20 && (uint8_t)*s < 0x7f) {
			buf[o++] = *s;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* Prints the error both ways, then tries every way out of the machine. */
static void fail_v(const char *fmt, va_list ap)
{
	char msg[256], quoted[2 * sizeof msg + 3];  /* every character escaped, two quotes, NUL */
	fmt_vsnprintf(msg, sizeof msg, fmt, ap);
	quote(quoted, sizeof quoted, msg);
	/* The leading newline puts "@@ " at the start of a line whatever the firmware printed before. */
	con_printf("\nferrous-efi: error: %s\n", msg);
	con_printf("@@ loader_error msg=%s\n", quoted);
	/* QEMU's isa-debug-exit: the emulator exits with (0x13 << 1) | 1 = 39. Ignored on real hardware. */
	outw(DEBUG_EXIT_PORT, 0x13);
	if (RT)
		RT->ResetSystem(EfiResetShutdown, EFI_LOAD_ERROR, 0, NULL);
}

void loader_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(fmt, ap);
	va_end(ap);
}

_Noreturn void loader_fail_final(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(fmt, ap);
	va_end(ap);
	halt_forever();
}

const char *efi_status_name(EFI_STATUS s)
{
	switch (s) {
	case EFI_SUCCESS:           return "Success";
	case EFI_LOAD_ERROR:        return "Load Error";
	case EFI_INVALID_PARAMETER: return "Invalid Parameter";
	case EFI_UNSUPPORTED:       return "Unsupported";
	case EFI_BUFFER_TOO_SMALL:  return "Buffer Too Small";
	case EFI_DEVICE_ERROR:      return "Device Error";
	case EFI_OUT_OF_RESOURCES:  return "Out of Resources";
	case EFI_VOLUME_CORRUPTED:  return "Volume Corrupted";
	case EFI_NO_MEDIA:          return "No Media";
	case EFI_NOT_FOUND:         return "Not Found";
	case EFI_ACCESS_DENIED:     return "Access Denied";
	default:                    return "EFI error";
	}
}
