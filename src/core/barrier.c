/* barrier.c: a counting barrier: arrival k of the region (from 0) belongs to round
 * k / threads, which ends when the counter reaches the next multiple of threads. */
#define _DEFAULT_SOURCE /* sched_yield */
#include "core/barrier.h"

#include <sched.h>

/* Pauses before a waiting thread starts yielding its core (about 0.2 ms). */
#define SPIN_PAUSES 4096

Barrier *barrier_new(Err *e)
{
    Barrier *b = alloc_array(1, sizeof *b, "thread barrier", e); /* a whole cache line */
    if (b)
        barrier_reset(b);
    return b;
}

void barrier_reset(Barrier *b)
{
    atomic_store(&b->arrived, 0);
}

static inline void pause_once(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

long barrier_arrive(Barrier *b, int threads)
{
    long k = atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel);
    return (k / threads + 1) * threads;
}

void barrier_wait_for(Barrier *b, long ticket)
{
    for (unsigned spins = 0; atomic_load_explicit(&b->arrived, memory_order_acquire) < ticket;
         spins++) {
        if (spins < SPIN_PAUSES)
            pause_once();
        else
            sched_yield();
    }
}

void barrier_wait(Barrier *b, int threads)
{
    barrier_wait_for(b, barrier_arrive(b, threads));
}
