/* schedule.h: the learning rate at each update step (constant, step decay, cosine),
 * with optional linear warmup (Goyal et al. 2017). A pure function of the step. */
#ifndef DOWNHILL_SCHEDULE_H
#define DOWNHILL_SCHEDULE_H

#include <stdint.h>
#include "run/config.h"

/* schedule_lr: learning rate of update `step` (0-based) of a run of c->epochs epochs of
 * steps_per_epoch steps each. */
double schedule_lr(const Config *c, int64_t step, int64_t steps_per_epoch);

#endif
