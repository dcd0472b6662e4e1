/*
 * test_core_host.c - host tests of the kernel core's pure parts, under ASan + UBSan:
 *
 *   - kvformat/snprintk against the C library's snprintf on random formats
 *     (every conversion, length, flag and width the kernel supports), with
 *     truncation;
 *   - proto_quote: the quoted value always closes, fits, and unescapes to a
 *     prefix of the input;
 *   - boot_info_check_mapped: random memory maps (with random corruptions)
 *     against a reference model, each map in a buffer of exactly the
 *     described size so any read past it is caught;
 *   - cmdline_parse_into: an unknown key holding '"' or '\' is
 *     reported as one well-formed `@@ cmdline_unknown key="..."` line whose
 *     value unquotes to the key.
 *
 * Build and run: make test-host-core (part of make test-host).
 * Usage: test_core_host [ITERATIONS] [SEED]
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_info_check.h"
#include "cmdline.h"
#include "printk.h"
#include "protocol.h"

/* ---- shims for what the tested files reference but these tests never reach ---- */

__attribute__((used)) char fake_image[0x3000];
__asm__(".globl _kernel_start\n.set _kernel_start, fake_image\n"
	".globl _kernel_end\n.set _kernel_end, fake_image + 0x3000\n");

/* The registry of known keys: empty on the host (the kernel's lives in .cmdline_keys, bounded by kernel.ld), so
 * every key is unknown. */
__asm__(".globl __cmdline_keys_start\n.set __cmdline_keys_start, fake_image\n"
	".globl __cmdline_keys_end\n.set __cmdline_keys_end, fake_image\n");

/* Console output: appended to `captured` while a test captures it, else to stdout. */
static char captured[4096];
static size_t captured_len;
static bool capturing;

/* Host stand-in: console output goes to stdout, or to `captured`. */
void serial_putc(char c)
{
	if (!capturing) {
		putchar(c);
		return;
	}
	if (captured_len + 1 < sizeof(captured))
		captured[captured_len++] = c;
	captured[captured_len] = '\0';
}

/* Host stand-in: nothing to drain. */
void serial_flush(void)
{
}

/* Host stand-ins for the console lock, reached from protocol.c through the link's --wrap (kernel/build.mk):
 * the kernel's lock executes cli, which faults in user mode. The host test is single-threaded. */
void __wrap_console_lock(void);
void __wrap_console_unlock(void);
void __wrap_console_lock(void)
{
}
void __wrap_console_unlock(void)
{
}

/* Host stand-in for the fatal-path counter. */
int fatal_enter(void)
{
	return 0;
}

/* ---- helpers ---- */

static uint64_t rng;
static unsigned failures;

/* splitmix64 */
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			failures++; \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			if (failures > 20) \
				exit(1); \
		} \
	} while (0)

/* A value with interesting bit patterns: small, extremes, sign boundaries, random. */
static uint64_t interesting(void)
{
	static const uint64_t edges[] = { 0, 1, 9, 10, 255, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
					  0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX };
	switch (rnd() % 4) {
	case 0:
		return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return rnd() % 1000;
	default:
		return rnd() >> (rnd() % 64);
	}
}

/* ---- kvformat vs snprintf ---- */

/* Formats one random conversion with both implementations and compares. */
static void format_one(void)
{
	char fmt[32], mine[128], ref[128];
	const char convs[] = "diuxXsc";
	char conv = convs[rnd() % 7];
	const char *len = "";
	if (strchr("diuxX", conv)) {
		static const char *const lens[] = { "", "l", "ll", "z" };
		len = lens[rnd() % 4];
	}
	bool left = rnd() % 3 == 0, zero = !strchr("sc", conv) && rnd() % 3 == 0;
	unsigned width = rnd() % 3 ? (unsigned)(rnd() % 25) : 0;
	char wbuf[8] = "";
	if (width)
		snprintf(wbuf, sizeof(wbuf), "%u", width);
	snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%c>", left ? "-" : "", zero ? "0" : "", wbuf, len, conv);

	size_t cap = rnd() % 4 == 0 ? (size_t)(rnd() % 12) : sizeof(mine);
	int a, b;
	uint64_t v = interesting();
	static const char *const strs[] = { "", "x", "hello", "a longer string, with spaces" };
	const char *s = strs[rnd() % 4];

#define BOTH(...) \
	do { \
		a = snprintk(mine, cap, fmt, __VA_ARGS__); \
		b = snprintf(ref, cap, fmt, __VA_ARGS__); \
	} while (0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	switch (conv) {
	case 'd':
	case 'i':
		if (!*len)
			BOTH((int)v);
		else if (len[0] == 'z')
			BOTH((size_t)v); /* %zd takes the signed counterpart; same bits */
		else if (len[1])
			BOTH((long long)v);
		else
			BOTH((long)v);
		break;
	case 'u':
	case 'x':
	case 'X':
		if (!*len)
			BOTH((unsigned)v);
		else if (len[0] == 'z')
			BOTH((size_t)v);
		else if (len[1])
			BOTH((unsigned long long)v);
		else
			BOTH((unsigned long)v);
		break;
	case 's':
		BOTH(s);
		break;
	default:
		BOTH((int)('A' + v % 26));
		break;
	}
#pragma GCC diagnostic pop
#undef BOTH
	CHECK(a == b, "format %s cap %zu: snprintk returned %d, snprintf %d", fmt, cap, a, b);
	if (cap)
		CHECK(strcmp(mine, ref) == 0, "format %s cap %zu: got [%s] want [%s]", fmt, cap, mine, ref);
}

/* %p is fixed-width by design (0x + 16 digits), unlike glibc. */
static void format_pointer(void)
{
	char buf[64];
	snprintk(buf, sizeof(buf), "%p", (void *)0xffffffff80001234ULL);
	CHECK(strcmp(buf, "0xffffffff80001234") == 0, "%s", buf);
	snprintk(buf, sizeof(buf), "%p", (void *)0);
	CHECK(strcmp(buf, "0x0000000000000000") == 0, "%s", buf);
	const char *odd = "%q%d";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintk(buf, sizeof(buf), odd, 5);
#pragma GCC diagnostic pop
	CHECK(strcmp(buf, "%q5") == 0, "unknown conversion copied literally: %s", buf);
}

/* ---- proto_quote ---- */

/* Checks one random string: closed, fits, and unescapes to a prefix of the input. */
static void quote_one(void)
{
	char in[64], out[80], back[80];
	size_t len = rnd() % sizeof(in);
	for (size_t i = 0; i < len; i++) {
		static const char pool[] = "ab \"\\\n\t\x7f" "xyz=";
		char c = pool[rnd() % (sizeof(pool) - 1)];
		in[i] = c;
	}
	in[len] = '\0';
	size_t n = 3 + rnd() % (sizeof(out) - 3);
	proto_quote(out, n, in);
	size_t olen = strlen(out);
	CHECK(olen < n, "quote of length %zu does not fit %zu", olen, n);
	CHECK(olen >= 2 && out[0] == '"' && out[olen - 1] == '"', "not quoted: [%s]", out);
	size_t k = 0;
	for (size_t i = 1; i + 1 < olen; i++) {
		char c = out[i];
		CHECK(c != '\n' && c != '"' ? true : false, "raw %02x inside the quotes: [%s]", c, out);
		if (c == '\\') {
			char e = out[++i];
			CHECK(e == '"' || e == '\\' || e == 'n', "bad escape \\%c", e);
			c = e == 'n' ? '\n' : e;
		}
		back[k++] = c;
	}
	CHECK(k <= len, "unescaped longer than the input");
	for (size_t i = 0; i < k; i++) {
		char want = ((unsigned char)in[i] < 0x20 && in[i] != '\n') || in[i] == 0x7f ? '?' : in[i];
		CHECK(back[i] == want, "byte %zu: got %02x want %02x", i, back[i], want);
	}
	if (n >= 2 * len + 3)
		CHECK(k == len, "value cut although %zu bytes were available", n);
}

/* ---- cmdline_unknown lines ---- */

/* Checks that line (up to its '\n') is `@@ cmdline_unknown key="..."` whose value unquotes to key; returns a
 * pointer past the line, or NULL (after a CHECK failure) when it is malformed. */
static const char *check_unknown_line(const char *line, const char *key)
{
	static const char prefix[] = "@@ cmdline_unknown key=\"";
	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0) {
		CHECK(false, "key [%s]: line does not start with [%s]: [%s]", key, prefix, line);
		return NULL;
	}
	const char *p = line + sizeof(prefix) - 1;
	char back[256];
	size_t k = 0;
	for (; *p && *p != '"' && *p != '\n' && k + 1 < sizeof(back); p++) {
		char c = *p;
		if (c == '\\') {
			char e = *++p;
			if (e != '"' && e != '\\' && e != 'n') {
				CHECK(false, "key [%s]: bad escape in [%s]", key, line);
				return NULL;
			}
			c = e == 'n' ? '\n' : e;
		}
		back[k++] = c;
	}
	back[k] = '\0';
	if (p[0] != '"' || p[1] != '\n') {
		CHECK(false, "key [%s]: value not closed by '\"' at the end of the line: [%s]", key, line);
		return NULL;
	}
	CHECK(strcmp(back, key) == 0, "key [%s] came back as [%s]", key, back);
	return p + 2;
}

/* Parses a command line of unknown keys with reporting and checks every cmdline_unknown line it prints. */
static void cmdline_unknown_quoted(void)
{
	static const char *const keys[] = { "frobnicate", "a\"b", "\"", "q\"\"", "back\\slash", "x\\\"y" };
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	char line[512] = "";
	for (size_t i = 0; i < nkeys; i++) {
		size_t o = strlen(line);
		snprintf(line + o, sizeof(line) - o, "%s%s=%zu", i ? " " : "", keys[i], i);
	}
	static struct cmdline cl;
	console_set_quiet(true);   /* drops the human warnings (printk would take the real console lock) */
	captured_len = 0;
	captured[0] = '\0';
	capturing = true;
	cmdline_parse_into(&cl, line, true);
	capturing = false;
	console_set_quiet(false);
	CHECK(cl.unknown == nkeys && cl.bad == 0 && cl.count == 0, "unknown=%u bad=%u count=%u for [%s]", cl.unknown,
	      cl.bad, cl.count, line);
	const char *p = captured;
	for (size_t i = 0; i < nkeys && p; i++)
		p = check_unknown_line(p, keys[i]);
	if (p)
		CHECK(*p == '\0', "output after the last cmdline_unknown line: [%s]", p);
}

/* ---- boot_info_check_mapped vs a model ---- */

#define PAGE 4096ULL

/* The reference model of a valid descriptor sequence. */
static bool model_valid(const struct boot_mem_desc *d, size_t count)
{
	uint64_t prev_end = 0;
	for (size_t i = 0; i < count; i++) {
		if (d[i].num_pages == 0 || d[i].phys_start % PAGE)
			return false;
		if (d[i].phys_start >= BOOT_PHYS_LIMIT ||
		    d[i].num_pages > (BOOT_PHYS_LIMIT - d[i].phys_start) / PAGE)
			return false;
		if (i > 0 && d[i].phys_start < prev_end)
			return false;
		prev_end = d[i].phys_start + d[i].num_pages * PAGE;
	}
	return true;
}

/* Builds a random map (valid, then maybe corrupted), checks it laid out with a random stride. */
static void map_one(void)
{
	struct boot_mem_desc d[8];
	size_t count = 1 + rnd() % 8;
	uint64_t at = (rnd() % 16) * PAGE;
	for (size_t i = 0; i < count; i++) {
		d[i] = (struct boot_mem_desc){ .type = (uint32_t)(rnd() % 16), .phys_start = at,
					       .num_pages = 1 + rnd() % 300 };
		at += d[i].num_pages * PAGE + (rnd() % 3) * PAGE;
	}
	size_t victim = rnd() % count;
	switch (rnd() % 8) {
	case 0:
		d[victim].num_pages = 0;
		break;
	case 1:
		d[victim].phys_start += 1 + rnd() % (PAGE - 1);
		break;
	case 2:
		if (victim > 0)
			d[victim].phys_start -= (1 + rnd() % 4) * PAGE; /* overlap or unsorted */
		break;
	case 3:
		d[victim].num_pages = UINT64_MAX / PAGE - rnd() % 1000; /* wrap */
		break;
	case 4:
		d[victim].phys_start = BOOT_PHYS_LIMIT - PAGE * (rnd() % 4); /* at the architectural top */
		break;
	default:
		break; /* stays valid */
	}

	struct boot_info bi;
	memset(&bi, 0, sizeof(bi));
	bi.magic = BOOT_INFO_MAGIC;
	bi.version = BOOT_INFO_VERSION;
	bi.size = sizeof(bi);
	bi.boot_path = BOOT_PATH_UEFI;
	bi.mmap_count = count;
	bi.mmap_desc_size = sizeof(struct boot_mem_desc) + 8 * (rnd() % 4);
	bi.kernel_phys_base = 0x200000;
	bi.kernel_phys_size = sizeof(fake_image);
	bi.direct_map_limit = 1ULL << 32;
	static const char cmd[] = "test=all";
	bi.cmdline_phys = 0x1000;
	bi.cmdline_len = strlen(cmd);
	strcpy(bi.loader_name, "host");

	/* Exactly the described bytes: ASan reports any read past the last descriptor. */
	unsigned char *buf = malloc(count * bi.mmap_desc_size);
	for (size_t i = 0; i < count; i++) {
		memset(buf + i * bi.mmap_desc_size, 0xee, bi.mmap_desc_size);
		memcpy(buf + i * bi.mmap_desc_size, &d[i], sizeof(d[i]));
	}
	char *cmdline = malloc(sizeof(cmd));
	memcpy(cmdline, cmd, sizeof(cmd));
	char why[192] = "";
	bool got = boot_info_check_mapped(&bi, buf, cmdline, why, sizeof(why));
	bool want = model_valid(d, count);
	CHECK(got == want, "count %zu stride %lu: checker says %d (%s), model %d", count,
	      (unsigned long)bi.mmap_desc_size, got, why, want);
	if (!got)
		CHECK(strncmp(why, "boot_info: mmap[", 16) == 0, "message does not name the descriptor: %s", why);
	free(buf);
	free(cmdline);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 0) : 200000;
	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	format_pointer();
	cmdline_unknown_quoted();
	for (long i = 0; i < iters; i++) {
		format_one();
		quote_one();
		if (i % 4 == 0)
			map_one();
	}
	printf("test_core_host: %ld iterations (seed %s): %s\n", iters, argc > 2 ? argv[2] : "1",
	       failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
