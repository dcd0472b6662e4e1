# boot/multiboot2/build.mk - the Multiboot2/GRUB boot path: 32-bit entry and
# converter (linked into the kernel), the BIOS GRUB ISO, the per-run command-line
# disk and `make bochs`.
#
# Exports: GRUB_ISO (the ISO), MKGRUBCMD (tools/mkgrubcmd.sh OUT.img "CMDLINE"),
# BOCHS_RC_TEMPLATE. See boot/multiboot2/grub.cfg for how to attach the
# command-line disk to QEMU and Bochs.

KERNEL_SRCS += boot/multiboot2/entry32.S boot/multiboot2/mb2_boot_info.c

GRUB_ISO          := $(BUILD)/ferrous.iso
GRUB_ISO_DIR      := $(BUILD)/iso
GRUB_PC_DIR       ?= /usr/lib/grub/i386-pc
MKGRUBCMD         := tools/mkgrubcmd.sh
BOCHS_RC_TEMPLATE := boot/multiboot2/bochsrc.in

# BIOS-only ISO (-d i386-pc): boots under SeaBIOS and the Bochs BIOS. Every GRUB
# module is copied into the ISO's /boot/grub/i386-pc; grub.cfg insmods the ones
# it needs. grub-mkrescue's chatter goes to a log shown only on failure.
$(GRUB_ISO): $(KERNEL_ELF) boot/multiboot2/grub.cfg boot/multiboot2/build.mk
	@rm -rf $(GRUB_ISO_DIR)
	@mkdir -p $(GRUB_ISO_DIR)/boot/grub
	cp $(KERNEL_ELF) $(GRUB_ISO_DIR)/boot/kernel.elf
	cp boot/multiboot2/grub.cfg $(GRUB_ISO_DIR)/boot/grub/grub.cfg
	@grub-mkrescue -d $(GRUB_PC_DIR) --locales= --themes= -o $@.tmp $(GRUB_ISO_DIR) \
		>$(BUILD)/grub-mkrescue.log 2>&1 \
		|| { cat $(BUILD)/grub-mkrescue.log; rm -f $@.tmp; exit 1; }
	@mv $@.tmp $@
	@echo "  ISO     $@"

ALL_TARGETS += $(GRUB_ISO)

# ---- Bochs ----
# make bochs [CMDLINE='...'] [MEM=256M] [BOCHS_TIMEOUT=120]: boots the ISO under
# Bochs with COM1 in $(BOCHS_DIR)/serial.txt; the kernel's magic break after
# `@@ end` makes the debugger run the rc file's `quit`. The timeout (SIGINT:
# Bochs ignores SIGTERM) only ends a hung run.
BOCHS         ?= bochs
BOCHS_DIR     := $(BUILD)/bochs
BOCHS_TIMEOUT ?= 120
BOCHS_MEM_MB   = $(patsubst %M,%,$(patsubst %m,%,$(strip $(MEM))))

.PHONY: bochs bochs-rc
bochs-rc: $(GRUB_ISO) $(BOCHS_RC_TEMPLATE) $(MKGRUBCMD)
	@mkdir -p $(BOCHS_DIR)
	@$(MKGRUBCMD) $(BOCHS_DIR)/cmdline.img "$(CMDLINE)"
	@sed -e 's|@ISO@|$(abspath $(GRUB_ISO))|' \
	     -e 's|@CMDLINE_IMG@|$(abspath $(BOCHS_DIR))/cmdline.img|' \
	     -e 's|@SERIAL@|$(abspath $(BOCHS_DIR))/serial.txt|' \
	     -e 's|@LOG@|$(abspath $(BOCHS_DIR))/bochs.log|' \
	     -e 's|@MEM_MB@|$(BOCHS_MEM_MB)|' \
	     $(BOCHS_RC_TEMPLATE) > $(BOCHS_DIR)/bochsrc
	@printf 'continue\nquit\n' > $(BOCHS_DIR)/cmds

bochs: bochs-rc
	@rm -f $(BOCHS_DIR)/serial.txt $(BOCHS_DIR)/bochs.log
	@echo "  BOCHS   $(GRUB_ISO) cmdline='$(CMDLINE)' (serial: $(BOCHS_DIR)/serial.txt)"
	@rc=0; timeout -s INT -k 5 $(BOCHS_TIMEOUT) $(BOCHS) -q -f $(BOCHS_DIR)/bochsrc -rc $(BOCHS_DIR)/cmds \
		</dev/null >$(BOCHS_DIR)/stdout.txt 2>&1 || rc=$$?; \
	echo "----- serial -----"; cat $(BOCHS_DIR)/serial.txt 2>/dev/null; \
	echo "----- bochs exit $$rc (124 = timeout; log: $(BOCHS_DIR)/bochs.log) -----"; \
	grep -q '^@@ end ' $(BOCHS_DIR)/serial.txt 2>/dev/null

# ---- host test of the converter (ASan/UBSan) ----
MB2_TEST_BIN := $(BUILD)/host/test_mb2_convert
MB2_HOST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -Ikernel -Iboot/multiboot2 -I.

$(MB2_TEST_BIN): tests/test_mb2_convert.c boot/multiboot2/mb2_boot_info.c boot/multiboot2/mb2_boot_info.h kernel/boot_info.h
	@mkdir -p $(@D)
	$(CC) $(MB2_HOST_CFLAGS) -o $@ tests/test_mb2_convert.c boot/multiboot2/mb2_boot_info.c

.PHONY: test-host-mb2 test-host
test-host-mb2: $(MB2_TEST_BIN)
	$(MB2_TEST_BIN)

test-host:: test-host-mb2
