/*
 * kheap_list.h - the Phase 1 kernel heap: a linked-list allocator with coalescing.
 *
 * Memory comes from arenas of contiguous frames (FRAME_HEAP, reached through the direct map). An arena is a
 * sequence of blocks between two fixed "used" sentinels:
 *
 *   [prologue 16 B][block][block]...[block][epilogue 16 B]
 *   block = [header 16 B: size | USED, check][payload ...][footer 16 B: size | USED, check]
 *
 * size counts the whole block (multiple of 16); payloads are 16-byte aligned. The footer lets kfree find
 * the previous block, so a freed block merges with free neighbours on both sides at once (boundary tags);
 * free blocks sit on one doubly linked list (pointers in the payload) searched first-fit. An arena that
 * becomes one free block is returned to the pmm (the first arena is kept).
 *
 * The check word (size ^ magic ^ the block's own address) catches wild and double frees before anything is
 * written. The slab heap (kheap.h) replaces this one by default; `kheap=list` selects it at boot.
 */
#ifndef FERROUS_MM_KHEAP_LIST_H
#define FERROUS_MM_KHEAP_LIST_H

#include "mm/types.h"
#include "spinlock.h"

#define KHEAP_LIST_ARENA_FRAMES 16   /* minimum arena: 64 KiB */

struct kheap_list_block;
struct kheap_list_arena;

struct kheap_list {
	struct spinlock lock;
	struct kheap_list_block *free;     /* first free block (doubly linked, unordered) */
	struct kheap_list_arena *arenas;   /* singly linked */
	uint64_t frames;                   /* frames held by all arenas */
	uint64_t live;                     /* allocated blocks */
};

/* Initialises an empty list heap (no frames held). */
void kheap_list_init(struct kheap_list *h);

/* size bytes aligned to align (power of two <= 4096; smaller means 16); NULL on exhaustion, size 0 or bad align. */
void *kheap_list_alloc(struct kheap_list *h, size_t size, size_t align);

/* Frees p (NULL ignored), merging with free neighbours; panics on a pointer that is not a live block. */
void kheap_list_free(struct kheap_list *h, void *p);

/* Payload bytes of the live block holding p. */
size_t kheap_list_usable_size(void *p);

/* Returns every arena to the pmm; panics if any block is still live. */
void kheap_list_release_all(struct kheap_list *h);

/* Checks every arena: blocks tile it exactly, tags agree, no two free blocks are adjacent, the free list holds
 * exactly the free blocks. Panics naming the first violation. Tests only. */
void kheap_list_check(struct kheap_list *h);

#endif
