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

/* sums_reduce: the master thread's part, after every slice is combined: the float totals,
 * this rank's requests, and the one collective of the step (all ranks). A diverged step
 * (non-finite cost or gradient) has count <= 0 and STEP_DIVERGED on every rank alike; its
 * sums are left for update_apply to clear. */
StepResult sums_reduce(Trainer *t, int requests);

#endif
