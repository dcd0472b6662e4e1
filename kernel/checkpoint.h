/*
 * checkpoint.h - points where a grader inspects the machine from outside.
 *
 * checkpoint() prints `@@ checkpoint name=NAME <fields>` and then waits as
 * the `wait=` key says (grade/PROTOCOL.md): `serial` spins until one byte
 * arrives on COM1 (input pending before the line is discarded first),
 * `magic` executes the Bochs magic break, absent goes on at once. Interrupts
 * are off while the grader looks.
 */
#ifndef FERROUS_CHECKPOINT_H
#define FERROUS_CHECKPOINT_H

/* Prints the checkpoint line (fields formatted printf-style from fmt; NULL or "" for none) and waits. */
void checkpoint(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks the wait= key once (reports a bad value); called by kmain after cmdline_parse. */
void checkpoint_init(void);

#endif
