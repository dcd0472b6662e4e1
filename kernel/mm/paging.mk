# kernel/mm/paging.mk - the page-table walker, the kernel address space, the fault report, their ktests.
KERNEL_SRCS += kernel/mm/paging.c kernel/mm/kas.c kernel/mm/pagefault.c
KERNEL_SRCS += kernel/mm/paging_ktest.c kernel/mm/kas_ktest.c
