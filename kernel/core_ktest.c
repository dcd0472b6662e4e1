/*
 * core_ktest.c - in-kernel tests of the kernel core: boot_info validation,
 * command line, formatting, protocol quoting, symbols, checkpoints; and the
 * tests that end the run on purpose (groups fault and harness, selected only
 * by name: see ktest.h).
 */
#include <stdint.h>

#include "backtrace.h"
#include "boot_info_check.h"
#include "checkpoint.h"
#include "cmdline.h"
#include "gdt.h"
#include "ksyms.h"
#include "kstring.h"
#include "ktest.h"
#include "panic.h"
#include "printk.h"
#include "protocol.h"
#include "traps.h"
#include "x86.h"

/* True iff needle occurs in s. */
static bool contains(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (strncmp(s, needle, n) == 0)
			return true;
	return n == 0;
}

/* ---- bootinfo.*: the checker on private copies ---- */

#define FAKE_MAP_N 4
static struct boot_mem_desc fake_map[FAKE_MAP_N];
static struct boot_info fake_bi;
static char fake_cmdline[] = "test=x seed=1";
static char why[192];

/* Builds a valid boot_info (header from the kernel's copy) with a 4-entry map in fake_map. */
static void fake_reset(void)
{
	fake_bi = *boot_info_get();
	static const struct boot_mem_desc good[FAKE_MAP_N] = {
		{ EFI_CONVENTIONAL_MEMORY, 0, 0x0, 0, 0x9f, 0 },
		{ EFI_RESERVED_MEMORY_TYPE, 0, 0x9f000, 0, 0x61, 0 },
		{ EFI_CONVENTIONAL_MEMORY, 0, 0x100000, 0, 0x100, 0 },
		{ EFI_LOADER_DATA, 0, 0x200000, 0, 0x1e00, 0 },
	};
	memcpy(fake_map, good, sizeof(good));
	fake_bi.mmap_count = FAKE_MAP_N;
	fake_bi.mmap_desc_size = sizeof(struct boot_mem_desc);
	fake_bi.cmdline_len = strlen(fake_cmdline);
	why[0] = '\0';
}

/* Runs the pure checker on the fake copy. */
static bool fake_check(void)
{
	return boot_info_check_mapped(&fake_bi, fake_map, fake_cmdline, why, sizeof(why));
}

KTEST(bootinfo, accepts_real)
{
	/* The kernel's own copy, read back through the direct map like the loader's original. */
	KT_ASSERT(boot_info_get() != NULL);
	bool ok = boot_info_check(boot_info_get(), why, sizeof(why));
	if (!ok)
		printk("bootinfo.accepts_real: %s\n", why);
	KT_ASSERT(ok);
}

KTEST(bootinfo, accepts_good_copy)
{
	fake_reset();
	KT_ASSERT(fake_check());
}

KTEST(bootinfo, accepts_wide_descriptors)
{
	/* UEFI firmware may space descriptors wider than the struct: 48-byte stride. */
	static unsigned char wide[FAKE_MAP_N * 48];
	fake_reset();
	memset(wide, 0xee, sizeof(wide));
	for (int i = 0; i < FAKE_MAP_N; i++)
		memcpy(wide + i * 48, &fake_map[i], sizeof(fake_map[i]));
	fake_bi.mmap_desc_size = 48;
	KT_ASSERT(boot_info_check_mapped(&fake_bi, wide, fake_cmdline, why, sizeof(why)));
}

KTEST(bootinfo, rejects_bad_magic)
{
	fake_reset();
	fake_bi.magic ^= 1;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "magic 0x"));
}

KTEST(bootinfo, rejects_bad_version)
{
	fake_reset();
	fake_bi.version = 7;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "version 7 != 1"));
}

KTEST(bootinfo, rejects_small_size)
{
	fake_reset();
	fake_bi.size = 16;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "size 16 < sizeof"));
}

KTEST(bootinfo, rejects_small_desc_size)
{
	fake_reset();
	fake_bi.mmap_desc_size = 24;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap_desc_size 24"));
}

KTEST(bootinfo, rejects_empty_map)
{
	fake_reset();
	fake_bi.mmap_count = 0;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap_count 0"));
}

KTEST(bootinfo, rejects_absurd_count)
{
	fake_reset();
	fake_bi.mmap_count = 1000000;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap_count 1000000"));
}

KTEST(bootinfo, rejects_zero_length)
{
	fake_reset();
	fake_map[2].num_pages = 0;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap[2].num_pages 0"));
	KT_ASSERT(contains(why, "zero length"));
}

KTEST(bootinfo, rejects_unaligned)
{
	fake_reset();
	fake_map[1].phys_start = 0x9f010;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap[1].phys_start 0x9f010 not 4 KiB aligned"));
}

KTEST(bootinfo, rejects_unsorted)
{
	fake_reset();
	struct boot_mem_desc t = fake_map[1];
	fake_map[1] = fake_map[2];
	fake_map[2] = t;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap[2].phys_start 0x9f000 < mmap[1].phys_start 0x100000 (unsorted)"));
}

KTEST(bootinfo, rejects_overlap)
{
	fake_reset();
	fake_map[2].phys_start = 0xff000; /* mmap[1] ends at 0x100000 */
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap[2].phys_start 0xff000 < end of mmap[1] 0x100000 (overlap)"));
}

KTEST(bootinfo, rejects_wraparound)
{
	fake_reset();
	fake_map[3].num_pages = UINT64_MAX / 4096;
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "mmap[3]"));
	KT_ASSERT(contains(why, "wrap-around"));
}

KTEST(bootinfo, rejects_unterminated_cmdline)
{
	fake_reset();
	fake_bi.cmdline_len = 4; /* "test" is followed by '=', not NUL */
	KT_ASSERT(!fake_check());
	KT_ASSERT(contains(why, "cmdline not NUL-terminated at cmdline_len 4"));
}

KTEST(bootinfo, rejects_map_beyond_direct_map)
{
	fake_reset();
	fake_bi.mmap_phys = fake_bi.direct_map_limit - 64;
	KT_ASSERT(!boot_info_check(&fake_bi, why, sizeof(why)));
	KT_ASSERT(contains(why, "mmap_phys"));
	KT_ASSERT(contains(why, "beyond direct_map_limit"));
}

/* ---- cmdline.* ---- */

static struct cmdline test_cl;

KTEST(cmdline, known_keys)
{
	cmdline_parse_into(&test_cl, "  test=a.*,b.c   seed=0x2A\twait=serial ", false);
	KT_ASSERT_EQ(test_cl.count, 3);
	KT_ASSERT_EQ(test_cl.unknown + test_cl.bad, 0);
	KT_ASSERT(strcmp(cmdline_lookup(&test_cl, "test"), "a.*,b.c") == 0);
	KT_ASSERT(strcmp(cmdline_lookup(&test_cl, "wait"), "serial") == 0);
	KT_ASSERT(cmdline_lookup(&test_cl, "quiet") == NULL);
}

KTEST(cmdline, unknown_key)
{
	cmdline_parse_into(&test_cl, "test=x frobnicate=1", false);
	KT_ASSERT_EQ(test_cl.count, 1);
	KT_ASSERT_EQ(test_cl.unknown, 1);
	KT_ASSERT_EQ(test_cl.bad, 0);
	KT_ASSERT(cmdline_lookup(&test_cl, "frobnicate") == NULL);
}

KTEST(cmdline, malformed_words)
{
	cmdline_parse_into(&test_cl, "noequals", false);
	KT_ASSERT_EQ(test_cl.bad, 1);
	KT_ASSERT(contains(test_cl.last_problem, "no '='"));
	cmdline_parse_into(&test_cl, "=value", false);
	KT_ASSERT_EQ(test_cl.bad, 1);
	KT_ASSERT(contains(test_cl.last_problem, "empty key"));
	cmdline_parse_into(&test_cl, "seed=abc quiet=0x", false);
	KT_ASSERT_EQ(test_cl.bad, 2);
	KT_ASSERT_EQ(test_cl.count, 0);
	KT_ASSERT(contains(test_cl.last_problem, "not a number"));
}

KTEST(cmdline, last_wins_and_empty_value)
{
	cmdline_parse_into(&test_cl, "wait=serial wait=magic test=", false);
	KT_ASSERT(strcmp(cmdline_lookup(&test_cl, "wait"), "magic") == 0);
	KT_ASSERT(strcmp(cmdline_lookup(&test_cl, "test"), "") == 0);
	cmdline_parse_into(&test_cl, "", false);
	KT_ASSERT_EQ(test_cl.count, 0);
}

KTEST(cmdline, numbers)
{
	uint64_t v = 0;
	KT_ASSERT(cmdline_parse_u64("0", &v));
	KT_ASSERT_EQ(v, 0);
	KT_ASSERT(cmdline_parse_u64("18446744073709551615", &v));
	KT_ASSERT_EQ(v, UINT64_MAX);
	KT_ASSERT(!cmdline_parse_u64("18446744073709551616", &v));
	KT_ASSERT(cmdline_parse_u64("0xDeadBeef", &v));
	KT_ASSERT_EQ(v, 0xdeadbeef);
	KT_ASSERT(!cmdline_parse_u64("0x", &v));
	KT_ASSERT(!cmdline_parse_u64("", &v));
	KT_ASSERT(!cmdline_parse_u64("12a", &v));
	KT_ASSERT(!cmdline_parse_u64("-1", &v));
}

KTEST(cmdline, registry)
{
	KT_ASSERT(cmdline_find_key("test") != NULL);
	KT_ASSERT_EQ(cmdline_find_key("seed")->kind, CMDLINE_U64);
	KT_ASSERT_EQ(cmdline_find_key("wait")->kind, CMDLINE_STRING);
	KT_ASSERT(cmdline_find_key("nonexistent") == NULL);
}

/* ---- core.*: formatting, protocol, symbols, checkpoints ---- */

static char fmtbuf[128];

KTEST(core, snprintk_formats)
{
	snprintk(fmtbuf, sizeof(fmtbuf), "%d|%5d|%-5d|%05u|%x|%X|%c|%s|%%", -42, 7, 7, 42u, 0xbeefu, 0xbeefu, 'z', "ok");
	KT_ASSERT(strcmp(fmtbuf, "-42|    7|7    |00042|beef|BEEF|z|ok|%") == 0);
	snprintk(fmtbuf, sizeof(fmtbuf), "%lu %lld %zu %lx %i", 18446744073709551615UL, -9223372036854775807LL - 1,
		 (size_t)123, 0xffffffff80000000UL, 0);
	KT_ASSERT(strcmp(fmtbuf, "18446744073709551615 -9223372036854775808 123 ffffffff80000000 0") == 0);
	snprintk(fmtbuf, sizeof(fmtbuf), "%p %s", (void *)0x1234, (const char *)NULL);
	KT_ASSERT(strcmp(fmtbuf, "0x0000000000001234 (null)") == 0);
}

KTEST(core, snprintk_truncates)
{
	char small[6];
	int n = snprintk(small, sizeof(small), "%s", "abcdefgh");
	KT_ASSERT_EQ(n, 8);
	KT_ASSERT(strcmp(small, "abcde") == 0);
	memset(small, 'x', sizeof(small));
	n = snprintk(small, 1, "%d", 12345);
	KT_ASSERT_EQ(n, 5);
	KT_ASSERT_EQ(small[0], '\0');
	KT_ASSERT_EQ(small[1], 'x');
}

KTEST(core, proto_quote)
{
	char q[32];
	KT_ASSERT(strcmp(proto_quote(q, sizeof(q), "a \"b\" c\\d\ne"), "\"a \\\"b\\\" c\\\\d\\ne\"") == 0);
	/* Cut without splitting an escape, and still closed. */
	KT_ASSERT(strcmp(proto_quote(q, 8, "abcd\"ef"), "\"abcd\"") == 0);
	KT_ASSERT(strcmp(proto_quote(q, 8, "abc\"ef"), "\"abc\\\"\"") == 0);
	KT_ASSERT(strcmp(proto_quote(q, sizeof(q), ""), "\"\"") == 0);
	KT_ASSERT(strcmp(proto_quote(q, sizeof(q), "tab\there"), "\"tab?here\"") == 0);
}

KTEST(core, glob)
{
	KT_ASSERT(ktest_glob_match("*", "pmm.alloc"));
	KT_ASSERT(ktest_glob_match("pmm.*", "pmm.alloc"));
	KT_ASSERT(!ktest_glob_match("pmm.*", "paging.map"));
	KT_ASSERT(ktest_glob_match("p?m.a*c", "pmm.alloc"));
	KT_ASSERT(ktest_glob_match("*.*", "a.b"));
	KT_ASSERT(!ktest_glob_match("pmm", "pmm.alloc"));
	KT_ASSERT(ktest_glob_match("*a*b*c", "xaybzc"));
	KT_ASSERT(!ktest_glob_match("*a*b*c", "xaybz"));
}

KTEST(core, rand_is_per_test_and_varies)
{
	uint64_t a = ktest_rand(), b = ktest_rand();
	KT_ASSERT_NE(a, b);
	KT_ASSERT(strcmp(ktest_current(), "core.rand_is_per_test_and_varies") == 0);
}

/* A separate, non-inlined function so the backtrace has a known caller chain. */
static __attribute__((noinline)) size_t collect_here(uint64_t *pcs, size_t max)
{
	/* The volatile round trip keeps the call from becoming a tail call that would pop this frame. */
	volatile size_t n = backtrace_collect(0, (uint64_t)(uintptr_t)__builtin_frame_address(0), pcs, max);
	return n;
}

KTEST(core, symbols_and_backtrace)
{
	uint64_t off = 99;
	const char *name = ksym_lookup((uint64_t)(uintptr_t)&ktest_run_selected, &off);
	KT_ASSERT(name != NULL);
	KT_ASSERT(strcmp(name, "ktest_run_selected") == 0);
	KT_ASSERT_EQ(off, 0);
	KT_ASSERT(ksym_lookup(0x1000, &off) == NULL);

	uint64_t pcs[8];
	size_t n = collect_here(pcs, 8);
	KT_ASSERT_LE(3, n); /* this test, run_one, ktest_run_selected, kmain ... */
	name = ksym_lookup(pcs[0] - 1, &off);
	KT_ASSERT(name != NULL);
	KT_ASSERT(contains(name, "core__symbols_and_backtrace"));
}

KTEST(core, ist_stacks)
{
	uint64_t df = tss_ist_top(IST_DOUBLE_FAULT), nmi = tss_ist_top(IST_NMI);
	KT_ASSERT_EQ(df % 16, 0);
	KT_ASSERT_NE(df, nmi);
	KT_ASSERT_LE(IST_STACK_SIZE, df > nmi ? df - nmi : nmi - df);
}

KTEST(core, checkpoint)
{
	/* With wait=serial the harness must answer with one byte; absent, this returns at once. */
	checkpoint("core.checkpoint", "value=%d cr3=0x%lx", 42, (unsigned long)read_cr3());
	KT_ASSERT(true);
}

/* ---- tests that end the run on purpose (only when named: test=fault.x / harness.x) ---- */

/* True iff CR3 still points into the loader's boot page tables (kas_init did not switch). */
static bool on_loader_page_tables(void)
{
	const struct boot_info *bi = boot_info_get();
	uint64_t pml4 = read_cr3() & ~0xfffULL;
	return pml4 >= bi->boot_tables_phys && pml4 < bi->boot_tables_phys + bi->boot_tables_size;
}

KTEST(fault, pagefault)
{
	/* After kas_init's switch the loader's identity map is gone, so 0xdead000 is unmapped; still on
	 * the loader's tables (which identity-map low memory) use an address in the kernel half's
	 * scratch slot, which no loader maps. */
	uint64_t addr = on_loader_page_tables() ? 0xffffc0000dead000ULL : 0xdead000ULL;
	printk("fault.pagefault: writing to 0x%lx (expect #PF, w=1)\n", (unsigned long)addr);
	/* SAFETY: deliberately invalid: the write must fault; the trap handler ends the run. */
	*(volatile uint64_t *)(uintptr_t)addr = 0x600d;
	KT_ASSERT(!"write to an unmapped address did not fault");
}

KTEST(fault, divide)
{
	printk("fault.divide: dividing by zero (expect #DE, vector 0)\n");
	x86_raise_divide_error();
	KT_ASSERT(!"division by zero did not fault");
}

/* Recurses with a 512-byte frame until the stack runs into its guard page (the depth limit only
 * hides the recursion from the compiler's diagnostics: no stack is that large). */
static __attribute__((noinline)) uint64_t recurse_deep(uint64_t depth)
{
	volatile uint8_t pad[512];
	pad[0] = (uint8_t)depth;
	if (depth == UINT64_MAX)
		return 0;
	return recurse_deep(depth + 1) + pad[0];
}

KTEST(fault, stack_overflow)
{
	/* The #PF on the guard page cannot push its frame on the full stack, so the CPU raises #DF,
	 * which runs on its own IST stack: expect `fault vector=8 name=double_fault`. */
	if (on_loader_page_tables())
		KT_SKIP("no guard page: kas_init did not switch to the kernel's page tables");
	printk("fault.stack_overflow: recursing into the boot stack's guard page (expect #DF, vector 8)\n");
	KT_ASSERT_EQ(recurse_deep(0), 0);
}

/* A page-fault report hook that itself panics: exercises the recursive-fault guard. */
static void panicking_pf_hook(uint64_t cr2)
{
	panic("fault.recursive: hook panics while reporting cr2 0x%lx", (unsigned long)cr2);
}

KTEST(fault, recursive)
{
	/* Expected: the fault line for the first #PF, then "recursive panic" and `end status=panic`
	 * exactly once (no second fault/panic line, no hang). */
	trap_pf_report_hook = panicking_pf_hook;
	uint64_t addr = on_loader_page_tables() ? 0xffffc0000dead000ULL : 0xdead000ULL;
	/* SAFETY: deliberately invalid: the write must fault; the trap handler ends the run. */
	*(volatile uint64_t *)(uintptr_t)addr = 1;
	KT_ASSERT(!"write to an unmapped address did not fault");
}

KTEST(fault, panic)
{
	panic("fault.panic: deliberate panic (value=%d)", 42);
}

KTEST(harness, hang)
{
	/* A kernel that stops making progress without a word: the harness must call it TIMEOUT. */
	for (;;) {
		cli();
		hlt();
	}
}

KTEST(harness, triple)
{
	/* With an empty IDT, int3 cannot be delivered (#GP, then #DF, then shutdown): a triple fault. */
	struct x86_dtr empty = { .limit = 0, .base = 0 };
	lidt(&empty);
	x86_int3();
	KT_ASSERT(!"int3 with an empty IDT returned");
}

KTEST(harness, flood)
{
	/* Endless output and never `@@ end`: the harness must cut it off (size or time). Written with
	 * the console primitives so quiet=1 does not silence it. */
	static const char line[] = "flood: the quick brown fox jumps over the lazy dog 0123456789\n";
	for (;;) {
		console_lock();
		for (const char *p = line; *p; p++)
			console_putc_locked(*p);
		console_unlock();
	}
}

/* Tests that fail or skip on purpose, for the graders' own checks of the harness (run only when named). */
KTEST(harness, fail_eq)
{
	uint64_t two = 1 + ktest_seed() * 0 + 1;
	KT_ASSERT_EQ(two, 3);
}

KTEST(harness, skip)
{
	KT_SKIP("skipped on purpose");
}
