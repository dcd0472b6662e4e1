# mk/run.mk - running the kernel under QEMU and attaching GDB.
#
#   make qemu        BOOT=uefi (default): OVMF + the ESP image; BOOT=grub: the GRUB ISO (SeaBIOS)
#   make qemu-nox    the same (the kernel only talks on the serial port, so there is no window)
#   make qemu-gdb    the same, halted at the first instruction, with a gdbstub on a free port
#                    (printed, and written to .gdb-port while QEMU runs); then `make gdb` in
#                    another terminal
#   make gdb         gdb with the project .gdbinit: kernel symbols, connects to .gdb-port
#
# The serial port and the QEMU monitor share this terminal: Ctrl-a x quits, Ctrl-a c switches
# to the monitor and back. Variables: MEM SMP ACCEL CMDLINE SEED (top Makefile; SEED=N appends
# seed=N to the command line), UEFI_FW=pflash|bios
# (bios: the 2 MiB /usr/share/ovmf/OVMF.fd, no variable store, ~1 s faster per boot),
# QEMU_EXTRA='...' (more QEMU arguments), GDB_PORT=N (instead of a free one).
#
# Exit status: `make qemu` succeeds only when the kernel ends with `@@ end status=ok` (QEMU exit 33).
# Otherwise it prints what happened and fails with recipe status (make's "Error N"): 1 = status=fail,
# 2 = status=panic (panic or CPU exception), 3 = UEFI loader error (QEMU exit 39), 4 = QEMU ended
# any other way (you quit, a triple fault or reset with -no-reboot, a QEMU error).

QEMU        ?= qemu-system-x86_64
GDB         ?= gdb
OVMF_CODE   ?= /usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS   ?= /usr/share/OVMF/OVMF_VARS_4M.fd
OVMF_BIOS   ?= /usr/share/ovmf/OVMF.fd
UEFI_FW     ?= pflash
QEMU_EXTRA  ?=
GDB_PORT    ?=
GDB_PORT_FILE := .gdb-port
# A private, writable copy of the variable store, kept between runs: a store that has booted once
# saves ~1 s per boot (OVMF does not rebuild its boot options).
QEMU_VARS   := $(BUILD)/OVMF_VARS_4M.fd

RUN_BOOT := $(strip $(BOOT))

QEMU_ARGS := -nodefaults -no-reboot -display none -serial mon:stdio \
	-m $(strip $(MEM)) -smp $(strip $(SMP)) -accel $(strip $(ACCEL)) \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04

ifeq ($(RUN_BOOT),uefi)
QEMU_BOOT_DEPS := $(ESP_IMG)
ifeq ($(strip $(UEFI_FW)),bios)
QEMU_BOOT_ARGS := -bios $(OVMF_BIOS)
else
QEMU_BOOT_DEPS += $(QEMU_VARS)
QEMU_BOOT_ARGS := -drive if=pflash,format=raw,readonly=on,file=$(OVMF_CODE) \
	-drive if=pflash,format=raw,file=$(QEMU_VARS)
endif
QEMU_BOOT_ARGS += -drive if=ide,format=raw,file=$(ESP_IMG)
else ifeq ($(RUN_BOOT),grub)
# The command line reaches GRUB on a small floppy image (boot/multiboot2/grub.cfg), rebuilt
# exactly when $(CMDLINE)/$(SEED) change (the same file the ESP uses).
GRUB_CMDLINE_IMG := $(BUILD)/grub-cmdline.img
QEMU_BOOT_DEPS := $(GRUB_ISO) $(GRUB_CMDLINE_IMG)
QEMU_BOOT_ARGS := -drive if=ide,media=cdrom,format=raw,readonly=on,file=$(GRUB_ISO) -boot d \
	-drive if=floppy,format=raw,file=$(GRUB_CMDLINE_IMG)
else
QEMU_BOOT_ERROR := BOOT='$(RUN_BOOT)': use BOOT=uefi or BOOT=grub
endif
ifeq ($(RUN_BOOT),grub)
ifeq ($(strip $(GRUB_ISO)),)
QEMU_BOOT_ERROR := BOOT=grub needs GRUB_ISO, made by boot/multiboot2/build.mk
endif
endif

$(BUILD)/grub-cmdline.img: $(ESP_CMDLINE_FILE) $(MKGRUBCMD)
	$(MKGRUBCMD) $@ "$$(cat $(ESP_CMDLINE_FILE))"

$(QEMU_VARS): $(OVMF_VARS)
	@mkdir -p $(@D)
	cp $< $@

# Runs QEMU with the arguments in $(1) and turns its exit code into the make status above.
define run_qemu
	@echo "ferrous: $(QEMU) $(1)"
	@echo "ferrous: Ctrl-a x quits QEMU, Ctrl-a c toggles the monitor"
	@$(QEMU) $(1); rc=$$?; \
	case $$rc in \
	33) echo "ferrous: kernel ended with status=ok"; exit 0 ;; \
	35) echo "ferrous: kernel ended with status=fail (a test failed)"; exit 1 ;; \
	37) echo "ferrous: kernel ended with status=panic (panic or CPU exception)"; exit 2 ;; \
	39) echo "ferrous: the UEFI loader failed (see the @@ loader_error line)"; exit 3 ;; \
	*)  echo "ferrous: QEMU exited with code $$rc and no kernel exit code" \
	         "(you quit, a triple fault or reset with -no-reboot, or a QEMU error)"; exit 4 ;; \
	esac
endef

.PHONY: qemu qemu-nox qemu-gdb gdb
qemu qemu-nox: $(QEMU_BOOT_DEPS)
	$(if $(QEMU_BOOT_ERROR),$(error $(QEMU_BOOT_ERROR)))
	$(call run_qemu,$(QEMU_ARGS) $(QEMU_BOOT_ARGS) $(QEMU_EXTRA))

# The port: GDB_PORT if given, else one the kernel just handed out as free (bind to port 0).
qemu-gdb: $(QEMU_BOOT_DEPS)
	$(if $(QEMU_BOOT_ERROR),$(error $(QEMU_BOOT_ERROR)))
	@port='$(strip $(GDB_PORT))'; \
	if [ -z "$$port" ]; then \
		port=$$(for py in python3 /usr/bin/python3; do $$py -c 'import socket; s = socket.socket(); \
			s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && break; done); \
	fi; \
	[ -n "$$port" ] || { echo "ferrous: could not find a free TCP port (set GDB_PORT=N)"; exit 4; }; \
	echo "$$port" > $(GDB_PORT_FILE); \
	echo "ferrous: gdbstub on 127.0.0.1:$$port (written to $(GDB_PORT_FILE)); the CPU is halted."; \
	echo "ferrous: in another terminal: make gdb"; \
	trap 'rm -f $(GDB_PORT_FILE)' EXIT; \
	$(MAKE) --no-print-directory qemu-gdb-run QEMU_GDB_PORT=$$port

.PHONY: qemu-gdb-run
qemu-gdb-run:
	$(call run_qemu,$(QEMU_ARGS) $(QEMU_BOOT_ARGS) -S -gdb tcp:127.0.0.1:$(QEMU_GDB_PORT) $(QEMU_EXTRA))

gdb:
	@[ -f $(GDB_PORT_FILE) ] || { echo "ferrous: no $(GDB_PORT_FILE): start 'make qemu-gdb' first"; exit 1; }
	$(GDB) -q -iex 'add-auto-load-safe-path $(CURDIR)/.gdbinit'
