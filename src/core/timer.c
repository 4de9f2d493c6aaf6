/* timer.c: phase names and wall-clock accounting (a few nanoseconds per call). */
#include "core/timer.h"

#include <omp.h>

static const char *const names[PHASE_COUNT] = {"data",      "forward", "backward",
                                               "combine",   "allreduce", "update",
                                               "evaluation", "checkpoint"};

const char *phase_name(Phase p)
{
    return p < PHASE_COUNT ? names[p] : "unknown";
}

double timer_now(void)
{
    return omp_get_wtime();
}

void timer_add(PhaseTimes *t, Phase p, double *since)
{
    double now = omp_get_wtime();
    t->seconds[p] += now - *since;
    *since = now;
}
