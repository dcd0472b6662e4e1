/*
 * spinlock.h (host shim) - host tests are single-threaded; the lock records
 * whether it is held so double acquisition and unlock-without-lock still
 * panic, as they would deadlock or corrupt in the kernel.
 */
#ifndef FERROUS_HOST_SPINLOCK_H
#define FERROUS_HOST_SPINLOCK_H

#include "panic.h"

struct spinlock {
	const char *name;
	int held;
};

#define SPINLOCK_INIT(lockname) { .name = #lockname, .held = 0 }

static inline void spin_lock(struct spinlock *l)
{
	if (l->held)
		panic("spin_lock: %s already held (recursive acquire)", l->name);
	l->held = 1;
}

static inline void spin_unlock(struct spinlock *l)
{
	if (!l->held)
		panic("spin_unlock: %s not held", l->name);
	l->held = 0;
}

#define spin_assert_held(l) ((l)->held ? (void)0 : panic("spin_assert_held: %s not held", (l)->name))

#endif
