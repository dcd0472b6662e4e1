#!/bin/bash
# run.sh LOADER.efi BOOTCHECK.elf [KERNEL.elf] - end-to-end tests of the UEFI loader under QEMU + OVMF.
#
# Each case builds a private ESP with tools/mkesp.sh, boots it once and checks the QEMU exit code,
# the protocol lines and the wall time:
#   handoff     bootcheck.elf + a command line ending in CR LF + a 12345-byte initrd:
#               exit 33, every `@@ check` ok (bootcheck.c: boot_info fields, memory map sorted and
#               typed, CR3 = boot tables, identity/direct/kernel mappings, RSDP, .data/.bss),
#               cmdline echoed without CR LF, initrd hash equal, direct_map_limit = 4 GiB
#   empty       bootcheck.elf, empty command line, no initrd: exit 33, cmdline=""
#   bigmem      bootcheck.elf with -m 5G (RAM above 4 GiB): direct_map_limit = 6 GiB, checks pass
#   no-kernel   no \ferrous\kernel.elf: exit 39 with `@@ loader_error`
#   text-elf    a text file as kernel.elf: exit 39 (bad ELF magic)
#   i386-elf    bootcheck.elf with e_machine = EM_386: exit 39
#   short-elf   the first 100 bytes of bootcheck.elf (program headers past the end): exit 39
#   long-cmd    a 5000-byte command line (limit 4096): exit 39
#   bad-cfg     \ferrous\loader.cfg with a comment, a blank line, CR LF ends and a misspelt key on
#               line 3: exit 39, the message names loader.cfg line 3
#   kernel      the real kernel, empty command line: its `@@ boot` line says path=uefi and
#               loader="ferrous-efi 1", and it reaches `@@ end` (any status; only if given)
# The retry loop of GetMemoryMap + ExitBootServices, through the test knob `stale_map_key=N` in
# \ferrous\loader.cfg (boot/efi/memmap.c explains how the key goes stale):
#   stale-once   bootcheck.elf, N = 1: exit 33, every check ok (the map handed over is the one of the
#                retry), exactly one `@@ loader_retry attempt=1`
#   stale-kernel the real kernel, N = 2: `@@ loader_retry` attempts 1 and 2, then the same `@@ boot`
#                checks as `kernel` and the same `@@ end` status as `kernel` (only if given)
#   stale-max    bootcheck.elf, N = 16, above the loader's bound M (the `max=` of the retry lines):
#                retries 1..M-1, then exit 39 with `@@ loader_error` "... after M attempts", no hang
# Every other case must show no `@@ loader_retry` at all.
# Env: OVMF_FW (default /usr/share/ovmf/OVMF.fd, run with -bios), CASE_TIMEOUT (s, default 30),
# CASES="name ..." runs only those cases, KEEP=1 keeps the temp dir. Exit status 0 when every case
# that ran passed.
set -uo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 LOADER.efi BOOTCHECK.elf [KERNEL.elf]" >&2; exit 2; }
loader=$1 bootcheck=$2 kernel=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkesp=$here/../../../tools/mkesp.sh
fw=${OVMF_FW:-/usr/share/ovmf/OVMF.fd}
case_timeout=${CASE_TIMEOUT:-30}
py=$(command -v python3 || echo /usr/bin/python3)

tmp=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] && echo "temp dir: $tmp" || trap 'rm -rf "$tmp"' EXIT
failures=0

# want NAME: true when the case is selected by $CASES (all when unset or empty).
want() { [[ -z ${CASES:-} || " $CASES " == *" $1 "* ]]; }

# boot NAME ESP [MEM]: runs QEMU on the ESP; sets rc, secs and out (the serial transcript file).
boot() {
	out=$tmp/$1.serial
	local t0=$(date +%s%N)
	timeout "$case_timeout" qemu-system-x86_64 -nodefaults -no-reboot -display none -m "${3:-256M}" -accel tcg \
		-bios "$fw" -drive "if=ide,format=raw,file=$2" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$out" </dev/null >"$tmp/$1.qemu" 2>&1
	rc=$?
	local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	secs=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
}

# verdict NAME OK DETAIL: prints one result line and counts failures.
verdict() {
	if [[ $2 == 1 ]]; then
		printf 'PASS %-12s %5.1fs exit=%s %s\n' "$1" "$secs" "$rc" "$3"
	else
		printf 'FAIL %-12s %5.1fs exit=%s %s\n' "$1" "$secs" "$rc" "$3"
		sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g' "$out" | tr -d '\r' | grep -av '^$' | tail -15 | sed 's/^/    | /'
		failures=$((failures + 1))
	fi
}

# field LINE KEY: the value of KEY in a protocol line (bare or quoted, unescaped).
field() {
	"$py" - "$1" "$2" <<'PYEOF'
import re, sys
line, key = sys.argv[1], sys.argv[2]
m = re.search(r'(?:^| )' + re.escape(key) + r'=("((?:[^"\\]|\\.)*)"|[^ "]*)', line)
if m:
    v = m.group(2) if m.group(2) is not None else m.group(1)
    print(re.sub(r'\\(.)', lambda x: '\n' if x.group(1) == 'n' else x.group(1), v), end='')
PYEOF
}

proto() { tr -d '\r' < "$out" | grep -a "^@@ $1\( \|$\)" | tail -1; }

# retries: the attempt numbers of the `@@ loader_retry` lines, space separated ("" when none).
retries() { tr -d '\r' < "$out" | grep -a '^@@ loader_retry ' | sed -n 's/.* attempt=\([0-9]*\).*/\1/p' | paste -sd' '; }

# check_retries N: appends to $why and clears $ok unless the retry lines are exactly attempts 1..N.
check_retries() {
	local got want_list
	got=$(retries) want_list=$(seq 1 "$1" | paste -sd' ')
	[[ $got == "$want_list" ]] || { ok=0; why+="loader_retry attempts '$got', want '$want_list'; "; }
}

fnv1a() {
	"$py" -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(hex(h))' "$1"
}

# expect_handoff NAME CMDLINE_SENT CMDLINE_WANT [INITRD [MEM LIMIT [LOADER_CFG RETRIES]]]
expect_handoff() {
	local name=$1 sent=$2 want=$3 initrd=${4:-} mem=${5:-256M} limit=${6:-0x100000000} cfg=${7:-} nretry=${8:-0}
	want "$name" || return 0
	"$mkesp" "$tmp/$name.img" "$loader" "$bootcheck" "$sent" "$initrd" "$cfg" || { echo "FAIL $name: mkesp"; failures=$((failures+1)); return; }
	boot "$name" "$tmp/$name.img" "$mem"
	local summary bad got ok=1 why=""
	summary=$(proto bootcheck)
	bad=$(tr -d '\r' < "$out" | grep -a '^@@ check ' | grep -c ' ok=0')
	[[ $rc == 33 ]] || { ok=0; why+="want exit 33; "; }
	[[ -n $summary ]] || { ok=0; why+="no @@ bootcheck line; "; }
	[[ $bad == 0 ]] || { ok=0; why+="$bad failed checks: $(tr -d '\r' < "$out" | grep -a '^@@ check .* ok=0' | head -3 | tr '\n' ';'); "; }
	[[ $(field "$summary" limit) == "$limit" ]] || { ok=0; why+="direct_map_limit $(field "$summary" limit) != $limit; "; }
	got=$(field "$summary" cmdline)
	[[ $got == "$want" ]] || { ok=0; why+="cmdline '$got' != '$want'; "; }
	if [[ -n $initrd ]]; then
		[[ $(field "$summary" initrd_size) == $(stat -c %s "$initrd") ]] || { ok=0; why+="initrd size; "; }
		[[ $(field "$summary" initrd_fnv) == $(fnv1a "$initrd") ]] || { ok=0; why+="initrd hash; "; }
	else
		[[ $(field "$summary" initrd_size) == 0 ]] || { ok=0; why+="initrd_size not 0; "; }
	fi
	check_retries "$nretry"
	[[ $nretry == 0 ]] || summary="retries=[$(retries)] $summary"
	verdict "$name" "$ok" "${why:-$(echo "$summary" | cut -c1-150)}"
}

# expect_loader_error NAME KERNEL_FILE CMDLINE WANT_SUBSTRING [LOADER_CFG [RETRIES]]
# RETRIES: the number of `@@ loader_retry` lines (default 0), or "bound": attempts 1..M-1 where M is
# their common max=, and WANT_SUBSTRING gets " after M attempts" appended.
expect_loader_error() {
	local name=$1 wantmsg=$4 cfg=${5:-} nretry=${6:-0}
	want "$name" || return 0
	"$mkesp" "$tmp/$name.img" "$loader" "$2" "$3" "" "$cfg" || { echo "FAIL $name: mkesp"; failures=$((failures+1)); return; }
	boot "$name" "$tmp/$name.img"
	local line msg ok=1 why="" max
	if [[ $nretry == bound ]]; then
		max=$(tr -d '\r' < "$out" | grep -a '^@@ loader_retry ' | sed -n 's/.* max=\([0-9]*\).*/\1/p' | sort -u)
		[[ $max =~ ^[0-9]+$ && $max -ge 2 ]] || { ok=0; why+="loader_retry max= '$max', want one number >= 2; "; max=2; }
		nretry=$((max - 1)) wantmsg+=" after $max attempts"
	fi
	line=$(proto loader_error)
	msg=$(field "$line" msg)
	[[ $rc == 39 ]] || { ok=0; why+="want exit 39; "; }
	[[ -n $line ]] || { ok=0; why+="no @@ loader_error line; "; }
	[[ $msg == *"$wantmsg"* ]] || { ok=0; why+="msg lacks '$wantmsg'; "; }
	check_retries "$nretry"
	verdict "$name" "$ok" "${why:-msg=\"$msg\"${max:+ retries=[$(retries)]}}"
}

# expect_kernel NAME [LOADER_CFG RETRIES]: the real kernel, empty command line. The kernel is still
# growing: this checks the hand-off (the kernel's own boot line names this loader and the run reaches
# `@@ end`) and reports the end status without judging it, except that a case with a LOADER_CFG must
# end with the same status as the plain `kernel` case (same kernel, same command line).
kernel_status=""
expect_kernel() {
	local name=$1 cfg=${2:-} nretry=${3:-0}
	want "$name" || return 0
	"$mkesp" "$tmp/$name.img" "$loader" "$kernel" '' "" "$cfg" || { echo "FAIL $name: mkesp"; failures=$((failures+1)); return; }
	boot "$name" "$tmp/$name.img"
	local bootline end ok=1 why=""
	bootline=$(proto boot) end=$(proto end)
	[[ $(field "$bootline" path) == uefi && $(field "$bootline" loader) == "ferrous-efi 1" ]] || { ok=0; why+="boot line; "; }
	[[ -n $end ]] || { ok=0; why+="no @@ end line; "; }
	check_retries "$nretry"
	if [[ -z $cfg ]]; then
		kernel_status=$(field "$end" status)
	elif [[ -n $kernel_status && $(field "$end" status) != "$kernel_status" ]]; then
		ok=0; why+="end status '$(field "$end" status)' != '$kernel_status' of case kernel; "
	fi
	[[ $nretry == 0 ]] || end="retries=[$(retries)] $end"
	verdict "$name" "$ok" "${why}${end:-no @@ end line} (${bootline:-no @@ boot line})"
}

head -c 12345 /dev/urandom > "$tmp/initrd.bin"
for i in 1 2 3 4; do echo "This is a text file, not an ELF file; long enough to cover an ELF header."; done > "$tmp/text.elf"
cp "$bootcheck" "$tmp/i386.elf" && printf '\x03\x00' | dd of="$tmp/i386.elf" bs=1 seek=18 conv=notrunc status=none
head -c 100 "$bootcheck" > "$tmp/short.elf"
printf '# retry-path test\nstale_map_key=1\n' > "$tmp/stale1.cfg"
printf 'stale_map_key=2' > "$tmp/stale2.cfg"
printf 'stale_map_key=16\n' > "$tmp/stale16.cfg"
printf '# comment\r\n\r\nstale_map_kye=1\r\n' > "$tmp/bad.cfg"

expect_handoff handoff $'test=pmm.*,kheap.* seed=42 msg="a b" path=C:\\x\r\n' 'test=pmm.*,kheap.* seed=42 msg="a b" path=C:\x' "$tmp/initrd.bin"
expect_handoff empty '' ''
expect_handoff bigmem 'x' 'x' '' 5G 0x180000000
expect_loader_error no-kernel - '' 'kernel.elf'
expect_loader_error text-elf "$tmp/text.elf" '' 'bad ELF magic'
expect_loader_error i386-elf "$tmp/i386.elf" '' 'machine 3'
expect_loader_error short-elf "$tmp/short.elf" '' 'program headers'
expect_loader_error long-cmd "$bootcheck" "$(head -c 5000 /dev/zero | tr '\0' x)" 'cmdline.txt'
expect_loader_error bad-cfg "$bootcheck" '' 'loader.cfg line 3: unknown key' "$tmp/bad.cfg"
expect_handoff stale-once 'y' 'y' '' 256M 0x100000000 "$tmp/stale1.cfg" 1
expect_loader_error stale-max "$bootcheck" '' 'map key still stale' "$tmp/stale16.cfg" bound

if [[ -n $kernel ]]; then
	expect_kernel kernel
	expect_kernel stale-kernel "$tmp/stale2.cfg" 2
fi

echo "efi-check: $failures failed"
[[ $failures == 0 ]]
