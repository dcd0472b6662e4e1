# .gdbinit - Ferrous: kernel symbols, connect to the gdbstub of `make qemu-gdb`.
#
# Use `make gdb` (it allows this file with -iex add-auto-load-safe-path), or run plain `gdb` here
# after adding `add-auto-load-safe-path /path/to/ferrous/.gdbinit` to ~/.config/gdb/gdbinit.
#
# Breakpoints in the kernel: prefer `hbreak` (hardware) -- e.g. `hbreak kmain`, then `continue`.
# The UEFI loader is relocated by the firmware: it prints `ferrous-efi: ImageBase=0x...`; then
# `loader-symbols 0x...` loads its symbols at that base.

set confirm off
set pagination off
file build/kernel.elf
# Before `target remote`: the CPU starts in real mode and gdb would otherwise guess a 32-bit
# target ("Remote 'g' packet reply is too long").
set architecture i386:x86-64

define loader-symbols
  if $argc != 1
    echo usage: loader-symbols IMAGEBASE   (the value of ferrous-efi: ImageBase=0x...)\n
  else
    add-symbol-file build/boot/efi/loader.so -o $arg0
  end
end
document loader-symbols
Load the UEFI loader's symbols (build/boot/efi/loader.so) at the base the firmware chose.
Usage: loader-symbols IMAGEBASE, with the value the loader prints as "ferrous-efi: ImageBase=0x...".
end

python
import os
if os.path.exists("tools/gdb/ferrous.py"):
    gdb.execute("source tools/gdb/ferrous.py")
port_file = ".gdb-port"
try:
    with open(port_file) as f:
        port = int(f.read().strip())
except (OSError, ValueError):
    print("ferrous: no usable %s; start `make qemu-gdb` first, then `target remote localhost:PORT`" % port_file)
else:
    print("ferrous: connecting to localhost:%d (from %s)" % (port, port_file))
    try:
        gdb.execute("target remote localhost:%d" % port)
    except gdb.error as e:
        print("ferrous: cannot connect (%s); is `make qemu-gdb` still running?" % e)
end
