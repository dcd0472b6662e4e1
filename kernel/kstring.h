/*
 * kstring.h - the C library string and memory functions the kernel provides
 * (kernel/string.c). Same names and contracts as ISO C, so the compiler's
 * implicit memset/memcpy calls resolve here and code shared with host tests can
 * use the same calls (host builds get them from libc).
 */
#ifndef FERROUS_KSTRING_H
#define FERROUS_KSTRING_H

#include <stddef.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif
