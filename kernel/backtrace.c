/* backtrace.c - symbol lookup and frame-pointer backtraces (the kernel is built with frame pointers). */
#include "backtrace.h"

#include "boot_info.h"
#include "ksyms.h"
#include "printk.h"
#include "protocol.h"

extern const char _text_start[], _text_end[], _kernel_start[], _kernel_end[];
extern const char boot_stack_guard[], boot_stack_bottom[];

/* True iff addr is in [_text_start, _text_end). */
int ksym_is_kernel_text(uint64_t addr)
{
	return addr >= (uint64_t)(uintptr_t)_text_start && addr < (uint64_t)(uintptr_t)_text_end;
}

/* Binary search for the last symbol at or below addr (the table is sorted; see ksyms.h). */
const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	if (!ksym_is_kernel_text(addr) || ksyms_count == 0 || addr < ksyms_table[0].addr)
		return NULL;
	/* Last entry with entry.addr <= addr. */
	uint64_t lo = 0, hi = ksyms_count;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (ksyms_table[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	*offset = addr - ksyms_table[lo].addr;
	return ksyms_table[lo].name;
}

/* Formats addr as "name+0xoff", or "0x..." outside kernel text. */
const char *ksym_format(char *buf, size_t n, uint64_t addr)
{
	uint64_t off;
	const char *name = ksym_lookup(addr, &off);
	if (name)
		snprintk(buf, n, "%s+0x%lx", name, (unsigned long)off);
	else
		snprintk(buf, n, "0x%lx", (unsigned long)addr);
	return buf;
}

/* Frame pointers must point into the kernel image (boot and IST stacks live in .bss), but not into
 * the boot stack's guard page, which kas_init leaves unmapped. */
static int frame_pointer_ok(uint64_t rbp)
{
	uint64_t guard = (uint64_t)(uintptr_t)boot_stack_guard, bottom = (uint64_t)(uintptr_t)boot_stack_bottom;
	return (rbp & 7) == 0 && rbp >= (uint64_t)(uintptr_t)_kernel_start &&
	       rbp + 16 <= (uint64_t)(uintptr_t)_kernel_end && !(rbp + 16 > guard && rbp < bottom);
}

/* Walks saved (rbp, return address) pairs; every bound is checked before a frame is read. */
size_t backtrace_collect(uint64_t first_pc, uint64_t rbp, uint64_t *pcs, size_t max)
{
	size_t n = 0;
	if (first_pc && n < max)
		pcs[n++] = first_pc;
	while (n < max && rbp && frame_pointer_ok(rbp)) {
		/* SAFETY: frame_pointer_ok() checked that rbp..rbp+16 lies inside the mapped kernel image. */
		const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
		uint64_t next = frame[0], ret = frame[1];
		if (!ksym_is_kernel_text(ret))
			break;
		pcs[n++] = ret;
		if (next <= rbp)
			break;
		rbp = next;
	}
	return n;
}

/* Prints the trace one frame per line, then as one `@@ backtrace` line. */
void backtrace_report(uint64_t first_pc, uint64_t rbp)
{
	uint64_t pcs[BACKTRACE_MAX_FRAMES];
	size_t n = backtrace_collect(first_pc, rbp, pcs, BACKTRACE_MAX_FRAMES);
	char frames[BACKTRACE_MAX_FRAMES * 40];
	size_t used = 0;
	frames[0] = '\0';

	printk("backtrace:\n");
	for (size_t i = 0; i < n; i++) {
		char sym[96];
		/* A return address may be the first byte after a noreturn call: name the caller. */
		uint64_t off;
		uint64_t probe = (i == 0 && first_pc) ? pcs[i] : pcs[i] - 1;
		const char *name = ksym_lookup(probe, &off);
		if (name)
			snprintk(sym, sizeof(sym), "%s+0x%lx", name, (unsigned long)(pcs[i] - (probe - off)));
		else
			snprintk(sym, sizeof(sym), "0x%lx", (unsigned long)pcs[i]);
		printk("  #%zu 0x%lx %s\n", i, (unsigned long)pcs[i], sym);
		int w = snprintk(frames + used, sizeof(frames) - used, "%s%s", used ? " " : "", sym);
		if (w > 0 && (size_t)w < sizeof(frames) - used)
			used += (size_t)w;
	}
	char quoted[sizeof(frames) + 8];
	proto_line("backtrace", "frames=%s", proto_quote(quoted, sizeof(quoted), frames));
}
