/*
 * bench_util.h - timing and statistics helpers shared by the host benchmarks (tests/bench_*.c).
 *
 * The including file defines _POSIX_C_SOURCE (or _GNU_SOURCE) before its first #include, for clock_gettime.
 */
#ifndef FERROUS_BENCH_UTIL_H
#define FERROUS_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Monotonic clock in nanoseconds. */
static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* qsort comparator: ascending doubles. */
static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (n > 0; the upper one for even n). Sorts v in place, so v[0] is the minimum afterwards. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[n / 2];
}

#endif
