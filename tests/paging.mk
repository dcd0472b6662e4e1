# tests/paging.mk - host tests and benchmarks of the page-table walker.
# The walker's kernel sources compiled for the host over a fake physical memory
# (kernel/mm/physmem.c window over a malloc'd array), tests/paging_host/'s frame source and the shared host
# panic_at (tests/host/host_panic.c).

PAGING_HOST_CC     ?= gcc
# tests/host first: its printk.h/panic.h shims (snprintk = snprintf) stand in for the kernel's.
PAGING_HOST_CFLAGS := -std=c11 -g -Wall -Wextra -Werror -Itests/host -Ikernel -Itests -I.
PAGING_SAN_FLAGS   := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PAGING_HOST_SRCS   := kernel/mm/paging.c kernel/mm/physmem.c kernel/mm/types.c \
                      tests/paging_host/frame_source.c tests/host/host_panic.c
PAGING_HOST_HDRS   := kernel/mm/paging.h kernel/mm/pte.h kernel/mm/types.h kernel/mm/physmem.h \
                      kernel/mm/frame.h tests/paging_host/frame_source.h
PAGING_OPS         ?= 1000000
PAGING_SEED        ?= $(if $(SEED),$(SEED),1)

$(BUILD)/host/test_paging: tests/test_paging.c $(PAGING_HOST_SRCS) $(PAGING_HOST_HDRS)
	@mkdir -p $(@D)
	$(PAGING_HOST_CC) $(PAGING_HOST_CFLAGS) $(PAGING_SAN_FLAGS) tests/test_paging.c $(PAGING_HOST_SRCS) -o $@

$(BUILD)/host/bench_paging: tests/bench_paging.c $(PAGING_HOST_SRCS) $(PAGING_HOST_HDRS)
	@mkdir -p $(@D)
	$(PAGING_HOST_CC) $(PAGING_HOST_CFLAGS) -O2 -DNDEBUG tests/bench_paging.c $(PAGING_HOST_SRCS) -o $@

# The same tests on the real pmm (buddy): the pmm helper's host shims (tests/host) and sources.
PAGING_PMM_SRCS := kernel/mm/paging.c kernel/mm/types.c kernel/mm/physmem.c kernel/mm/memmap.c \
                   kernel/mm/bitmap.c kernel/mm/buddy.c kernel/mm/pmm.c tests/host/host_panic.c \
                   tests/paging_host/pmm_source.c
$(BUILD)/host/test_paging_pmm: tests/test_paging.c $(PAGING_PMM_SRCS) $(PAGING_HOST_HDRS) kernel/mm/pmm.h
	@mkdir -p $(@D)
	$(PAGING_HOST_CC) -std=c11 -g -Wall -Wextra -Werror -Itests/host -Ikernel -Itests -I. -DMM_DEBUG_FILL=1 \
		$(PAGING_SAN_FLAGS) tests/test_paging.c $(PAGING_PMM_SRCS) -o $@

.PHONY: test-host bench test-paging-host
test-paging-host: $(BUILD)/host/test_paging $(BUILD)/host/test_paging_pmm
	$(BUILD)/host/test_paging --seed $(PAGING_SEED) --ops $(PAGING_OPS)
	$(BUILD)/host/test_paging_pmm --seed $(PAGING_SEED) --ops $(PAGING_OPS)

test-host:: test-paging-host

bench:: $(BUILD)/host/bench_paging
	$(BUILD)/host/bench_paging
