#!/usr/bin/env bash
# mkgrubcmd.sh OUT.img "CMDLINE" - write the per-run command-line disk for the GRUB ISO.
#
# OUT.img becomes a 1.44 MB FAT12 floppy image holding /ferrous/cmdline.cfg:
#     set ferrous_cmdline='CMDLINE'
# which boot/multiboot2/grub.cfg finds with `search --file` and sources; the
# words of CMDLINE reach the kernel as its Multiboot2 command line (GRUB splits
# on blanks and joins the words with one space). GRUB puts a backslash before
# every ', " and \ it passes on, so those characters are refused here rather
# than silently changed. How to attach the image to
# QEMU or Bochs: see the top of boot/multiboot2/grub.cfg.
#
# Needs mtools only (no root, no loop devices). Temporary files come from
# mktemp; OUT.img is replaced atomically, so parallel runs with different
# OUT paths never collide. The image is byte-for-byte reproducible.
# Exit status 2 on bad arguments.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUT.img \"CMDLINE\"" >&2
	exit 2
fi
out=$1
cmdline=${2-}

# GRUB reads the file as a script line: refuse what would change its meaning.
case $cmdline in
*$'\n'* | *$'\r'*)
	echo "mkgrubcmd.sh: the command line must be one line" >&2
	exit 2 ;;
esac
if printf '%s' "$cmdline" | LC_ALL=C grep -q '[[:cntrl:]]'; then
	echo "mkgrubcmd.sh: control characters in the command line" >&2
	exit 2
fi
case $cmdline in
*\'*| *\"* | *\\*)
	echo "mkgrubcmd.sh: ' \" and \\ cannot be passed through GRUB unchanged (it escapes them)" >&2
	exit 2 ;;
esac

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/mkgrubcmd.XXXXXX")
trap 'rm -rf "$tmpdir"' EXIT

# Inside GRUB single quotes nothing is special (and ' itself was refused above).
printf "set ferrous_cmdline='%s'\n" "$cmdline" > "$tmpdir/cmdline.cfg"

# Same CMDLINE => same image bytes: fixed volume serial (-N) and timestamps.
img=$tmpdir/cmd.img
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null SOURCE_DATE_EPOCH=946684800
touch -d @946684800 "$tmpdir/cmdline.cfg"
mformat -i "$img" -C -f 1440 -N 46455252 -v FERCMD ::
mmd -i "$img" ::/ferrous
mcopy -m -i "$img" "$tmpdir/cmdline.cfg" ::/ferrous/cmdline.cfg

mkdir -p "$(dirname "$out")"
mv -f "$img" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
