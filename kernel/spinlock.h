/*
 * spinlock.h - test-and-set spinlocks that disable interrupts while held.
 *
 * spin_lock() saves RFLAGS and disables interrupts before it spins, so a lock
 * taken by code that an interrupt handler might also take cannot deadlock on
 * the same CPU; spin_unlock() restores the interrupt flag saved at lock time.
 * Locks do not nest in a way that would restore IF out of order: release in
 * the reverse order of acquisition.
 */
#ifndef FERROUS_SPINLOCK_H
#define FERROUS_SPINLOCK_H

#include <stdint.h>
#include "panic.h"
#include "x86.h"

struct spinlock {
	uint32_t locked;        /* 0 free, 1 held; only changed by atomic exchange/store */
	uint32_t reserved;
	uint64_t saved_rflags;  /* RFLAGS of the holder before spin_lock(); valid while held */
	const char *name;       /* for messages */
};

#define SPINLOCK_INIT(lockname) { .locked = 0, .reserved = 0, .saved_rflags = 0, .name = #lockname }

/* Acquires l, spinning; disables interrupts first and remembers whether they were on. */
static inline void spin_lock(struct spinlock *l)
{
	uint64_t flags = irq_save();
	while (__atomic_exchange_n(&l->locked, 1u, __ATOMIC_ACQUIRE) != 0) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0)
			cpu_pause();
	}
	l->saved_rflags = flags;
}

/* Releases l (which must be held) and restores the interrupt flag saved by spin_lock(). */
static inline void spin_unlock(struct spinlock *l)
{
	if (__atomic_load_n(&l->locked, __ATOMIC_RELAXED) == 0)
		panic("spin_unlock: lock %s is not held", l->name);
	uint64_t flags = l->saved_rflags;
	__atomic_store_n(&l->locked, 0u, __ATOMIC_RELEASE);
	irq_restore(flags);
}

/* Returns nonzero iff l is held (by anyone: there is one CPU until SMP lands). */
static inline int spin_is_held(const struct spinlock *l)
{
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}

/* Panics unless l is held. */
#define spin_assert_held(l) \
	do { \
		if (!spin_is_held(l)) \
			panic("spin_assert_held: lock %s is not held", (l)->name); \
	} while (0)

#endif
