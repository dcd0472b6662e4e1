/*
 * protocol.h - the structured serial protocol of grade/PROTOCOL.md.
 *
 * A protocol line is `@@ <event> key=value ...` at the start of a line; the
 * whole line is written under the console lock so no other output splits it.
 */
#ifndef FERROUS_PROTOCOL_H
#define FERROUS_PROTOCOL_H

#include <stdarg.h>
#include <stddef.h>

/* Prints `@@ event <fields>\n`, first a newline if the console column is not 0. fmt may be NULL or ""
 * for an event without fields. Never suppressed by quiet=1. */
void proto_line(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void proto_vline(const char *event, const char *fmt, va_list ap);

/* Writes into buf a double-quoted copy of s with `"`, `\` and newline escaped (other control bytes
 * become '?'); a value too long for buf is cut (never inside an escape) and still closed with `"`.
 * Returns buf. n must be at least 3. */
const char *proto_quote(char *buf, size_t n, const char *s);

#endif
