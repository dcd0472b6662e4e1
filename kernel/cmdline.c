/* cmdline.c - split the command line into key=value words and check them against the registry. */
#include "cmdline.h"

#include "kstring.h"
#include "printk.h"
#include "protocol.h"

extern const struct cmdline_key __cmdline_keys_start[], __cmdline_keys_end[];

CMDLINE_KEY(test, "ktests to run: comma-separated globs (* and ?), or all; absent = none");
CMDLINE_KEY_U64(seed, "seed of the per-test PRNG (decimal or 0x hex); default fixed");
CMDLINE_KEY(wait, "checkpoint handshake: serial (wait for a byte on COM1) or magic (Bochs xchg bx,bx)");
CMDLINE_KEY_U64(quiet, "1: print only protocol lines, no free text");

static struct cmdline kernel_cmdline;
static unsigned bad_reports;

/* Linear search of the .cmdline_keys registry. */
const struct cmdline_key *cmdline_find_key(const char *name)
{
	for (const struct cmdline_key *k = __cmdline_keys_start; k < __cmdline_keys_end; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* Decimal or 0x hex, whole string, no sign, overflow rejected. */
bool cmdline_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

/* Prints `@@ cmdline_bad word="..." reason="..."` plus a human warning, and counts it for the run. */
static void report_bad_word(const char *word, const char *reason)
{
	char qw[160], qr[128];
	proto_line("cmdline_bad", "word=%s reason=%s", proto_quote(qw, sizeof(qw), word),
		   proto_quote(qr, sizeof(qr), reason));
	printk("cmdline: bad word '%s': %s\n", word, reason);
	bad_reports++;
}

/* Counts (and with report, prints) a malformed word. */
static void note_bad(struct cmdline *cl, bool report, const char *word, const char *reason)
{
	cl->bad++;
	cl->last_problem = reason;
	if (report)
		report_bad_word(word, reason);
}

/* Reports `key=value` as a cmdline_bad word (for values a subsystem rejects). */
void cmdline_report_bad(const char *key, const char *value, const char *reason)
{
	char word[128];
	snprintk(word, sizeof(word), "%s=%s", key, value);
	report_bad_word(word, reason);
}

/* Number of cmdline_bad lines printed so far. */
unsigned cmdline_bad_count(void)
{
	return bad_reports;
}

/* Checks one word (NUL-terminated inside cl->buf) and records it if well formed. */
static void parse_word(struct cmdline *cl, bool report, char *word)
{
	char *eq = strchr(word, '=');
	if (!eq) {
		note_bad(cl, report, word, "no '=' (words are key=value)");
		return;
	}
	if (eq == word) {
		note_bad(cl, report, word, "empty key");
		return;
	}
	*eq = '\0';
	const char *key = word, *value = eq + 1;
	const struct cmdline_key *k = cmdline_find_key(key);
	if (!k) {
		cl->unknown++;
		cl->last_problem = "unknown key";
		if (report) {
			char qk[160];
			proto_line("cmdline_unknown", "key=%s", proto_quote(qk, sizeof(qk), key));
			printk("cmdline: warning: unknown key '%s' ignored\n", key);
		}
		return;
	}
	uint64_t v;
	if (k->kind == CMDLINE_U64 && !cmdline_parse_u64(value, &v)) {
		*eq = '=';
		note_bad(cl, report, word, "not a number (decimal or 0x hex)");
		return;
	}
	if (cl->count == CMDLINE_MAX_WORDS) {
		*eq = '=';
		note_bad(cl, report, word, "too many words");
		return;
	}
	cl->words[cl->count].key = key;
	cl->words[cl->count].value = value;
	cl->count++;
}

/* Copies s into cl->buf and splits it in place at spaces/tabs into checked words. */
void cmdline_parse_into(struct cmdline *cl, const char *s, bool report)
{
	cl->count = cl->unknown = cl->bad = 0;
	cl->last_problem = NULL;
	size_t len = strnlen(s, sizeof(cl->buf));
	if (len == sizeof(cl->buf)) {
		note_bad(cl, report, "(command line)", "longer than 4095 bytes");
		len = sizeof(cl->buf) - 1;
	}
	memcpy(cl->buf, s, len);
	cl->buf[len] = '\0';

	char *p = cl->buf;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		char *word = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
		parse_word(cl, report, word);
	}
}

/* Searches backwards so that the last occurrence of a key wins. */
const char *cmdline_lookup(const struct cmdline *cl, const char *key)
{
	for (unsigned i = cl->count; i-- > 0;)
		if (strcmp(cl->words[i].key, key) == 0)
			return cl->words[i].value;
	return NULL;
}

/* Silent pre-parse for quiet= only (problems are reported by the real parse later). */
void cmdline_apply_quiet_early(const char *s)
{
	static struct cmdline early;
	uint64_t quiet = 0;
	cmdline_parse_into(&early, s, false);
	const char *v = cmdline_lookup(&early, "quiet");
	if (v && cmdline_parse_u64(v, &quiet))
		console_set_quiet(quiet != 0);
}

/* Parses the kernel's command line with reporting and applies quiet=. */
void cmdline_parse(const char *s)
{
	cmdline_parse_into(&kernel_cmdline, s, true);
	uint64_t quiet = 0;
	if (cmdline_get_u64("quiet", &quiet))
		console_set_quiet(quiet != 0);
}

/* Value of key on the kernel's command line, NULL if absent. */
const char *cmdline_get(const char *key)
{
	return cmdline_lookup(&kernel_cmdline, key);
}

/* Numeric value of key on the kernel's command line. */
bool cmdline_get_u64(const char *key, uint64_t *out)
{
	const char *v = cmdline_get(key);
	return v && cmdline_parse_u64(v, out);
}
