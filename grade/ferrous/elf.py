"""What the graders need from build/kernel.elf, read with the stdlib: the symbol table and the bytes of a
loadable segment. Graders take addresses from the file the kernel was built from, not from the kernel's
own report of them (an ELF64 little-endian x86-64 executable is assumed; anything else is an error)."""
import struct

SHT_SYMTAB = 2
PT_LOAD = 1


class ElfError(ValueError):
    """The file is not the ELF64 executable the graders expect, or lacks what was asked for."""


def _read(path):
    """The whole file, read now (not cached: `make` may rebuild the kernel between two boots)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path}: not an ELF64 little-endian file")
    return data


def symbols(path):
    """{name: value} of every named symbol in the file's .symtab (the last one wins on duplicates)."""
    elf = _read(path)
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    out = {}
    for i in range(shnum):
        sh = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", elf, sh + 4)
        if sh_type != SHT_SYMTAB:
            continue
        off, size, link, _info, _align, entsize = struct.unpack_from("<QQIIQQ", elf, sh + 0x18)
        stroff, = struct.unpack_from("<Q", elf, shoff + link * shentsize + 0x18)
        for j in range(entsize and size // entsize):
            st_name, _st_info, _other, _shndx, st_value, _st_size = struct.unpack_from(
                "<IBBHQQ", elf, off + j * entsize)
            if st_name:
                end = elf.index(b"\0", stroff + st_name)
                out[elf[stroff + st_name:end].decode("ascii", "replace")] = st_value
    if not out:
        raise ElfError(f"{path}: no symbol table (stripped?)")
    return out


def symbol(path, name):
    """The value of one symbol; ElfError naming it when absent."""
    syms = symbols(path)
    if name not in syms:
        raise ElfError(f"{path}: no symbol {name!r}")
    return syms[name]


def segment_bytes(path, vaddr):
    """The file bytes of the PT_LOAD segment whose virtual address is vaddr."""
    elf = _read(path)
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize)
        if p_type == PT_LOAD and p_vaddr == vaddr:
            return elf[p_offset:p_offset + p_filesz]
    raise ElfError(f"{path}: no PT_LOAD at 0x{vaddr:x}")
