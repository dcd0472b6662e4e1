# Ferrous top-level Makefile.
#
# Each subsystem adds its own rules in a build.mk beside its sources; this file
# holds the shared configuration and the user-facing targets. `make help` lists them.

.DEFAULT_GOAL := all
.SECONDEXPANSION:
SHELL := /bin/bash

BUILD   ?= build
EMU     ?= qemu
BOOT    ?= uefi          # uefi | grub   (QEMU boot path for `make qemu`)
MEM     ?= 256M
SMP     ?= 1
ACCEL   ?= tcg
CMDLINE ?=
LAB     ?=
SEED    ?=

CC      := gcc
LD      := ld
OBJCOPY := objcopy

# The Python that can import pytest: Debian's /usr/bin/python3 first (a pyenv
# python3 earlier on PATH often cannot see Debian's python3-pytest).
PYTHON  ?= $(shell for p in /usr/bin/python3 python3; do $$p -c 'import pytest' >/dev/null 2>&1 && { command -v $$p; break; }; done)

# ---- kernel (freestanding, higher half) ----
KERNEL_CFLAGS := -std=c11 -ffreestanding -fno-builtin -nostdlib -fno-stack-protector -fno-pic -fno-pie \
	-mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mgeneral-regs-only \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-asynchronous-unwind-tables \
	-O2 -g -Wall -Wextra -Werror -Ikernel -I. -MMD -MP -D__FERROUS_KERNEL__
KERNEL_ASFLAGS := -Ikernel -I. -MMD -MP -g -D__ASSEMBLY__ -D__FERROUS_KERNEL__
KERNEL_LDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments

# Sources appended by the build.mk fragments.
KERNEL_SRCS :=

include kernel/build.mk
include kernel/mm/pmm.mk
include kernel/mm/paging.mk
include boot/multiboot2/build.mk
include boot/efi/build.mk
include tests/pmm.mk
include tests/paging.mk
include mk/run.mk
include grade/build.mk

KERNEL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter %.c,$(KERNEL_SRCS))) \
               $(patsubst %.S,$(BUILD)/%.o,$(filter %.S,$(KERNEL_SRCS)))

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

-include $(KERNEL_OBJS:.o=.d)

.PHONY: all help clean doctor
all: $(ALL_TARGETS)

clean:
	rm -rf $(BUILD) results.json junit.xml .gdb-port

doctor:
	@$(SHELL) tools/doctor.sh

help:
	@echo "make               build kernel, UEFI loader, ESP image and GRUB ISO"
	@echo "make qemu          boot under QEMU (BOOT=uefi|grub); serial console on this terminal, Ctrl-a x"
	@echo "                   quits; exit status 0 when the kernel ends with status=ok (see mk/run.mk)"
	@echo "make qemu-nox      same as make qemu (the kernel only uses the serial port: no window either way)"
	@echo "make qemu-gdb      boot halted with a gdbstub; then 'make gdb' in another terminal"
	@echo "make efi-check     boot the UEFI loader with good and broken ESP images (about 1 minute)"
	@echo "make bochs         boot the GRUB ISO under Bochs"
	@echo "make grade         run the graders (LAB=name, EMU=qemu|bochs); writes results.json"
	@echo "make test          the whole test suite (host tests + graders on both emulators)"
	@echo "make bench         host benchmarks of the mm code"
	@echo "make doctor        check that every tool and firmware file is installed"
	@echo "variables: MEM=$(MEM) SMP=$(SMP) ACCEL=$(ACCEL) CMDLINE='...' SEED=N"
