/* evaluate.c: forward passes over a shard in chunks, one chunk per thread at a time;
 * each example's cost is rounded to fixed point alone, so no float sum depends on how
 * examples are split between ranks and threads. */
#include "train/evaluate.h"

#include <omp.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "exact/exact.h"

/* score_chunk: forward pass of rows [r0, r0 + n) of d; adds fixed-point costs and hits. */
static void score_chunk(const Model *m, const Dataset *d, Workspace *w, double *costs,
                        int64_t r0, int n, const Fixed *f, int64_t *sums)
{
    const uint8_t *rows[n];
    for (int i = 0; i < n; i++)
        rows[i] = d->images + (size_t)(r0 + i) * (size_t)d->info.dim;
    model_load_inputs(&m->layout, w, rows, n);
    model_forward(m, w, n);
    int64_t hits = 0;
    model_cost(m, w, d->labels + r0, n, &hits, costs);
    for (int i = 0; i < n; i++)
        sums[0] += exact_round(costs[i], f, &sums[2]);
    sums[1] += hits;
}

int evaluate(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out, Err *e)
{
    int cap = ws[0].cap;
    double *costs = alloc_array((size_t)threads * (size_t)cap, sizeof(double),
                                "evaluation costs", e);
    int64_t sums[4] = {0, 0, 0, 0}; /* cost, hits, bad, examples */
    Fixed f = exact_fixed(d->shard.n > 0 ? d->shard.n : 1); /* every rank knows n */
    if (comm_check(costs == NULL, e) != 0) {
        free(costs);
        return -1;
    }
    int64_t chunks = (d->rows + cap - 1) / cap;
#pragma omp parallel num_threads(threads)
    {
        /* each thread owns its workspace, cost buffer and partial sums */
        int tid = omp_get_thread_num();
        int64_t mine[3] = {0, 0, 0};
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t r0 = c * cap;
            int n = (int)(d->rows - r0 < cap ? d->rows - r0 : cap);
            score_chunk(m, d, &ws[tid], costs + (size_t)tid * cap, r0, n, &f, mine);
        }
#pragma omp critical
        for (int k = 0; k < 3; k++)
            sums[k] += mine[k]; /* integer sums: exact in any order */
    }
    free(costs);
    sums[3] = d->rows;
    comm_sum_i64(sums, 4);
    out->count = sums[3];
    out->cost = sums[3] ? exact_value(sums[0], &f) / (double)sums[3] : 0;
    out->accuracy = sums[3] ? (double)sums[1] / (double)sums[3] : 0;
    if (sums[2] == 0)
        return 0;
    err_set(e, "evaluation: %lld example costs are not finite: the weights have diverged "
               "(lower train.learning_rate)", (long long)sums[2]);
    return comm_check(1, e); /* the same on every rank: reported once, by rank 0 */
}
