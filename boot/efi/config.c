/*
 * config.c - the loader's own settings: \ferrous\loader.cfg on the ESP.
 *
 * The file is optional and meant for tests; the kernel never sees it, so the
 * kernel command line (\ferrous\cmdline.txt) stays free of loader-only keys.
 * Format: ASCII lines `key=value`; blank lines and lines starting with '#' are
 * skipped; CR LF line ends are accepted. Every key must be known and every
 * value valid, else the boot stops with `@@ loader_error` (a typo in a test
 * knob must not silently run the default boot).
 *
 * Keys:
 *   stale_map_key=N   N in [0, LOADER_CFG_STALE_MAX]: make the memory-map key
 *                     go stale N times during ExitBootServices (memmap.c).
 */
#include "loader.h"

#define CFG_PATH   L"\\ferrous\\loader.cfg"
#define CFG_NAME   "\\ferrous\\loader.cfg"
#define CFG_MAX    4096   /* bytes */

/* True when the n bytes at s spell the NUL-terminated word w exactly. */
static bool word_is(const char *s, uint64_t n, const char *w)
{
	uint64_t i = 0;
	for (; i < n && w[i]; i++)
		if (s[i] != w[i])
			return false;
	return i == n && w[i] == '\0';
}

/* Parses n bytes of decimal digits into *out, at most `max`. False on an empty, non-digit or too large
 * value. */
static bool parse_uint(const char *s, uint64_t n, unsigned max, unsigned *out)
{
	if (n == 0 || n > 9)
		return false;
	unsigned v = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Applies one `key=value` line (line number `lineno`, n bytes, no line end) to *cfg. False after
 * loader_fail. */
static bool apply_line(const char *s, uint64_t n, unsigned lineno, struct loader_cfg *cfg)
{
	uint64_t eq = 0;
	while (eq < n && s[eq] != '=')
		eq++;
	if (eq == n) {
		loader_fail("%s line %u: want key=value", CFG_NAME, lineno);
		return false;
	}
	const char *val = s + eq + 1;
	uint64_t val_len = n - eq - 1;
	if (word_is(s, eq, "stale_map_key")) {
		if (!parse_uint(val, val_len, LOADER_CFG_STALE_MAX, &cfg->stale_map_key)) {
			loader_fail("%s line %u: stale_map_key wants a decimal number in [0, %u]", CFG_NAME, lineno,
				    LOADER_CFG_STALE_MAX);
			return false;
		}
		return true;
	}
	loader_fail("%s line %u: unknown key (known: stale_map_key)", CFG_NAME, lineno);
	return false;
}

bool loader_cfg_read(EFI_FILE_HANDLE root, struct loader_cfg *cfg)
{
	cfg->present = false;
	cfg->stale_map_key = 0;
	struct loaded_file f;
	if (!files_read(root, CFG_PATH, CFG_NAME, false, true, &f))
		return false;
	if (!f.data)
		return true;
	bool ok = true;
	if (f.size > CFG_MAX) {
		loader_fail("%s: %lu bytes, limit %u", CFG_NAME, f.size, CFG_MAX);
		ok = false;
	}
	const char *text = f.data;
	unsigned lineno = 1;
	for (uint64_t start = 0; ok && start < f.size; lineno++) {
		uint64_t end = start;
		while (end < f.size && text[end] != '\n')
			end++;
		uint64_t len = end - start;
		if (len > 0 && text[start + len - 1] == '\r')
			len--;
		if (len > 0 && text[start] != '#')
			ok = apply_line(text + start, len, lineno, cfg);
		start = end + 1;
	}
	FreePool(f.data);
	cfg->present = ok;
	return ok;
}
