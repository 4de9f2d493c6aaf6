/* sums.c: a step's sums, combined over threads and reduced over ranks (see sums.h). */
#include "train/sums.h"

#include <math.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/packed.h"
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

/* add_bucket: one more bucket of the step sums: [lo, hi) and `side` values after them, its
 * blocks after the buckets' before it, their peaks not known yet. */
static void add_bucket(Trainer *t, size_t lo, size_t hi, int side)
{
    if (hi <= lo && side <= 0)
        return;
    size_t block = 0;
    if (t->n_buckets > 0) {
        const SumBucket *k = &t->bucket[t->n_buckets - 1];
        block = k->block + packed_blocks(k->hi - k->lo);
    }
    for (size_t b = block; b < block + packed_blocks(hi - lo); b++)
        t->sum_peaks[b] = t->sum_peaks[t->sum_blocks + b] = -1;
    t->bucket[t->n_buckets++] = (SumBucket){.lo = lo, .hi = hi, .side = side, .ticket = -1,
                                            .block = block};
}

int sums_overlap(const Trainer *t)
{
    if (t->ranks == 1 || t->cfg->overlap == OVERLAP_FALSE)
        return 0;
    return t->cfg->overlap == OVERLAP_TRUE ||
           (comm_sum_messages() && t->model.layout.n_params >= SUMS_OVERLAP_MIN);
}

void sums_plan(Trainer *t)
{
    const Layout *lay = &t->model.layout;
    size_t np = lay->n_params, w1 = lay->b_off[1];
    t->n_buckets = 0;
    if (!sums_overlap(t)) {
        add_bucket(t, 0, np, SUM_EXTRA);
        return;
    }
    add_bucket(t, w1, np, SUM_EXTRA); /* complete first: formed in the chunks */
    if (t->cfg->reduction != REDUCTION_EXACT) {
        add_bucket(t, 0, w1, 0);
        return;
    }
    for (int b = 0; b < 2; b++) { /* then W1's column blocks, as first_gradient_pieces ends them */
        int c0, c1;
        size_t off = layout_block(lay, b, &c0, &c1);
        add_bucket(t, off, off + (size_t)lay->n[1] * (size_t)(c1 - c0), 0);
    }
}

/* A block's width with train.sum_bytes = auto holds twice its recent peak: the largest of
 * its jobs' peaks in this window of PEAK_WINDOW steps and the one before (a spike keeps the
 * block wide for one or two windows; a block whose sums shrink narrows within two). */
enum { PEAK_WINDOW = 16 };

/* recent_peak: the recent peak of block b (t->sum_peaks: the window before, then this
 * window, then this step's, sum_blocks each; -1: not known). */
static int64_t recent_peak(const Trainer *t, size_t b)
{
    int64_t before = t->sum_peaks[b], now = t->sum_peaks[t->sum_blocks + b];
    return before > now ? before : now;
}

/* start_bucket: bucket k's job: float, int64 or packed in train.sum_bytes, or with auto
 * each block in the width its recent peak asks for (comm_sum_auto_bytes), the job's peaks
 * into t->sum_peaks' third part. */
static long start_bucket(Trainer *t, const SumBucket *k)
{
    size_t n = k->hi - k->lo, nb = packed_blocks(n);
    if (t->cfg->reduction != REDUCTION_EXACT)
        return comm_real_start(t->fsum + k->lo, n + (size_t)k->side);
    int bytes = config_sum_bytes(t->cfg);
    if (bytes)
        return comm_sum_start(t->sum + k->lo, n, k->side, bytes);
    int64_t *fresh = t->sum_peaks + 2 * t->sum_blocks + k->block;
    for (size_t b = 0; b < nb; b++) {
        t->sum_widths[k->block + b] = (uint8_t)comm_sum_auto_bytes(recent_peak(t, k->block + b));
        fresh[b] = -1;
    }
    return comm_sum_start_blocks(t->sum + k->lo, n, k->side, t->sum_widths + k->block, fresh);
}

void sums_start(Trainer *t, size_t lo, size_t hi)
{
    for (int i = 0; i < t->n_buckets; i++) { /* in order, the same on every rank */
        SumBucket *k = &t->bucket[i];
        if (k->ticket >= 0)
            continue;
        if (k->lo < lo || k->hi > hi)
            return;
        k->ticket = start_bucket(t, k);
    }
}

/* note_peaks: bucket k's job's peaks into its blocks' window, which ends after every
 * PEAK_WINDOW steps; alike on every rank that sent packed values (the others never send). */
static void note_peaks(Trainer *t, const SumBucket *k)
{
    int64_t *before = t->sum_peaks, *now = t->sum_peaks + t->sum_blocks;
    const int64_t *fresh = t->sum_peaks + 2 * t->sum_blocks;
    int ends = (t->step + 1) % PEAK_WINDOW == 0;
    for (size_t b = k->block; b < k->block + packed_blocks(k->hi - k->lo); b++) {
        now[b] = fresh[b] > now[b] ? fresh[b] : now[b];
        if (ends)
            before[b] = now[b], now[b] = -1;
    }
}

/* reduce_step: every bucket started and waited for; returns the examples in the global
 * batch and the batch cost, or -1 when the gradient is not usable. */
static int64_t reduce_step(Trainer *t, double *cost)
{
    size_t np = t->model.layout.n_params;
    sums_start(t, 0, np);
    for (int i = 0; i < t->n_buckets; i++) {
        SumBucket *k = &t->bucket[i];
        comm_sum_wait(k->ticket);
        if (t->cfg->reduction == REDUCTION_EXACT && !config_sum_bytes(t->cfg))
            note_peaks(t, k);
        k->ticket = -1;
    }
    if (t->cfg->reduction == REDUCTION_EXACT) {
        *cost = exact_value(t->sum[np + SUM_COST], &t->fixed);
        return t->sum[np + SUM_BAD] ? -1 : t->sum[np + SUM_COUNT];
    }
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

void sums_begin(Trainer *t, int requests)
{
    double clock = timer_now();
    if (t->n_buckets == 0) { /* the first step: no job in flight on any rank */
        sums_plan(t);
        comm_sum_reserve(t->model.layout.n_params + SUM_EXTRA);
    }
    combine_threads(t);
    add_requests(t, requests);
    comm_set_phase("the gradient allreduce", t->step + 1);
    timer_add(&t->times, PHASE_COMBINE, &clock);
}

StepResult sums_finish(Trainer *t)
{
    StepResult r;
    double clock = timer_now();
    r.count = reduce_step(t, &r.cost);
    r.agreed = agreed_requests(t);
    if (r.count <= 0) /* every rank saw the same sums, so all agree without a message */
        r.agreed |= STEP_DIVERGED;
    timer_add(&t->times, PHASE_ALLREDUCE, &clock);
    return r;
}

StepResult sums_reduce(Trainer *t, int requests)
{
    sums_begin(t, requests);
    return sums_finish(t);
}
