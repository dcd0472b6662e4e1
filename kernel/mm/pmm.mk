# kernel/mm/pmm.mk - physical memory: typed addresses, frame states, bitmap and buddy allocators, kernel heap.
KERNEL_SRCS += kernel/mm/types.c kernel/mm/physmem.c kernel/mm/memmap.c kernel/mm/bitmap.c \
	kernel/mm/buddy.c kernel/mm/pmm.c kernel/mm/pmm_map.c kernel/mm/pmm_boot.c kernel/mm/kheap.c \
	kernel/mm/kheap_list.c kernel/mm/pmm_ktest.c kernel/mm/kheap_ktest.c
