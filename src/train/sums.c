/* sums.c: a step's sums, combined over threads and reduced over ranks (see sums.h). */
#include "train/sums.h"

#include <math.h>
#include <string.h>

#include "comm/comm.h"
#include "train/shares.h"

void sums_combine_slice(Trainer *t, size_t lo, size_t hi, int tid, int threads)
{
    size_t i0, i1;
    share_rest(lo, hi, tid, threads, &i0, &i1);
    if (t->cfg->reduction == REDUCTION_EXACT) {
        const Layout *lay = &t->model.layout;
        for (size_t i = i0, end; i < i1; i = end) {
            int wide = 0;
            end = i < lay->n_params ? layout_run(lay, i, &wide) : i1;
            end = end < i1 ? end : i1;
            for (size_t q = i; !wide && q < end; q++) { /* wide: wide_gradient's, in t->sum */
                int64_t v = 0;
                for (int k = 0; k < t->threads; k++)
                    v += t->ts[k].acc[q];
                t->sum[q] = v;
            }
        }
    } else {
        for (size_t i = i0; i < i1; i++) {
            Real f = 0;
            for (int k = 0; k < t->threads; k++) {
                f += t->ts[k].grad[i];
                t->ts[k].grad[i] = 0;
            }
            t->fsum[i] = f;
        }
    }
}

StepResult sums_local(const Trainer *t, int requests)
{
    size_t np = t->model.layout.n_params;
    int64_t e[SUM_EXTRA] = {0};
    for (int k = 0; k < t->threads; k++)
        for (int q = 0; q < SUM_EXTRA; q++)
            e[q] += t->ts[k].acc[np + q];
    StepResult r = {.count = e[SUM_COUNT], .cost = exact_value(e[SUM_COST], &t->fixed),
                    .agreed = requests};
    if (e[SUM_BAD] || r.count <= 0) {
        r.count = -1;
        r.agreed |= STEP_DIVERGED;
    }
    return r;
}

/* swap_single: float path, one thread: its sums become the step sums (no copy); it goes on
 * with the previous step sums, whose gradient the update (or a diverged step) left cleared. */
static void swap_single(Trainer *t)
{
    size_t np = t->model.layout.n_params;
    Real *old = t->fsum;
    t->fsum = t->ts[0].grad;
    t->ts[0].grad = old;
    memset(old + np, 0, SUM_EXTRA * sizeof *old);
}

/* combine_threads: the float path's cost and count totals (the exact ones are in the
 * combined sums); with one thread its sums become the step sums. */
static void combine_threads(Trainer *t)
{
    size_t np = t->model.layout.n_params;
    if (t->cfg->reduction != REDUCTION_EXACT) {
        if (t->threads == 1)
            swap_single(t);
        for (int i = 0; i < SUM_EXTRA; i++)
            t->fsum[np + i] = 0;
        for (int k = 0; k < t->threads; k++) {
            t->fsum[np + SUM_COST] += (Real)t->ts[k].cost;
            t->fsum[np + SUM_COUNT] += (Real)t->ts[k].count;
            t->ts[k].cost = 0;
            t->ts[k].count = 0;
        }
    }
}

/* add_requests: this rank's stop/checkpoint requests into the step sums. */
static void add_requests(Trainer *t, int requests)
{
    size_t np = t->model.layout.n_params;
    t->sum[np + SUM_STOP] = t->fsum[np + SUM_STOP] = (requests & STEP_STOP) != 0;
    t->sum[np + SUM_CKPT] = t->fsum[np + SUM_CKPT] = (requests & STEP_CHECKPOINT) != 0;
}

/* reduce_step: the one collective of a step; returns the examples in the global batch
 * and the batch cost, or -1 when the gradient is not usable. */
static int64_t reduce_step(Trainer *t, double *cost)
{
    size_t np = t->model.layout.n_params;
    if (t->cfg->reduction == REDUCTION_EXACT) {
        comm_sum_packed(t->sum, np, SUM_EXTRA, (int)t->cfg->sum_bytes); /* extras in full */
        *cost = exact_value(t->sum[np + SUM_COST], &t->fixed);
        return t->sum[np + SUM_BAD] ? -1 : t->sum[np + SUM_COUNT];
    }
    comm_sum_real(t->fsum, np + SUM_EXTRA);
    *cost = (double)t->fsum[np + SUM_COST];
    return isfinite(*cost) ? (int64_t)llround((double)t->fsum[np + SUM_COUNT]) : -1;
}

/* agreed_requests: the requests of any rank, from the reduced step sums. */
static int agreed_requests(const Trainer *t)
{
    size_t np = t->model.layout.n_params;
    int exact = t->cfg->reduction == REDUCTION_EXACT;
    int stop = exact ? t->sum[np + SUM_STOP] > 0 : t->fsum[np + SUM_STOP] > 0;
    int ckpt = exact ? t->sum[np + SUM_CKPT] > 0 : t->fsum[np + SUM_CKPT] > 0;
    return (stop ? STEP_STOP : 0) | (ckpt ? STEP_CHECKPOINT : 0);
}

StepResult sums_reduce(Trainer *t, int requests)
{
    StepResult r;
    double clock = timer_now();
    combine_threads(t);
    add_requests(t, requests);
    timer_add(&t->times, PHASE_COMBINE, &clock);
    comm_set_phase("the gradient allreduce", t->step + 1);
    r.count = reduce_step(t, &r.cost);
    r.agreed = agreed_requests(t);
    if (r.count <= 0) /* every rank saw the same sums, so all agree without a message */
        r.agreed |= STEP_DIVERGED;
    timer_add(&t->times, PHASE_ALLREDUCE, &clock);
    return r;
}
