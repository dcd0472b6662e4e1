/*
 * serial.c - polled 16550 driver for COM1.
 *
 * Bochs starts the UART in 5-bit mode, so serial_init() must run before the
 * first byte (kmain calls it first). No interrupts are used.
 */
#include "serial.h"
#include "x86.h"

enum {
	UART_DATA = 0,  /* RBR/THR; DLL when DLAB = 1 */
	UART_IER  = 1,  /* DLM when DLAB = 1 */
	UART_FCR  = 2,
	UART_LCR  = 3,
	UART_MCR  = 4,
	UART_LSR  = 5,
};

#define LSR_DATA_READY  0x01
#define LSR_THR_EMPTY   0x20
#define LSR_TX_IDLE     0x40  /* holding register and shift register both empty */

/* A transmitter that never gets ready (no UART) must not hang the kernel. */
#define SERIAL_TX_SPIN_LIMIT 1000000

/* Programs 115200 baud (divisor 1), 8 data bits, no parity, 1 stop bit, FIFOs on, DTR/RTS/OUT2. */
void serial_init(void)
{
	outb(SERIAL_COM1 + UART_IER, 0x00);
	outb(SERIAL_COM1 + UART_LCR, 0x80);
	outb(SERIAL_COM1 + UART_DATA, 0x01);
	outb(SERIAL_COM1 + UART_IER, 0x00);
	outb(SERIAL_COM1 + UART_LCR, 0x03);
	outb(SERIAL_COM1 + UART_FCR, 0xC7);
	outb(SERIAL_COM1 + UART_MCR, 0x0B);
}

/* Writes one raw byte once the transmit holding register is empty (or the wait limit passed). */
static void serial_put_raw(uint8_t b)
{
	for (long i = 0; i < SERIAL_TX_SPIN_LIMIT; i++) {
		if (inb(SERIAL_COM1 + UART_LSR) & LSR_THR_EMPTY)
			break;
		cpu_pause();
	}
	outb(SERIAL_COM1 + UART_DATA, b);
}

/* Sends c; a newline goes out as CR LF so terminals return to column 0. */
void serial_putc(char c)
{
	if (c == '\n')
		serial_put_raw('\r');
	serial_put_raw((uint8_t)c);
}

/* Spins (bounded) until LSR reports the transmitter idle. */
void serial_flush(void)
{
	for (long i = 0; i < SERIAL_TX_SPIN_LIMIT; i++) {
		if (inb(SERIAL_COM1 + UART_LSR) & LSR_TX_IDLE)
			return;
		cpu_pause();
	}
}

/* Returns true and the byte if the receiver holds one. */
bool serial_try_getc(uint8_t *out)
{
	if (!(inb(SERIAL_COM1 + UART_LSR) & LSR_DATA_READY))
		return false;
	*out = inb(SERIAL_COM1 + UART_DATA);
	return true;
}

/* Spins until a byte arrives. */
uint8_t serial_getc(void)
{
	uint8_t b;
	while (!serial_try_getc(&b))
		cpu_pause();
	return b;
}
