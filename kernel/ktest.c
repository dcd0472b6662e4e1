/* ktest.c - the in-kernel test runner (see ktest.h). */
#include "ktest.h"

#include "cmdline.h"
#include "kstring.h"
#include "printk.h"
#include "protocol.h"

#include "mm/types.h"

#define KTEST_DEFAULT_SEED 0x5EED
#define KTEST_MAX_PATTERNS 32

extern const struct ktest __ktest_start[], __ktest_end[];

static uint64_t run_seed = KTEST_DEFAULT_SEED;
static const struct ktest *current;
static uint64_t rng_state;
static enum { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP } outcome;

/* Returns the run seed (seed= or KTEST_DEFAULT_SEED). */
uint64_t ktest_seed(void)
{
	return run_seed;
}

/* Returns the running test's name, NULL between tests. */
const char *ktest_current(void)
{
	return current ? current->name : NULL;
}

/* 64-bit FNV-1a of s. */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64 step of the current test's state (seeded in run_one). */
uint64_t ktest_rand(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Iterative glob match with backtracking to the last `*`. */
bool ktest_glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* Formats a value for a test_fail field: decimal when small, 0x hex otherwise. */
static const char *fmt_value(char *buf, size_t n, uint64_t v)
{
	if (v < 1000000)
		snprintk(buf, n, "%lu", (unsigned long)v);
	else
		snprintk(buf, n, "0x%lx", (unsigned long)v);
	return buf;
}

/* Marks the current test failed; returns false if it had already failed (report once). */
static bool first_failure(void)
{
	if (outcome == OUTCOME_FAIL)
		return false;
	outcome = OUTCOME_FAIL;
	return true;
}

/* Reports a failed KT_ASSERT (first failure of the test only). */
void ktest_fail_expr(const char *file, int line, const char *expr)
{
	if (!first_failure())
		return;
	char q[256];
	proto_line("test_fail", "name=%s file=%s line=%d expr=%s", ktest_current(), file, line,
		   proto_quote(q, sizeof(q), expr));
	printk("FAIL %s at %s:%d: %s\n", ktest_current(), file, line, expr);
}

/* Reports a failed comparison with both operand values. */
void ktest_fail_cmp(const char *file, int line, const char *expr, uint64_t left, uint64_t right)
{
	if (!first_failure())
		return;
	char q[256], l[24], r[24];
	proto_line("test_fail", "name=%s file=%s line=%d expr=%s left=%s right=%s", ktest_current(), file, line,
		   proto_quote(q, sizeof(q), expr), fmt_value(l, sizeof(l), left), fmt_value(r, sizeof(r), right));
	printk("FAIL %s at %s:%d: %s (left=%s right=%s)\n", ktest_current(), file, line, expr, l, r);
}

/* Reports a KT_ASSERT_OK that got an error, naming it via mm_strerror. */
void ktest_fail_err(const char *file, int line, const char *expr, int err)
{
	if (!first_failure())
		return;
	const char *name = mm_strerror((mm_err_t)err);
	char q[256];
	proto_line("test_fail", "name=%s file=%s line=%d expr=%s err=%s code=%d", ktest_current(), file, line,
		   proto_quote(q, sizeof(q), expr), name, err);
	printk("FAIL %s at %s:%d: %s returned %s (%d)\n", ktest_current(), file, line, expr, name, err);
}

/* Marks the current test skipped (unless it already failed) and prints test_skip. */
void ktest_skip(const char *reason)
{
	if (outcome == OUTCOME_FAIL)
		return;
	outcome = OUTCOME_SKIP;
	char q[256];
	proto_line("test_skip", "name=%s reason=%s", ktest_current(), proto_quote(q, sizeof(q), reason));
}

/* True for groups whose tests end the run on purpose. */
static bool group_is_terminal(const char *group)
{
	return strcmp(group, "fault") == 0 || strcmp(group, "harness") == 0;
}

/* True iff glob selects t: terminal groups only when the glob starts with "<group>." literally. */
static bool glob_selects(const char *glob, const struct ktest *t)
{
	if (!ktest_glob_match(glob, t->name))
		return false;
	if (!group_is_terminal(t->group))
		return true;
	size_t g = strlen(t->group);
	return strncmp(glob, t->group, g) == 0 && glob[g] == '.';
}

/* Splits the test= value at commas into patterns (inside buf); "all" becomes "*". Returns the count. */
static unsigned split_patterns(char *buf, const char **pats, unsigned max)
{
	unsigned n = 0;
	char *p = buf;
	while (*p && n < max) {
		char *start = p;
		while (*p && *p != ',')
			p++;
		if (*p)
			*p++ = '\0';
		if (*start)
			pats[n++] = strcmp(start, "all") == 0 ? "*" : start;
	}
	return n;
}

/* Runs one test and updates the totals. */
static void run_one(const struct ktest *t, struct ktest_totals *tot)
{
	current = t;
	outcome = OUTCOME_PASS;
	rng_state = run_seed ^ fnv1a64(t->name);
	proto_line("test_begin", "name=%s group=%s", t->name, t->group);
	t->fn();
	if (outcome == OUTCOME_PASS) {
		proto_line("test_pass", "name=%s", t->name);
		tot->passed++;
	} else if (outcome == OUTCOME_FAIL) {
		tot->failed++;
	} else {
		tot->skipped++;
	}
	current = NULL;
}

/* Seed line, selection checks (a glob that matches nothing is a cmdline_bad), then the run. */
struct ktest_totals ktest_run_selected(void)
{
	struct ktest_totals tot = { 0, 0, 0, 0, false };
	uint64_t seed;
	const char *src = "default";
	if (cmdline_get_u64("seed", &seed)) {
		run_seed = seed;
		src = "cmdline";
	}
	proto_line("seed", "value=%lu source=%s", (unsigned long)run_seed, src);

	const char *sel = cmdline_get("test");
	if (!sel)
		return tot;

	static char buf[CMDLINE_BUF_SIZE];
	const char *pats[KTEST_MAX_PATTERNS];
	size_t len = strnlen(sel, sizeof(buf) - 1);
	memcpy(buf, sel, len);
	buf[len] = '\0';
	unsigned npat = split_patterns(buf, pats, KTEST_MAX_PATTERNS);
	if (npat == 0) {
		cmdline_report_bad("test", sel, "no test matches");
		tot.selection_error = true;
		return tot;
	}
	for (unsigned i = 0; i < npat; i++) {
		bool any = false;
		for (const struct ktest *t = __ktest_start; t < __ktest_end && !any; t++)
			any = glob_selects(pats[i], t);
		if (!any) {
			cmdline_report_bad("test", pats[i], "no test matches");
			tot.selection_error = true;
		}
	}

	for (const struct ktest *t = __ktest_start; t < __ktest_end; t++)
		for (unsigned i = 0; i < npat; i++)
			if (glob_selects(pats[i], t)) {
				tot.selected++;
				break;
			}
	for (const struct ktest *t = __ktest_start; t < __ktest_end; t++)
		for (unsigned i = 0; i < npat; i++)
			if (glob_selects(pats[i], t)) {
				run_one(t, &tot);
				break;
			}
	return tot;
}

/* Prints the `tests` totals line. */
void ktest_report_totals(const struct ktest_totals *t)
{
	proto_line("tests", "selected=%u passed=%u failed=%u skipped=%u", t->selected, t->passed, t->failed,
		   t->skipped);
}
