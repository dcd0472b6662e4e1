/*
 * ctest.h - a minimal host test framework for the mm tests.
 *
 * CHECK(e) records a failure (file, line, expression) and goes on; a test
 * binary exits nonzero when any check failed. EXPECT_PANIC(stmt, text) runs
 * stmt and checks that it panicked with a message containing text (the host
 * panic shim longjmps back here).
 */
#ifndef FERROUS_CTEST_H
#define FERROUS_CTEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include "panic.h"

extern int ctest_failures;
extern int ctest_checks;

#define CHECK(e) \
	do { \
		ctest_checks++; \
		if (!(e)) { \
			ctest_failures++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e); \
		} \
	} while (0)

#define CHECK_EQ(a, b) \
	do { \
		uint64_t ca_ = (uint64_t)(a), cb_ = (uint64_t)(b); \
		ctest_checks++; \
		if (ca_ != cb_) { \
			ctest_failures++; \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (left=%" PRIu64 " right=%" PRIu64 ")\n", \
				__FILE__, __LINE__, #a, #b, ca_, cb_); \
		} \
	} while (0)

#define EXPECT_PANIC(stmt, text) \
	do { \
		jmp_buf jb_; \
		ctest_checks++; \
		host_panic_msg[0] = '\0'; \
		if (setjmp(jb_) == 0) { \
			host_panic_jmp = &jb_; \
			stmt; \
			host_panic_jmp = NULL; \
			ctest_failures++; \
			fprintf(stderr, "%s:%d: expected a panic from %s\n", __FILE__, __LINE__, #stmt); \
		} else if (!strstr(host_panic_msg, (text))) { \
			ctest_failures++; \
			fprintf(stderr, "%s:%d: panic message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
				host_panic_msg, (text)); \
		} \
	} while (0)

#define CTEST_DEFINE_GLOBALS int ctest_failures, ctest_checks

/* Prints the summary line and returns the process exit status. */
static inline int ctest_finish(const char *name)
{
	printf("%s: %d checks, %d failures\n", name, ctest_checks, ctest_failures);
	return ctest_failures ? 1 : 0;
}

#endif
