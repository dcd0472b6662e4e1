/* frame_source.h - the paging host tests' frame source (frame_source.c). */
#ifndef FERROUS_TESTS_PAGING_FRAME_SOURCE_H
#define FERROUS_TESTS_PAGING_FRAME_SOURCE_H
#include <stddef.h>
#include <stdint.h>
/* Sets up `count` free frames from physical phys_base (inside the physmem window). */
void frame_source_init(uint64_t phys_base, size_t count);
/* Number of free frames now. */
size_t frame_source_free(void);
#endif
