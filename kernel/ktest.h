/*
 * ktest.h - in-kernel tests, selected by name on the command line.
 *
 *     KTEST(pmm, alloc_free) {
 *             struct frame f;
 *             KT_ASSERT_OK(frame_alloc(&f, FRAME_ALLOCATED));
 *             KT_ASSERT_NE(f.pfn.n, 0);
 *             frame_free(&f);
 *     }
 *
 * registers "pmm.alloc_free" in section .ktest.pmm.alloc_free; the linker
 * sorts them by name (kernel/kernel.ld), which is the run order. `test=` on
 * the command line selects tests by comma-separated globs (`*`, `?`; `all` =
 * `*`). Groups `fault` and `harness` end the run on purpose and are only
 * selected by a glob that names the group literally (`test=fault.divide`,
 * `test=harness.*`), never by `*` or `all`.
 *
 * A failing assertion prints `@@ test_fail ...` and returns from the test
 * function, so assertions belong in the test body (or in helpers whose
 * result the body asserts). The next test runs regardless.
 */
#ifndef FERROUS_KTEST_H
#define FERROUS_KTEST_H

#include <stdbool.h>
#include <stdint.h>

struct ktest {
	const char *name;   /* "group.test" */
	const char *group;  /* "group" */
	void (*fn)(void);
	const char *file;
	uint64_t line;
};

#define KTEST(group_, name_) \
	static void ktest_fn_##group_##__##name_(void); \
	static const struct ktest ktest_desc_##group_##__##name_ \
		__attribute__((used, section(".ktest." #group_ "." #name_), aligned(8))) = { \
		#group_ "." #name_, #group_, ktest_fn_##group_##__##name_, __FILE__, __LINE__ }; \
	static void ktest_fn_##group_##__##name_(void)

/* Assertion reporters (print test_fail and mark the current test failed). */
void ktest_fail_expr(const char *file, int line, const char *expr);
void ktest_fail_cmp(const char *file, int line, const char *expr, uint64_t left, uint64_t right);
void ktest_fail_err(const char *file, int line, const char *expr, int err);
void ktest_skip(const char *reason);

#define KT_ASSERT(e) \
	do { \
		if (!(e)) { \
			ktest_fail_expr(__FILE__, __LINE__, #e); \
			return; \
		} \
	} while (0)

#define KT_CMP_(a, op, b) \
	do { \
		uint64_t kt_l_ = (uint64_t)(a), kt_r_ = (uint64_t)(b); \
		if (!(kt_l_ op kt_r_)) { \
			ktest_fail_cmp(__FILE__, __LINE__, #a " " #op " " #b, kt_l_, kt_r_); \
			return; \
		} \
	} while (0)

#define KT_ASSERT_EQ(a, b) KT_CMP_(a, ==, b)
#define KT_ASSERT_NE(a, b) KT_CMP_(a, !=, b)
#define KT_ASSERT_LT(a, b) KT_CMP_(a, <, b)
#define KT_ASSERT_LE(a, b) KT_CMP_(a, <=, b)

/* err is an mm_err_t; anything but MM_OK (0) fails, naming the error. */
#define KT_ASSERT_OK(err) \
	do { \
		int kt_e_ = (int)(err); \
		if (kt_e_ != 0) { \
			ktest_fail_err(__FILE__, __LINE__, #err, kt_e_); \
			return; \
		} \
	} while (0)

#define KT_SKIP(reason) \
	do { \
		ktest_skip(reason); \
		return; \
	} while (0)

/* The run's seed (seed= or the default). */
uint64_t ktest_seed(void);
/* Next value of the current test's PRNG: splitmix64 seeded with seed ^ FNV-1a(test name). */
uint64_t ktest_rand(void);
/* Name of the running test, NULL between tests. */
const char *ktest_current(void);

struct ktest_totals {
	unsigned selected, passed, failed, skipped;
	bool selection_error; /* a glob of test= matched nothing */
};

/* Prints the seed line, runs the tests test= selects (none when absent) in name order, and returns
 * the totals. */
struct ktest_totals ktest_run_selected(void);

/* Prints `@@ tests selected=N passed=N failed=N skipped=N`. */
void ktest_report_totals(const struct ktest_totals *t);

/* Glob match with `*` (any run, also empty) and `?` (one character); exposed for tests. */
bool ktest_glob_match(const char *pattern, const char *s);

#endif
