#!/usr/bin/env bash
# doctor.sh - check every tool and firmware file Ferrous needs; name the Debian package that fixes each gap.
# Exit status: 0 when everything is there, 1 otherwise.
set -u
missing=()
ok()   { printf '  ok       %-28s %s\n' "$1" "$2"; }
miss() { printf '  MISSING  %-28s -> apt-get install %s\n' "$1" "$2"; missing+=("$2"); }

check_cmd() {   # check_cmd NAME PACKAGE
	if command -v "$1" >/dev/null 2>&1; then ok "$1" "$(command -v "$1")"; else miss "$1" "$2"; fi
}
check_file() {  # check_file PATH PACKAGE
	if [ -e "$1" ]; then ok "$(basename "$1")" "$1"; else miss "$1" "$2"; fi
}

echo "Ferrous doctor: tools"
check_cmd gcc gcc
check_cmd ld binutils
check_cmd objcopy binutils
check_cmd make make
check_cmd clang clang
check_cmd gdb gdb
check_cmd mformat mtools
check_cmd mcopy mtools
check_cmd xorriso xorriso
check_cmd grub-mkrescue grub-common
check_cmd bochs bochs

if command -v qemu-system-x86_64 >/dev/null 2>&1; then
	v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	set -- $v
	if [ "${1:-0}" -gt 7 ] || { [ "${1:-0}" -eq 7 ] && [ "${2:-0}" -ge 2 ]; }; then
		ok qemu-system-x86_64 "version $1.$2"
	else
		miss "qemu-system-x86_64 >= 7.2 (found ${1:-?}.${2:-?})" qemu-system-x86
	fi
else
	miss qemu-system-x86_64 qemu-system-x86
fi

echo "Ferrous doctor: firmware, libraries, modules"
check_file /usr/share/OVMF/OVMF_CODE_4M.fd ovmf
check_file /usr/share/OVMF/OVMF_VARS_4M.fd ovmf
check_file /usr/share/ovmf/OVMF.fd ovmf
check_file /usr/include/efi/efi.h gnu-efi
check_file /usr/lib/crt0-efi-x86_64.o gnu-efi
check_file /usr/lib/elf_x86_64_efi.lds gnu-efi
check_file /usr/lib/libgnuefi.a gnu-efi
check_file /usr/lib/grub/i386-pc/multiboot2.mod grub-pc-bin
check_file /usr/share/bochs/BIOS-bochs-latest bochsbios
check_file /usr/share/vgabios/vgabios.bin vgabios
if [ -d /usr/lib/x86_64-linux-gnu/bochs/plugins ] && ls /usr/lib/x86_64-linux-gnu/bochs/plugins | grep -q term; then
	ok "bochs term display" "plugin present"
else
	miss "bochs term display plugin" bochs-term
fi
if command -v bochs >/dev/null 2>&1; then
	# Only a Bochs built with x86-64 offers 64-bit CPU models such as the one the bochsrc uses.
	if bochs -help cpu 2>&1 | grep -q corei7_sandy_bridge_2600k; then
		ok "bochs x86-64" "cpu model corei7_sandy_bridge_2600k available"
	else
		miss "bochs built with x86-64" "bochs (Debian's build; a self-built one needs --enable-x86-64)"
	fi
fi

echo "Ferrous doctor: Python"
py=""
for p in /usr/bin/python3 python3; do
	if $p -c 'import pytest' >/dev/null 2>&1; then py=$(command -v $p); break; fi
done
if [ -n "$py" ]; then
	ok "pytest" "$py ($($py -c 'import pytest; print("pytest", pytest.__version__)'))"
	if [ "$py" != "$(command -v python3)" ]; then
		echo "           note: 'python3' on PATH ($(command -v python3)) cannot import pytest; the Makefile uses $py"
	fi
else
	miss "python3 with pytest" python3-pytest
fi

if [ -e /dev/kvm ]; then
	echo "note: /dev/kvm exists; ACCEL=kvm may work on this machine (everything also runs under TCG, the default)"
fi

if [ ${#missing[@]} -gt 0 ]; then
	pk=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
	echo
	echo "doctor: missing pieces. Fix with:  sudo apt-get install $pk"
	echo "        (or run tools/install-deps.sh, which installs everything)"
	exit 1
fi
echo
echo "doctor: everything Ferrous needs is installed."
