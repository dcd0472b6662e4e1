/*
 * cmdline.h - the kernel command line: `key=value` words separated by spaces.
 *
 * Every key the kernel understands is registered where it is used:
 *
 *     CMDLINE_KEY(test, "comma-separated globs of ktests to run, or all");
 *     CMDLINE_KEY_U64(seed, "seed of the test PRNG (decimal or 0x hex)");
 *
 * (the first argument is the key as a bare identifier). Registrations land in
 * section .cmdline_keys (kernel/kernel.ld). cmdline_parse() reports a word
 * whose key is not registered as `@@ cmdline_unknown key=...` and a malformed
 * word (no '=', empty key, a bad number for a _U64 key) as `@@ cmdline_bad
 * word="..." reason="..."`; the run continues, but any cmdline_bad makes the
 * run end with status=fail. When a key appears twice, the last value wins.
 */
#ifndef FERROUS_CMDLINE_H
#define FERROUS_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

enum cmdline_kind {
	CMDLINE_STRING = 1,
	CMDLINE_U64 = 2,
};

struct cmdline_key {
	const char *name;
	const char *help;
	uint64_t kind; /* enum cmdline_kind; 8 bytes keeps the section an array without padding */
};

#define CMDLINE_KEY_KIND_(keyname, helptext, k) \
	static const struct cmdline_key cmdline_key_##keyname \
		__attribute__((used, section(".cmdline_keys"), aligned(8))) = { #keyname, helptext, k }

/* Registers key `name` (a bare identifier) with a one-line help text. */
#define CMDLINE_KEY(name, help) CMDLINE_KEY_KIND_(name, help, CMDLINE_STRING)
/* Registers a numeric key: its value must parse as decimal or 0x hex (else cmdline_bad). */
#define CMDLINE_KEY_U64(name, help) CMDLINE_KEY_KIND_(name, help, CMDLINE_U64)

/* Splits and checks the command line (copied: s need not stay valid), prints the cmdline_unknown and
 * cmdline_bad lines. Call once, after boot_info_validate. */
void cmdline_parse(const char *s);

/* Applies quiet= from s before the real parse (which reports problems), so that the boot report
 * that precedes it already honours quiet=1. Prints nothing. */
void cmdline_apply_quiet_early(const char *s);

/* Value of key (the last occurrence), NULL if absent. "" for `key=`. */
const char *cmdline_get(const char *key);

/* True and *out set iff key is present and its value is a decimal or 0x-hex number that fits 64 bits. */
bool cmdline_get_u64(const char *key, uint64_t *out);

/* Parses a decimal or 0x-hex unsigned number; false on empty input, junk or overflow. */
bool cmdline_parse_u64(const char *s, uint64_t *out);

/* Reports a bad value found by a subsystem for one of its keys (`@@ cmdline_bad`) and marks the run
 * failed. */
void cmdline_report_bad(const char *key, const char *value, const char *reason);

/* Number of cmdline_bad reports so far (the run must end with status=fail if nonzero). */
unsigned cmdline_bad_count(void);

/* A parsed command line. The kernel's own is private to cmdline.c; tests build their own. */
#define CMDLINE_MAX_WORDS 64
#define CMDLINE_BUF_SIZE 4096
struct cmdline {
	char buf[CMDLINE_BUF_SIZE];
	struct {
		const char *key;
		const char *value;
	} words[CMDLINE_MAX_WORDS];
	unsigned count;          /* words recorded (registered keys, well formed) */
	unsigned unknown;        /* words with an unregistered key */
	unsigned bad;            /* malformed words */
	const char *last_problem; /* reason of the last unknown/bad word, for tests */
};

/* Parses s into *cl (which it resets). With report, prints cmdline_unknown / cmdline_bad lines and
 * warnings; without, only counts them in *cl. */
void cmdline_parse_into(struct cmdline *cl, const char *s, bool report);

/* Value of key in *cl (the last occurrence), NULL if absent. */
const char *cmdline_lookup(const struct cmdline *cl, const char *key);

/* Looks up a registered key; NULL if none. */
const struct cmdline_key *cmdline_find_key(const char *name);

#endif
