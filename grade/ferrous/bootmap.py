"""The memory map the kernel booted with, read from guest memory (not from the kernel's printed lines).

kernel/boot_info.c keeps its own copy of the loader's boot_info (`bi_copy`) and descriptor array
(`mmap_copy`) inside the kernel image. The graders find them through build/kernel.elf's symbol table and
the page tables (an independent walk), read them from guest physical memory and check the header, so a
grader can tell firmware-reserved address ranges (which the kernel maps read-only) from RAM.
Layouts: kernel/boot_info.h (struct boot_info, struct boot_mem_desc: 40 bytes, UEFI memory types).
"""
import struct

from . import elf

BOOT_INFO_MAGIC = 0x544F4F4253524546
DESC_SIZE = 40
# RAM: loader code/data, boot-services code/data, conventional (the kernel's), runtime-services
# code/data, unusable, ACPI reclaim/NVS, persistent (the firmware's). MMIO (11, 12) and PAL code (13) are
# not RAM and never mapped. Every other type -- reserved (0), OEM- and OS-defined, unknown -- is an address
# range the firmware keeps (BIOS ROM, SeaBIOS' high area, holes): kernel/mm/memmap.h's "reserved" class,
# which the kernel direct-maps read-only below 4 GiB.
RAM_TYPES = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14}
NOT_RAM_TYPES = {11, 12, 13}
MAX_ENTRIES = 4096


class BootMapError(ValueError):
    """The copy in guest memory is not a well-formed boot_info and memory map."""


def read(kernel_elf, translate, read_phys):
    """[(type, start, end)] from the kernel's copy of the map. translate(va) -> physical address or None
    (e.g. an x86walk.Walker's translate(va).pa), read_phys(pa, n) -> bytes."""
    syms = elf.symbols(kernel_elf)
    for name in ("bi_copy", "mmap_copy"):
        if name not in syms:
            raise BootMapError(f"{kernel_elf}: no symbol {name} (kernel/boot_info.c)")
    bi_pa, mm_pa = translate(syms["bi_copy"]), translate(syms["mmap_copy"])
    if bi_pa is None or mm_pa is None:
        raise BootMapError("bi_copy or mmap_copy is not mapped in the current tables")
    hdr = read_phys(bi_pa, 48)
    magic, _version, _size, _path, _r0, mmap_phys, count, desc_size = struct.unpack("<QIIIIQQQ", hdr)
    if magic != BOOT_INFO_MAGIC:
        raise BootMapError(f"bi_copy magic 0x{magic:x}")
    if mmap_phys != mm_pa or desc_size != DESC_SIZE or not 0 < count <= MAX_ENTRIES:
        raise BootMapError(f"bi_copy: mmap_phys 0x{mmap_phys:x} (mmap_copy at 0x{mm_pa:x}), "
                           f"count {count}, desc_size {desc_size}")
    raw = read_phys(mm_pa, count * DESC_SIZE)
    out = []
    for i in range(count):
        typ, _pad, start, _virt, pages, _attr = struct.unpack_from("<IIQQQQ", raw, i * DESC_SIZE)
        # The kernel validated the loader's map (sorted, non-overlapping, non-empty) before copying it;
        # a copy that breaks that could hide RAM under a reserved descriptor.
        if pages == 0 or (out and start < out[-1][2]):
            raise BootMapError(f"mmap_copy[{i}]: start 0x{start:x}, {pages} pages: empty, unsorted or "
                               f"overlapping the previous descriptor")
        out.append((typ, start, start + pages * 4096))
    return out


def reserved_ranges(descs):
    """Merged [(start, end)] of the descriptors in the "reserved" class (neither RAM nor MMIO/PAL)."""
    spans = sorted((s, e) for t, s, e in descs if t not in RAM_TYPES and t not in NOT_RAM_TYPES)
    merged = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def ram_bytes(descs):
    return sum(e - s for t, s, e in descs if t in RAM_TYPES)


def in_ranges(ranges, pa):
    return any(s <= pa < e for s, e in ranges)


def reserved_via_walker(kernel_elf, walker, read_phys):
    """reserved_ranges() of the map found through an x86walk.Walker over the loaded tables."""
    return reserved_ranges(read(kernel_elf, lambda va: getattr(walker.translate(va), "pa", None), read_phys))
