/* commbench.h: `downhill comm`: times the step's gradient reduction (the trainer's own
 * allreduce wrappers) against message size, for the exact (int64) and float kinds. */
#ifndef DOWNHILL_COMMBENCH_H
#define DOWNHILL_COMMBENCH_H

#include <stddef.h>
#include <stdio.h>
#include "core/common.h"

/* Values in the trainer's per-step reduction for the reference network 784-16-16-10:
 * 13,002 weights and biases plus 5 extras (batch cost, example count, ...). */
#define COMMBENCH_TRAINER_VALUES 13007

/* Most message sizes one run measures. */
#define COMMBENCH_MAX_SIZES 64

/* commbench_parse_sizes: a comma-separated list of byte counts (suffix k = 1024,
 * m = 1048576; "trainer" = the trainer's message, stored as 0) into bytes[max]; returns
 * how many, or -1 with e set. */
int commbench_parse_sizes(const char *list, size_t *bytes, int max, Err *e);

/* commbench_default_sizes: 8 B to 1 MiB by factors of 4, plus the trainer's message;
 * fills bytes[COMMBENCH_MAX_SIZES] and returns how many. */
int commbench_default_sizes(size_t *bytes);

/* commbench_run: collective; for every size and both kinds times `reps` reductions after
 * a warm-up, each started together (an agreement first), and keeps per repetition the
 * slowest rank's time. Rank 0 prints a table to out and, when csv is non-NULL, writes
 * ranks,bytes,kind,median_us,min_us,max_us to that file. Returns 0, or -1 with e set
 * (agreed across ranks). */
int commbench_run(const size_t *bytes, int nsizes, int reps, int rank, int ranks, FILE *out,
                  const char *csv, Err *e);

#endif
