/* schedule.c: learning-rate schedules; warmup ramps linearly up to the scheduled rate. */
#include "train/schedule.h"

#include <math.h>

/* after_warmup: the schedule's rate at `step`, ignoring warmup. */
static double after_warmup(const Config *c, int64_t step, int64_t spe, int64_t warm)
{
    switch (c->schedule) {
    case SCHEDULE_STEP:
        return c->learning_rate * pow(c->step_factor, (double)(step / spe / c->step_every));
    case SCHEDULE_COSINE: {
        int64_t total = c->epochs * spe - warm;
        double p = total > 0 ? (double)(step - warm) / (double)total : 1.0;
        p = p < 0 ? 0 : p > 1 ? 1 : p;
        /* one fused multiply-add, written out: the library is built without contraction */
        return fma((c->learning_rate - c->min_lr) * 0.5, 1.0 + cos(3.14159265358979323846 * p),
                   c->min_lr);
    }
    case SCHEDULE_CONSTANT:
    default:
        return c->learning_rate;
    }
}

double schedule_lr(const Config *c, int64_t step, int64_t steps_per_epoch)
{
    int64_t warm = (int64_t)llround(c->warmup_epochs * (double)steps_per_epoch);
    double lr = after_warmup(c, step, steps_per_epoch, warm);
    if (step < warm)
        lr *= (double)(step + 1) / (double)warm;
    return lr;
}
