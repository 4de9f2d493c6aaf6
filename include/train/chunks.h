/* chunks.h: the per-example part of a step: each thread runs its run of the rank's groups
 * (share_groups) in chunks of up to CHUNK_CAP examples (whole groups) through one batched
 * forward and backward pass, every example with the bits of a pass over it alone. */
#ifndef DOWNHILL_CHUNKS_H
#define DOWNHILL_CHUNKS_H

#include <stdint.h>
#include "train/train.h"

/* chunks_gradient: thread tid's groups at position pos, summed into its own sums: exact
 * (s->acc after W1, each group rounded to fixed point alone, from the first layer's block
 * sums in t->part; the rounded first-layer deltas into t->D by lane) or float (s->grad,
 * s->cost, s->count). Clears s->acc's part first. Called inside the parallel region. */
void chunks_gradient(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos);

#endif
