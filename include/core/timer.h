/* timer.h: named phases of a training run and the wall-clock seconds spent in each. */
#ifndef DOWNHILL_TIMER_H
#define DOWNHILL_TIMER_H

/* Where a step's (and an epoch's) time goes. */
typedef enum {
    PHASE_DATA = 0,   /* shuffling, gathering and scaling the batch's inputs */
    PHASE_FORWARD,    /* forward pass and per-example costs */
    PHASE_BACKWARD,   /* deltas and weight gradients (incl. fixed-point rounding) */
    PHASE_COMBINE,    /* combining the threads' sums inside a rank */
    PHASE_ALLREDUCE,  /* the step's allreduce across ranks (incl. waiting) */
    PHASE_UPDATE,     /* theta <- theta - eta * gradient */
    PHASE_EVALUATION, /* test-set evaluation at the end of the epoch */
    PHASE_CHECKPOINT, /* checkpoint writes */
    PHASE_COUNT
} Phase;

/* Seconds accumulated per phase. */
typedef struct {
    double seconds[PHASE_COUNT];
} PhaseTimes;

/* phase_name: the phase's name as used in /timing and in the summary. */
const char *phase_name(Phase p);

/* timer_now: wall-clock seconds (monotonic, omp_get_wtime). */
double timer_now(void);

/* timer_add: adds the time since *since to phase p and moves *since to now. */
void timer_add(PhaseTimes *t, Phase p, double *since);

#endif
