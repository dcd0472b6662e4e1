/*
 * bootcheck.c - a test kernel that checks the UEFI loader's hand-off against the
 * contract in kernel/boot_info.h, from inside the machine, before anything else
 * touches it. Built as build/boot/efi/bootcheck.elf; driven by
 * boot/efi/test/run.sh (`make efi-check`).
 *
 * It prints one protocol line per check:
 *   @@ check name=... ok=1|0 [values]
 * then `@@ bootcheck passed=N failed=N cmdline="..." initrd_size=N initrd_fnv=0x...` and
 * leaves QEMU with 0x10 (all passed, exit 33) or 0x11 (exit 35).
 */
#include <stdbool.h>
#include <stdint.h>
#include "kernel/boot_info.h"
#include "kernel/x86.h"   /* the kernel's one place for port I/O and control-register asm */

#define COM1        0x3f8
#define PTE_P       0x001ULL
#define PTE_PS      0x080ULL
#define ADDR_MASK   0x000ffffffffff000ULL
#define NO_MAPPING  (~0ULL)

static unsigned passed, failed;

/* Data and bss the loader must have copied / zeroed. */
static volatile uint64_t data_marker = 0x0123456789abcdefULL;
static volatile uint8_t bss_block[3 * 4096 + 123];


/* Reads physical memory through the identity map (the contract says [0, limit) is identity-mapped). */
static uint64_t phys_read64(uint64_t pa)
{
	/* SAFETY: callers only pass addresses below direct_map_limit, identity-mapped by the loader. */
	return *(volatile uint64_t *)(uintptr_t)pa;
}

/* ---- serial output ---- */
static void putc_(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) {}
	outb(COM1, (uint8_t)c);
}
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void put_dec(uint64_t v)
{
	char b[24]; int n = 0;
	do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
	while (n) putc_(b[--n]);
}
static void put_hex(uint64_t v)
{
	char b[20]; int n = 0;
	do { b[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
	puts_("0x");
	while (n) putc_(b[--n]);
}
/* Prints s as a quoted protocol value (\" \\ \n escaped). */
static void put_quoted(const char *s, uint64_t len)
{
	putc_('"');
	for (uint64_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"' || c == '\\') { putc_('\\'); putc_(c); }
		else if (c == '\n') { putc_('\\'); putc_('n'); }
		else putc_(c);
	}
	putc_('"');
}

/* Records one check: prints `@@ check name=N ok=B a=.. b=..`. */
static bool check(const char *name, bool ok, uint64_t a, uint64_t b)
{
	puts_("@@ check name="); puts_(name); puts_(ok ? " ok=1" : " ok=0");
	puts_(" a="); put_hex(a); puts_(" b="); put_hex(b); putc_('\n');
	if (ok) passed++; else failed++;
	return ok;
}

/* Walks the live page tables (CR3) for va; returns the physical address or NO_MAPPING. */
static uint64_t translate(uint64_t va)
{
	uint64_t table = read_cr3() & ADDR_MASK;
	for (int level = 3; level >= 0; level--) {
		uint64_t e = phys_read64(table + ((va >> (12 + 9 * level)) & 511) * 8);
		if (!(e & PTE_P))
			return NO_MAPPING;
		if (level == 0 || (level <= 2 && (e & PTE_PS))) {
			uint64_t page = 1ULL << (12 + 9 * level);
			return (e & ADDR_MASK & ~(page - 1)) | (va & (page - 1));
		}
		table = e & ADDR_MASK;
	}
	return NO_MAPPING;
}

static const struct boot_mem_desc *desc(const struct boot_info *bi, uint64_t i)
{
	/* SAFETY: checked to be EfiLoaderData below the limit (mmap_in_loader_data); identity-mapped. */
	return (const struct boot_mem_desc *)(uintptr_t)(bi->mmap_phys + i * bi->mmap_desc_size);
}

/* True if [pa, pa+len) lies inside one descriptor of the given type. */
static bool in_type(const struct boot_info *bi, uint64_t pa, uint64_t len, uint32_t type)
{
	for (uint64_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_desc *d = desc(bi, i);
		uint64_t end = d->phys_start + d->num_pages * 4096;
		if (d->type == type && pa >= d->phys_start && pa + len <= end)
			return true;
	}
	return false;
}

static bool is_ram(uint32_t t)
{
	return (t >= EFI_LOADER_CODE && t <= EFI_CONVENTIONAL_MEMORY) || t == EFI_ACPI_RECLAIM_MEMORY ||
	       t == EFI_ACPI_MEMORY_NVS;
}

static void check_header(const struct boot_info *bi)
{
	check("magic", bi->magic == BOOT_INFO_MAGIC, bi->magic, BOOT_INFO_MAGIC);
	check("version", bi->version == BOOT_INFO_VERSION, bi->version, BOOT_INFO_VERSION);
	check("size", bi->size == sizeof *bi, bi->size, sizeof *bi);
	check("boot_path", bi->boot_path == BOOT_PATH_UEFI, bi->boot_path, BOOT_PATH_UEFI);
	const char *want = "ferrous-efi 1";
	bool same = true;
	for (int i = 0; i < 14; i++) same &= bi->loader_name[i] == want[i];
	check("loader_name", same, (uint8_t)bi->loader_name[0], 'f');
}

static void check_mmap(const struct boot_info *bi)
{
	check("mmap_desc_size", bi->mmap_desc_size >= sizeof(struct boot_mem_desc) && bi->mmap_desc_size % 8 == 0,
	      bi->mmap_desc_size, sizeof(struct boot_mem_desc));
	check("mmap_count", bi->mmap_count > 0 && bi->mmap_count < 4096, bi->mmap_count, 0);
	bool sorted = true, pages = true, aligned = true;
	uint64_t top = 0, bad = 0;
	for (uint64_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_desc *d = desc(bi, i);
		if (d->num_pages == 0) { pages = false; bad = i; }
		if (d->phys_start & 4095) { aligned = false; bad = i; }
		if (i && d->phys_start < desc(bi, i - 1)->phys_start + desc(bi, i - 1)->num_pages * 4096) {
			sorted = false;
			bad = i;
		}
		if (is_ram(d->type) && d->phys_start + d->num_pages * 4096 > top)
			top = d->phys_start + d->num_pages * 4096;
	}
	check("mmap_sorted_disjoint", sorted, bad, 0);
	check("mmap_nonempty_desc", pages, bad, 0);
	check("mmap_aligned", aligned, bad, 0);
	uint64_t lim = bi->direct_map_limit, gib = 1ULL << 30;
	check("direct_map_limit_shape", lim % gib == 0 && lim >= 4 * gib && lim <= 64 * gib, lim, 0);
	check("direct_map_limit_covers_ram", lim >= top || lim == 64 * gib, lim, top);
	check("boot_info_in_loader_data", in_type(bi, (uint64_t)(uintptr_t)bi, sizeof *bi, EFI_LOADER_DATA),
	      (uint64_t)(uintptr_t)bi, 0);
	check("mmap_in_loader_data",
	      in_type(bi, bi->mmap_phys, bi->mmap_count * bi->mmap_desc_size, EFI_LOADER_DATA), bi->mmap_phys, 0);
	check("tables_in_loader_data", in_type(bi, bi->boot_tables_phys, bi->boot_tables_size, EFI_LOADER_DATA),
	      bi->boot_tables_phys, bi->boot_tables_size);
	check("kernel_in_loader_data", in_type(bi, bi->kernel_phys_base, bi->kernel_phys_size, EFI_LOADER_DATA),
	      bi->kernel_phys_base, bi->kernel_phys_size);
	if (bi->cmdline_phys)
		check("cmdline_in_loader_data", in_type(bi, bi->cmdline_phys, bi->cmdline_len + 1, EFI_LOADER_DATA),
		      bi->cmdline_phys, bi->cmdline_len);
	if (bi->initrd_phys)
		check("initrd_in_loader_data", in_type(bi, bi->initrd_phys, bi->initrd_size, EFI_LOADER_DATA),
		      bi->initrd_phys, bi->initrd_size);
}

extern char _kernel_start[], _kernel_end[], _text_start[], _bss_start[];

static void check_paging(const struct boot_info *bi)
{
	uint64_t cr3 = read_cr3() & ADDR_MASK;
	check("cr3_is_boot_tables", cr3 == bi->boot_tables_phys, cr3, bi->boot_tables_phys);
	check("tables_aligned", (bi->boot_tables_phys & 4095) == 0 && bi->boot_tables_size % 4096 == 0,
	      bi->boot_tables_phys, bi->boot_tables_size);
	check("cr4_pae_no_la57", (read_cr4() & (1 << 5)) && !(read_cr4() & (1 << 12)), read_cr4(), 0);
	check("interrupts_off", !(read_rflags() & (1 << 9)), read_rflags(), 0);

	/* Identity and direct map: a few chosen points, one address in every GiB, and the last byte. */
	uint64_t lim = bi->direct_map_limit;
	uint64_t pts[] = { 0, 0x1000, 0x200000, 0xfee00000, (uint64_t)(uintptr_t)bi, lim - 0x200000, lim - 1,
			   bi->kernel_phys_base, bi->boot_tables_phys };
	bool id_ok = true, dm_ok = true;
	uint64_t bad = 0;
	for (unsigned i = 0; i < sizeof pts / sizeof pts[0]; i++) {
		if (translate(pts[i]) != pts[i]) { id_ok = false; bad = pts[i]; }
		if (translate(DIRECT_MAP_BASE + pts[i]) != pts[i]) { dm_ok = false; bad = pts[i]; }
	}
	for (uint64_t g = 0; g < lim; g += 1ULL << 30) {
		if (translate(g + 0x1ff000) != g + 0x1ff000) { id_ok = false; bad = g; }
		if (translate(DIRECT_MAP_BASE + g + 0x3ff123) != g + 0x3ff123) { dm_ok = false; bad = g; }
	}
	check("identity_map", id_ok, bad, 0);
	check("direct_map", dm_ok, bad, 0);
	check("nothing_at_limit", translate(lim) == NO_MAPPING && translate(DIRECT_MAP_BASE + lim) == NO_MAPPING,
	      translate(lim), translate(DIRECT_MAP_BASE + lim));
	/* Same byte through both views. */
	/* SAFETY: bi is below the limit, so DIRECT_MAP_BASE + bi is mapped (checked just above). */
	uint64_t via_dm = *(volatile uint64_t *)(uintptr_t)(DIRECT_MAP_BASE + (uint64_t)(uintptr_t)bi);
	check("direct_map_reads_boot_info", via_dm == BOOT_INFO_MAGIC, via_dm, BOOT_INFO_MAGIC);

	/* Kernel image: every 4 KiB page maps to phys_base + offset. */
	uint64_t size = (uint64_t)(_kernel_end - _kernel_start);
	check("kernel_phys_size", bi->kernel_phys_size == ((size + 4095) & ~4095ULL), bi->kernel_phys_size, size);
	check("kernel_phys_base_aligned", (bi->kernel_phys_base & 4095) == 0, bi->kernel_phys_base, 0);
	bool k_ok = true;
	uint64_t bad_off = 0;
	for (uint64_t off = 0; off < bi->kernel_phys_size; off += 4096)
		if (translate(KERNEL_VBASE + off) != bi->kernel_phys_base + off) { k_ok = false; bad_off = off; break; }
	check("kernel_map", k_ok, bad_off, 0);
	check("kernel_end_unmapped", translate(KERNEL_VBASE + bi->kernel_phys_size) == NO_MAPPING,
	      translate(KERNEL_VBASE + bi->kernel_phys_size), 0);
	check("text_is_ours", translate((uint64_t)(uintptr_t)_text_start) == bi->kernel_phys_base, 0, 0);
	check("data_copied", data_marker == 0x0123456789abcdefULL, data_marker, 0x0123456789abcdefULL);
	bool zero = true;
	for (unsigned i = 0; i < sizeof bss_block; i++) zero &= bss_block[i] == 0;
	check("bss_zeroed", zero, 0, 0);
}

static void check_rsdp(const struct boot_info *bi)
{
	if (!check("rsdp_present", bi->rsdp_phys != 0, bi->rsdp_phys, 0))
		return;
	/* SAFETY: the RSDP lies below 4 GiB <= direct_map_limit (OVMF), so it is identity-mapped. */
	const uint8_t *r = (const uint8_t *)(uintptr_t)bi->rsdp_phys;
	const char *sig = "RSD PTR ";
	bool s = true;
	uint8_t sum = 0;
	for (int i = 0; i < 8; i++) s &= r[i] == (uint8_t)sig[i];
	for (int i = 0; i < 20; i++) sum += r[i];
	check("rsdp_signature", s, r[0], 'R');
	check("rsdp_checksum", sum == 0, sum, 0);
	check("rsdp_revision2", r[15] >= 2, r[15], 2);   /* OVMF publishes ACPI 2.0+ */
}

/* FNV-1a 64 of the initrd, for the driver script to compare with the file. */
static uint64_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (uint64_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
	return h;
}

void bootcheck_main(const struct boot_info *bi);
void bootcheck_main(const struct boot_info *bi)
{
	/* 115200 8N1, FIFO on: the firmware's settings may be gone after ExitBootServices. */
	outb(COM1 + 1, 0); outb(COM1 + 3, 0x80); outb(COM1 + 0, 1); outb(COM1 + 1, 0);
	outb(COM1 + 3, 0x03); outb(COM1 + 2, 0xC7); outb(COM1 + 4, 0x0B);
	puts_("\n@@ bootcheck_start\n");
	check_header(bi);
	check_mmap(bi);
	check_paging(bi);
	check_rsdp(bi);
	/* SAFETY: cmdline and initrd were checked to lie in EfiLoaderData, identity-mapped. */
	const char *cl = (const char *)(uintptr_t)bi->cmdline_phys;
	check("cmdline_nul", !cl || cl[bi->cmdline_len] == '\0', bi->cmdline_len, 0);
	puts_("@@ bootcheck passed="); put_dec(passed); puts_(" failed="); put_dec(failed);
	puts_(" cmdline="); put_quoted(cl ? cl : "", cl ? bi->cmdline_len : 0);
	puts_(" initrd_size="); put_dec(bi->initrd_size);
	puts_(" initrd_fnv="); put_hex(bi->initrd_phys ? fnv1a((const uint8_t *)(uintptr_t)bi->initrd_phys,
							     bi->initrd_size) : 0);
	puts_(" mmap_count="); put_dec(bi->mmap_count);
	puts_(" desc_size="); put_dec(bi->mmap_desc_size);
	puts_(" limit="); put_hex(bi->direct_map_limit);
	puts_("\n@@ end status="); puts_(failed ? "fail" : "ok"); putc_('\n');
	outw(0xf4, failed ? 0x11 : 0x10);
	for (;;)
		/* SAFETY: nothing left to do if isa-debug-exit is absent. */
		__asm__ volatile("cli; hlt");
}
