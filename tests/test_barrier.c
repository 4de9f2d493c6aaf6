/* test_barrier: the step's spinning barrier (barrier.c) with 1 to 5 threads, also more
 * threads than cores: after each wait every thread must see what every other wrote
 * before it, round after round, and no thread may pass a round before all arrive. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "barrier.h"

#define ROUNDS 5000

/* rounds: each thread writes its round number, waits, checks the others'; returns the
 * number of wrong reads seen by all threads. */
static long rounds(Barrier *b, int threads)
{
    volatile long seen[8] = {0};
    long wrong = 0;
    barrier_reset(b);
#pragma omp parallel num_threads(threads) reduction(+ : wrong)
    {
        int tid = omp_get_thread_num(), n = omp_get_num_threads();
        for (long r = 1; r <= ROUNDS; r++) {
            seen[tid] = r;
            barrier_wait(b, n);
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
    int fails = 0;
    for (int threads = 1; threads <= 5; threads++) {
        long wrong = rounds(b, threads);
        printf("%d threads: %ld wrong reads in %d rounds\n", threads, wrong, ROUNDS);
        fails += wrong != 0;
    }
    free(b);
    printf("test_barrier: %s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
