# tests/pmm.mk - host tests, fuzzing and benchmarks of the physical memory code (kernel/mm).
#
#   make test-host            unit tests + model test (MODEL_OPS = 600 k ops per allocator, 1.2 M in all) + a short
#                             memmap fuzz run, under ASan+UBSan
#   make test-host MODEL_OPS=5000000 MODEL_SEED=7    a longer / different model run
#   make bench                host benchmarks (rdtsc cycles and ns per operation, medians)
#   make fuzz-memmap FUZZ_RUNS=-1                    libFuzzer on the memory-map parser, unbounded
HOST_CC      ?= gcc
FUZZ_CC      ?= clang
HOST_CFLAGS  := -std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all -Itests/host -Ikernel -I. -DMM_DEBUG_FILL=1
BENCH_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Itests/host -Ikernel -I. -DMM_DEBUG_FILL=0
MODEL_OPS    ?= 600000
MODEL_SEED   ?= 1
FUZZ_RUNS    ?= 200000

PMM_HOST_SRCS := kernel/mm/types.c kernel/mm/physmem.c kernel/mm/memmap.c kernel/mm/bitmap.c kernel/mm/buddy.c \
	kernel/mm/pmm.c kernel/mm/pmm_map.c kernel/mm/kheap.c kernel/mm/kheap_list.c tests/host/host_panic.c
PMM_HOST_HDRS := $(wildcard kernel/mm/*.h tests/host/*.h) kernel/boot_info.h
PMM_HOST_TESTS := test_pmm test_memmap test_pmm_model test_kheap

$(BUILD)/tests/%: tests/%.c $(PMM_HOST_SRCS) $(PMM_HOST_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $< $(PMM_HOST_SRCS) -o $@

$(BUILD)/tests/bench_pmm: tests/bench_pmm.c $(PMM_HOST_SRCS) $(PMM_HOST_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) $< $(PMM_HOST_SRCS) -o $@

$(BUILD)/tests/fuzz_memmap: tests/fuzz/fuzz_memmap.c kernel/mm/memmap.c kernel/mm/types.c $(PMM_HOST_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Itests/host -Ikernel -I. \
		tests/fuzz/fuzz_memmap.c kernel/mm/memmap.c kernel/mm/types.c -o $@

# The libFuzzer run needs clang; without it test-host says so and skips only that part.
HAVE_FUZZ_CC := $(shell command -v $(FUZZ_CC) 2>/dev/null)
PMM_FUZZ_DEP := $(if $(HAVE_FUZZ_CC),$(BUILD)/tests/fuzz_memmap)

.PHONY: test-host bench fuzz-memmap test-host-pmm
test-host:: test-host-pmm
test-host-pmm: $(addprefix $(BUILD)/tests/,$(PMM_HOST_TESTS)) $(PMM_FUZZ_DEP)
	$(BUILD)/tests/test_pmm
	$(BUILD)/tests/test_memmap
	$(BUILD)/tests/test_kheap
	$(BUILD)/tests/test_pmm_model $(MODEL_OPS) $(MODEL_SEED)
ifneq ($(HAVE_FUZZ_CC),)
	set -o pipefail; $(BUILD)/tests/fuzz_memmap -runs=$(FUZZ_RUNS) -seed=1 2>&1 | tail -1
else
	@echo "test-host: $(FUZZ_CC) not found: memmap fuzz run skipped (install clang)"
endif

bench:: $(BUILD)/tests/bench_pmm
	$(BUILD)/tests/bench_pmm

fuzz-memmap: $(BUILD)/tests/fuzz_memmap
	@mkdir -p $(BUILD)/tests/fuzz_memmap_corpus
	$(BUILD)/tests/fuzz_memmap -runs=$(FUZZ_RUNS) $(BUILD)/tests/fuzz_memmap_corpus
