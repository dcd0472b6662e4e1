# kernel/build.mk - the kernel proper.
#
# The kernel is linked twice so that backtraces can name functions: stage 1
# links with an empty symbol table, `nm -n` of that image becomes the table
# (kernel/gen_ksyms.awk), and stage 2 links the same objects with the real
# table. The table lives in .rodata after all code, so no text address can
# move between the stages; the recipe checks that and fails if one did.
KERNEL_ELF    := $(BUILD)/kernel.elf
KERNEL_STAGE1 := $(BUILD)/kernel.stage1.elf
KSYMS_EMPTY_O := $(BUILD)/kernel/ksyms_empty.o
KSYMS_O       := $(BUILD)/kernel/ksyms.o

KERNEL_SRCS += kernel/entry.S kernel/main.c kernel/string.c kernel/serial.c kernel/printk.c \
	kernel/protocol.c kernel/exit.c kernel/panic.c kernel/backtrace.c kernel/boot_info.c \
	kernel/gdt.c kernel/idt.c kernel/trap_entry.S kernel/traps.c kernel/cmdline.c kernel/ktest.c \
	kernel/checkpoint.c kernel/core_ktest.c

# Text symbols of an image, one "address name" per line, for the stage comparison.
kernel_text_syms = nm -n $(1) | awk '$$2 ~ /^[tT]$$/ { print $$1, $$3 }'

$(KSYMS_EMPTY_O): kernel/gen_ksyms.awk
	@mkdir -p $(@D)
	awk -f kernel/gen_ksyms.awk </dev/null >$(@:.o=.gen.S)
	$(CC) $(KERNEL_ASFLAGS) -c $(@:.o=.gen.S) -o $@

$(KERNEL_STAGE1): $$(KERNEL_OBJS) $(KSYMS_EMPTY_O) kernel/kernel.ld
	@mkdir -p $(@D)
	$(LD) $(KERNEL_LDFLAGS) -T kernel/kernel.ld -o $@ $(KERNEL_OBJS) $(KSYMS_EMPTY_O)

$(KSYMS_O): $(KERNEL_STAGE1) kernel/gen_ksyms.awk
	@mkdir -p $(@D)
	nm -n $(KERNEL_STAGE1) | awk -f kernel/gen_ksyms.awk >$(@:.o=.gen.S)
	$(CC) $(KERNEL_ASFLAGS) -c $(@:.o=.gen.S) -o $@

$(KERNEL_ELF): $$(KERNEL_OBJS) $(KSYMS_O) kernel/kernel.ld
	@mkdir -p $(@D)
	$(LD) $(KERNEL_LDFLAGS) -T kernel/kernel.ld -o $@.tmp $(KERNEL_OBJS) $(KSYMS_O)
	@cmp -s <($(call kernel_text_syms,$(KERNEL_STAGE1))) <($(call kernel_text_syms,$@.tmp)) || \
	  { echo "kernel/build.mk: text symbols moved between link stages; symbol table would be wrong" >&2; \
	    diff <($(call kernel_text_syms,$(KERNEL_STAGE1))) <($(call kernel_text_syms,$@.tmp)) | head >&2; \
	    rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

ALL_TARGETS += $(KERNEL_ELF)

# ---- host test of the core's pure parts (formatting, quoting, boot_info checker), ASan/UBSan ----
CORE_HOST_TEST := $(BUILD)/host/test_core_host
# protocol.c's console_lock/unlock calls go to no-op stand-ins in the test (--wrap): the kernel's lock executes
# cli, which faults in user mode.
CORE_HOST_SRCS := tests/test_core_host.c kernel/printk.c kernel/protocol.c kernel/boot_info.c kernel/cmdline.c \
	tests/host/host_panic.c
CORE_HOST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Ikernel -I. \
	-Wl,--wrap=console_lock,--wrap=console_unlock
CORE_HOST_ITERS ?= 200000

$(CORE_HOST_TEST): $(CORE_HOST_SRCS) $(wildcard kernel/*.h tests/host/*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_HOST_CFLAGS) -o $@ $(CORE_HOST_SRCS)

.PHONY: test-host-core test-host
test-host-core: $(CORE_HOST_TEST)
	$(CORE_HOST_TEST) $(CORE_HOST_ITERS)

test-host:: test-host-core
