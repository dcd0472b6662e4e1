/* printk.h (host shim) - printk/snprintk map to stdio for host builds of kernel/mm. */
#ifndef FERROUS_HOST_PRINTK_H
#define FERROUS_HOST_PRINTK_H

#include <stdio.h>

#define printk(...) printf(__VA_ARGS__)
#define snprintk(...) snprintf(__VA_ARGS__)

#endif
