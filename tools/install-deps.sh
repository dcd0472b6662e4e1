#!/usr/bin/env bash
# install-deps.sh - install every Debian package Ferrous needs to build, boot and test.
# The one list of packages: .ci/run, the README and `make doctor` all point here.
set -euo pipefail

PACKAGES=(
	make gcc binutils libc6-dev       # host toolchain (no cross compiler needed)
	clang libclang-rt-14-dev          # libFuzzer harness for the memory-map parser (the runtime is only a Recommends of clang)
	gnu-efi                           # UEFI loader headers, crt0, linker script
	qemu-system-x86 ovmf              # QEMU 7.2 + UEFI firmware
	bochs bochsbios bochs-term vgabios  # Bochs 2.7 with x86-64, headless terminal display
	grub-pc-bin grub-common xorriso mtools dosfstools  # GRUB/Multiboot2 ISO and the FAT ESP
	gdb                               # make gdb, the GDB tests
	nasm                              # the harness self-test guest (grade/selftest)
	python3 python3-pytest            # the graders
)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
	command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
fi
pkgs="${PACKAGES[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
echo "install-deps: installed: $pkgs"
