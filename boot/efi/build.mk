# boot/efi/build.mk - the UEFI loader (GNU-EFI) and the ESP image.
#
# Provides: EFI_LOADER (BOOTX64.EFI), EFI_LOADER_SO (same code as an ELF with symbols, for
# gdb's `add-symbol-file loader.so -o ImageBase`), ESP_IMG (4 MiB FAT12 ESP holding the loader,
# the kernel, cmdline.txt = $(CMDLINE) [seed=$(SEED)] and, when ESP_INITRD names a file, the initrd).

EFI_INC     := /usr/include/efi
EFI_LIBDIR  := /usr/lib
EFI_DIR     := $(BUILD)/boot/efi
EFI_LOADER    := $(EFI_DIR)/BOOTX64.EFI
EFI_LOADER_SO := $(EFI_DIR)/loader.so
ESP_IMG     := $(BUILD)/esp.img
ESP_INITRD  ?=

EFI_SRCS := boot/efi/main.c boot/efi/console.c boot/efi/format.c boot/efi/files.c boot/efi/config.c \
            boot/efi/elf_load.c boot/efi/memmap.c boot/efi/boot_tables.c boot/efi/enter.S
EFI_OBJS := $(patsubst boot/efi/%,$(EFI_DIR)/%.o,$(basename $(EFI_SRCS)))

# Flags from PLATFORM-NOTES: PIC, no red zone, MS ABI for firmware calls, 2-byte wchar_t for L"".
EFI_CFLAGS := -std=c11 -ffreestanding -fno-builtin -fpic -fno-stack-protector -fshort-wchar -mno-red-zone \
	-maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI -O2 -g -Wall -Wextra -Werror \
	-isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 -isystem $(EFI_INC)/protocol -I. -MMD -MP
EFI_LDFLAGS := -shared -Bsymbolic -nostdlib -znocombreloc -T $(EFI_LIBDIR)/elf_x86_64_efi.lds

$(EFI_DIR)/%.o: boot/efi/%.c
	@mkdir -p $(@D)
	$(CC) $(EFI_CFLAGS) -c $< -o $@

$(EFI_DIR)/%.o: boot/efi/%.S
	@mkdir -p $(@D)
	$(CC) $(EFI_CFLAGS) -c $< -o $@

$(EFI_LOADER_SO): $(EFI_OBJS)
	$(LD) $(EFI_LDFLAGS) $(EFI_LIBDIR)/crt0-efi-x86_64.o $(EFI_OBJS) -o $@ \
		-L$(EFI_LIBDIR) -lgnuefi -lefi

$(EFI_LOADER): $(EFI_LOADER_SO)
	$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* -j .rela.* \
		-j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

# The command line as a file whose timestamp changes only when $(CMDLINE) does, so that
# `make qemu CMDLINE=...` rebuilds the ESP exactly when needed.
# SEED=N appends seed=N.
ESP_CMDLINE := $(strip $(CMDLINE) $(if $(strip $(SEED)),seed=$(strip $(SEED))))
ESP_CMDLINE_FILE := $(BUILD)/esp-cmdline.txt
.PHONY: esp-cmdline-force
$(ESP_CMDLINE_FILE): esp-cmdline-force
	@mkdir -p $(@D)
	@printf '%s' '$(subst ','\'',$(ESP_CMDLINE))' | cmp -s - $@ 2>/dev/null || \
		printf '%s' '$(subst ','\'',$(ESP_CMDLINE))' > $@

$(ESP_IMG): $(EFI_LOADER) $(KERNEL_ELF) $(ESP_CMDLINE_FILE) tools/mkesp.sh $(ESP_INITRD)
	tools/mkesp.sh $@ $(EFI_LOADER) $(KERNEL_ELF) "$$(cat $(ESP_CMDLINE_FILE))" $(ESP_INITRD)

-include $(EFI_OBJS:.o=.d)
ALL_TARGETS += $(EFI_LOADER) $(ESP_IMG)

# ---- the loader's own test: a test kernel that checks the hand-off, and a driver script ----
EFI_BOOTCHECK := $(EFI_DIR)/bootcheck.elf

$(EFI_DIR)/test/bootcheck.o: boot/efi/test/bootcheck.c
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(EFI_DIR)/test/bootcheck_entry.o: boot/efi/test/bootcheck_entry.S
	@mkdir -p $(@D)
	$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

$(EFI_BOOTCHECK): $(EFI_DIR)/test/bootcheck_entry.o $(EFI_DIR)/test/bootcheck.o kernel/kernel.ld
	$(LD) $(KERNEL_LDFLAGS) -T kernel/kernel.ld -o $@ $(filter %.o,$^)

-include $(EFI_DIR)/test/bootcheck.d $(EFI_DIR)/test/bootcheck_entry.d

# Host test of the memory-map sort (the boot tests never see an unsorted map), with ASan/UBSan.
EFI_SORT_TEST := $(EFI_DIR)/test/memmap_sort_test
$(EFI_SORT_TEST): boot/efi/test/memmap_sort_test.c boot/efi/memmap.c boot/efi/loader.h boot/efi/cpu.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
		-DGNU_EFI_USE_MS_ABI -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 -isystem $(EFI_INC)/protocol \
		-I. -o $@ boot/efi/test/memmap_sort_test.c boot/efi/memmap.c

# `make efi-check`: the host sort test, then boots the loader under QEMU + OVMF with good and
# broken ESPs (boot/efi/test/run.sh; about 1.5 minutes; CASES="a b" runs only those cases).
# The stale-* cases exercise the GetMemoryMap + ExitBootServices retry loop through the loader-only
# test knob \ferrous\loader.cfg `stale_map_key=N` on the ESP (tools/mkesp.sh 6th argument; the
# mechanism and why it is spec-clean are at the top of boot/efi/memmap.c): N = 1 must boot with one
# `@@ loader_retry`, N above the loader's bound must end in `@@ loader_error` and QEMU exit 39.
.PHONY: efi-check
efi-check: $(EFI_SORT_TEST) $(EFI_LOADER) $(EFI_BOOTCHECK) $(KERNEL_ELF)
	$(EFI_SORT_TEST)
	boot/efi/test/run.sh $(EFI_LOADER) $(EFI_BOOTCHECK) $(KERNEL_ELF)
