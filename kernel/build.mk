# kernel/build.mk - the kernel proper.
KERNEL_ELF := $(BUILD)/kernel.elf

KERNEL_SRCS += kernel/entry.S kernel/main.c

$(KERNEL_ELF): kernel/kernel.ld
	@mkdir -p $(@D)
	$(LD) $(KERNEL_LDFLAGS) -T kernel/kernel.ld -o $@ $(KERNEL_OBJS)

$(KERNEL_ELF): $$(KERNEL_OBJS)
ALL_TARGETS += $(KERNEL_ELF)
