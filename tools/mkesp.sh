#!/bin/bash
# mkesp.sh OUT.img LOADER.efi KERNEL.elf|- CMDLINE_STRING [INITRD [LOADER_CFG]]
#
# Builds a 4 MiB FAT12 EFI system partition image:
#   \EFI\BOOT\BOOTX64.EFI    the loader (the firmware's default removable-media path)
#   \ferrous\kernel.elf      the kernel ("-" leaves it out, to test the loader's error path)
#   \ferrous\cmdline.txt     CMDLINE_STRING, no trailing newline (written even when empty)
#   \ferrous\initrd          INITRD, when given and not empty ("" = none, to give LOADER_CFG alone)
#   \ferrous\loader.cfg      LOADER_CFG, when given: loader-only test settings, never seen by the
#                            kernel (boot/efi/config.c; e.g. `stale_map_key=1`, boot/efi/memmap.c)
# Fast (mtools only, no root, no loop devices) and safe to run in parallel: the image is built
# under a unique temporary name beside OUT and renamed into place.
set -euo pipefail

usage() { echo "usage: $0 OUT.img LOADER.efi KERNEL.elf|- CMDLINE_STRING [INITRD [LOADER_CFG]]" >&2; exit 2; }
[[ $# -ge 4 && $# -le 6 ]] || usage
out=$1 loader=$2 kernel=$3 cmdline=$4 initrd=${5:-} loader_cfg=${6:-}

for f in "$loader" ${initrd:+"$initrd"} ${loader_cfg:+"$loader_cfg"}; do
	[[ -f $f ]] || { echo "mkesp: no such file: $f" >&2; exit 1; }
done
[[ $kernel == - || -f $kernel ]] || { echo "mkesp: no such file: $kernel" >&2; exit 1; }

# mtools reads no user configuration and does not second-guess the geometry.
export MTOOLSRC=/dev/null MTOOLS_SKIP_CHECK=1

mkdir -p "$(dirname "$out")"
tmp_img=$(mktemp "$out.XXXXXX")
tmp_cmd=$(mktemp)
trap 'rm -f "$tmp_img" "$tmp_cmd"' EXIT

printf '%s' "$cmdline" > "$tmp_cmd"
# 8192 sectors of 512 bytes = 4 MiB; -F is not given, so mformat picks FAT12 for this size.
truncate -s 4M "$tmp_img"
mformat -i "$tmp_img" -T 8192 -h 64 -s 32 -v FERROUS -N 46455252 ::
mmd -i "$tmp_img" ::/EFI ::/EFI/BOOT ::/ferrous
mcopy -i "$tmp_img" "$loader" ::/EFI/BOOT/BOOTX64.EFI
[[ $kernel == - ]] || mcopy -i "$tmp_img" "$kernel" ::/ferrous/kernel.elf
mcopy -i "$tmp_img" "$tmp_cmd" ::/ferrous/cmdline.txt
[[ -z $initrd ]] || mcopy -i "$tmp_img" "$initrd" ::/ferrous/initrd
[[ -z $loader_cfg ]] || mcopy -i "$tmp_img" "$loader_cfg" ::/ferrous/loader.cfg
chmod 0644 "$tmp_img"
mv -f "$tmp_img" "$out"
