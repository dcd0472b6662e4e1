/* serial.h - the COM1 16550 UART (115200 8N1), polled; the console and protocol both write here. */
#ifndef FERROUS_SERIAL_H
#define FERROUS_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

#define SERIAL_COM1 0x3F8

/* Programs COM1 for 115200 8N1 with FIFOs; must run before the first byte is sent. */
void serial_init(void);
/* Sends one byte, waiting (bounded) for the transmitter; "\n" is sent as "\r\n". */
void serial_putc(char c);
/* Waits (bounded) until the transmitter has sent every byte: before the emulator stops (Bochs
 * keeps bytes still in its UART FIFO out of the serial file). */
void serial_flush(void);
/* Returns true and stores a byte if one is waiting in the receiver; never blocks. */
bool serial_try_getc(uint8_t *out);
/* Blocks until one byte arrives and returns it. */
uint8_t serial_getc(void);

#endif
