/* lanes.h: the rows of the rank's lanes at each position of the shuffled epoch (the lanes:
 * see train.h). Each held lane's positions are shuffled from (seed, epoch, lane), the same
 * on whichever rank holds it, and each position's pixel row is kept in t->epoch_rows. */
#ifndef DOWNHILL_LANES_H
#define DOWNHILL_LANES_H

#include <stdint.h>
#include "train/train.h"

/* lanes_shuffle: the rank's lanes shuffled for `epoch` into t->order and their pixel rows
 * into t->epoch_rows. Called by every thread of the steps' parallel region (an `omp for`
 * shares the lanes; its implied barrier ends it). */
void lanes_shuffle(Trainer *t, int64_t epoch);

/* lanes_step_rows: the pixel rows of the step at position pos of the epoch, (t->slots) by
 * lane (a short lane's: row 0, unused); points into t->epoch_rows. */
const uint8_t *const *lanes_step_rows(const Trainer *t, int64_t pos);

/* lanes_gather_group: appends the examples of group g at position pos to the chunk of s
 * (rows, labels and lanes from index n) and returns the new count; a short lane (the
 * epoch's last batch is smaller) adds none and its deltas in t->D are zeroed. */
int lanes_gather_group(const Trainer *t, ThreadState *s, int64_t g, int64_t pos, int n);

#endif
