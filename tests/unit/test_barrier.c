/* test_barrier: the step's spinning barrier (barrier.c) with 1 to 5 threads, also more
 * threads than cores: after each wait every thread must see what every other wrote
 * before it, round after round, and no thread may pass a round before all arrive; also
 * with the wait split in two halves around work of each thread's own. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/barrier.h"

#define ROUNDS 5000

/* rounds: each thread writes its round number, waits, checks the others'; returns the
 * number of wrong reads seen by all threads. split: the first wait in two halves
 * (barrier_arrive, barrier_wait_for) with work of the thread's own in between. */
static long rounds(Barrier *b, int threads, int split)
{
    volatile long seen[8] = {0}, own[8 * 8] = {0}; /* own: a cache line per thread */
    long wrong = 0;
    barrier_reset(b);
#pragma omp parallel num_threads(threads) reduction(+ : wrong)
    {
        int tid = omp_get_thread_num(), n = omp_get_num_threads();
        for (long r = 1; r <= ROUNDS; r++) {
            seen[tid] = r;
            if (split) {
                long ticket = barrier_arrive(b, n);
                for (int k = 0; k < (int)(r % 64) * tid; k++) /* uneven work of its own */
                    own[8 * tid] += k;
                barrier_wait_for(b, ticket);
            } else {
                barrier_wait(b, n);
            }
            for (int k = 0; k < n; k++) /* every thread is in round r now, none beyond */
                wrong += seen[k] != r;
            barrier_wait(b, n); /* nobody writes round r + 1 before all have read */
        }
    }
    return wrong;
}

int main(void)
{
    Err e;
    Barrier *b = barrier_new(&e);
    if (!b) {
        fprintf(stderr, "test_barrier: %s\n", e.msg);
        return 1;
    }
    for (int threads = 1; threads <= 5; threads++)
        for (int split = 0; split < 2; split++) {
            long wrong = rounds(b, threads, split);
            CHECK(wrong == 0, "%d threads%s: %ld wrong reads in %d rounds", threads,
                  split ? " (split waits)" : "", wrong, ROUNDS);
        }
    free(b);
    return check_report("test_barrier");
}
