/* bench.h: `downhill bench`: the machine's FMA peak, the training step's throughput at
 * several batch sizes, threads and reductions, and the cost of combining gradients. */
#ifndef DOWNHILL_BENCH_H
#define DOWNHILL_BENCH_H

#include <stdio.h>
#include "core/common.h"
#include "run/config.h"

/* Repetitions timed per measurement (after a warm-up); the median and spread are printed. */
#define BENCH_REPS 7

/* bench_run: runs every measurement on all ranks (collective) and prints one table row
 * per configuration on rank 0; c gives the data, model and exact group, limit the training
 * examples loaded (0 = all), max_threads the largest threads per rank tried. */
int bench_run(const Config *c, int64_t limit, int max_threads, int rank, int ranks, FILE *out,
              Err *e);

#endif
