/* sums.h: a step's sums: the threads' partial sums combined into the rank's (t->sum exact,
 * t->fsum float) in thread order, the one collective that adds the ranks' and carries their
 * requests, and what it decided (StepResult). */
#ifndef DOWNHILL_SUMS_H
#define DOWNHILL_SUMS_H

#include <stddef.h>
#include <stdint.h>
#include "train/train.h"

/* What the step's sums decided, for every thread of the step. */
typedef struct {
    int64_t count; /* examples in the global batch; <= 0: no update (diverged) */
    double cost;   /* the batch's summed cost */
    int agreed;    /* requests of any rank, and STEP_DIVERGED */
} StepResult;

/* sums_combine_slice: thread tid's slice (share_rest) of the step sums [lo, hi), summed over
 * the threads' partial sums in thread order (float: clearing them; exact: each thread
 * clears its own when it starts the next step, so no thread writes another's cache lines;
 * exact sums skip the wide layers' weights, which wide_gradient forms in t->sum).
 * Called by every thread after a barrier that ends the chunks; each writes only its slice. */
void sums_combine_slice(Trainer *t, size_t lo, size_t hi, int tid, int threads);

/* sums_local: one rank, exact sums: the step's result with this rank's requests, read from
 * the threads' sums of the examples by every thread alike, no collective. */
StepResult sums_local(const Trainer *t, int requests);

/* sums_reduce: sums_begin then sums_finish: the master thread's part, after every slice is combined: the float totals,
 * this rank's requests, and the one collective of the step (all ranks). A diverged step
 * (non-finite cost or gradient) has count <= 0 and STEP_DIVERGED on every rank alike; its
 * sums are left for update_apply to clear. */
StepResult sums_reduce(Trainer *t, int requests);

/* The step's sums travel in buckets (t->bucket, a job each: comm_sum_start), listed in the
 * order the backward pass completes them: when sums_overlap says so, the values
 * after W1 with the extras, then W1 (exact: its two column blocks); otherwise one bucket of
 * everything. The master thread starts each as soon as it is complete on this rank (always
 * in the list's order, so alike on every rank) and calls comm_progress between pieces of
 * its work; integer sums do not depend on how they are cut, so the buckets never change a
 * bit of the exact path. */

/* The fewest parameters for which train.overlap = auto cuts the sums in buckets: below it
 * the pieces and the jobs cost more than they can hide (measured: docs/SCALING.md). */
enum { SUMS_OVERLAP_MIN = 32768 };

/* sums_overlap: whether t's step sums go in several buckets (train.overlap: true with
 * several ranks; auto also needs the sums to travel by messages and SUMS_OVERLAP_MIN
 * parameters); the same on every rank. */
int sums_overlap(const Trainer *t);

/* sums_plan: the buckets of t's step sums (by sums_begin at the first step). */
void sums_plan(Trainer *t);

/* sums_begin: the master thread's start of the collective part, after the values after W1
 * (and the extras) are combined: the float totals and this rank's requests in the extras. */
void sums_begin(Trainer *t, int requests);

/* sums_start: the master thread starts, in order, the buckets not started yet that lie in
 * [lo, hi) of the step sums (complete on this rank), up to the first that does not. */
void sums_start(Trainer *t, size_t lo, size_t hi);

/* sums_finish: the master thread: every bucket left started, all waited for; the step's
 * result, as sums_reduce's. */
StepResult sums_finish(Trainer *t);

#endif
