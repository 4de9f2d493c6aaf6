/* barrier.h: a spinning barrier for the threads of one OpenMP parallel region: one atomic
 * counter on its own cache line (cheaper than `omp barrier`: docs/PERFORMANCE.md); a long
 * wait yields the core (more threads than cores). */
#ifndef DOWNHILL_BARRIER_H
#define DOWNHILL_BARRIER_H

#include <stdatomic.h>
#include "core/common.h"

/* The counter of arrivals, alone in its cache line. */
typedef struct {
    atomic_long arrived;
} Barrier;

/* barrier_new: a barrier on its own cache line (free with free()); NULL out of memory. */
Barrier *barrier_new(Err *e);

/* barrier_reset: before a parallel region whose threads will wait on b. */
void barrier_reset(Barrier *b);

/* barrier_wait: returns once all `threads` threads of the region have called it as often
 * as this one; what each wrote before it is visible to every thread after it. */
void barrier_wait(Barrier *b, int threads);

/* barrier_arrive / barrier_wait_for: barrier_wait in two halves, so a thread can do work
 * that needs nothing from the others in between (a split-phase barrier): the ticket of
 * barrier_arrive, passed to barrier_wait_for, returns once every thread has arrived. What
 * a thread writes between the halves is not covered by this round. */
long barrier_arrive(Barrier *b, int threads);
void barrier_wait_for(Barrier *b, long ticket);

#endif
