/* wide_layer.h: a step's work on the weights of the wide layers (exact_wide.h: layers l >= 2
 * with at least EXACT_WIDE_MIN inputs), exact sums only. During the chunks each example's
 * rounded activations and deltas go into the layer's step table (t->wide) at its lane; after
 * them each thread forms the integer gradient of its rows of every wide layer over every lane
 * of the rank at once (share_wide_rows), into t->sum, or, where one kernel call takes every
 * lane and the update is plain descent, spent on the weights as update_apply would. So these
 * sums need no combining across threads, and their bits depend on neither the groups nor the
 * threads nor the ranks. */
#ifndef DOWNHILL_WIDE_LAYER_H
#define DOWNHILL_WIDE_LAYER_H

#include <stdint.h>
#include "train/train.h"

/* wide_init: the step tables of t's wide layers and each thread's kernel scratch (after the
 * threads' states and t->slots exist); -1 out of memory. Freed by wide_free. */
int wide_init(Trainer *t, Err *e);
void wide_free(Trainer *t);

/* wide_store: the rounded activations and deltas of the chunk's n examples (after
 * model_deltas, in s->ws) into every wide layer's table at their lanes (s->slot); returns
 * the bad values (exact_wide_round). */
size_t wide_store(Trainer *t, ThreadState *s, int n);

/* wide_clear_lane: a short lane (no example this step): its deltas in every table 0. */
void wide_clear_lane(const Trainer *t, int64_t slot);

/* wide_gradient: thread tid's rows of every wide layer's weight gradient over every lane of
 * the rank (after every thread's chunks), added to t->sum; fuse_step > 0 (update_wide_step)
 * lets the kernel spend the sums on the weights at once, recorded in s->wide_spent. */
void wide_gradient(Trainer *t, ThreadState *s, int tid, int threads, double fuse_step);

#endif
