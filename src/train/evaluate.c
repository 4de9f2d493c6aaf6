/* evaluate.c: forward passes over a shard in chunks, one chunk per thread at a time;
 * each example's cost is rounded to fixed point alone, so no float sum depends on how
 * examples are split between ranks and threads; every other statistic is an integer count. */
#include "train/evaluate.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "exact/exact.h"

/* A thread's partial sums. */
enum { SUM_COST, SUM_HITS, SUM_BAD, SUM_SATURATED, SUM_EXAMPLES, SUM_N };
typedef struct {
    int64_t sums[SUM_N];
    int64_t first, last; /* smallest, largest predicted class (INT64_MAX, -1: none yet) */
    int64_t *confusion;  /* (classes, classes) or NULL */
} Tally;

/* predicted_class: the first largest of the n outputs a (NaN never wins). */
static int predicted_class(const Real *a, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (a[j] > a[best])
            best = j;
    return best;
}

/* all_below: 1 when every one of the n outputs a is below EVAL_SATURATED_BELOW. */
static int all_below(const Real *a, int n)
{
    for (int j = 0; j < n; j++)
        if (!((double)a[j] < EVAL_SATURATED_BELOW))
            return 0;
    return 1;
}

/* tally_outputs: the counts of rows [r0, r0 + n) from their outputs a (n, classes), and the
 * rows' predictions and outputs where detail asks for them. */
static void tally_outputs(const Real *a, const uint8_t *labels, int64_t r0, int n, int classes,
                          Tally *t, EvalDetail *detail)
{
    for (int i = 0; i < n; i++) {
        const Real *ai = a + (size_t)i * classes;
        int best = predicted_class(ai, classes);
        uint8_t label = labels[r0 + i];
        t->sums[SUM_HITS] += best == label;
        t->sums[SUM_SATURATED] += all_below(ai, classes);
        t->first = best < t->first ? best : t->first;
        t->last = best > t->last ? best : t->last;
        if (t->confusion)
            t->confusion[(size_t)label * classes + best]++;
        if (detail && detail->predicted)
            detail->predicted[r0 + i] = best;
    }
    if (detail && detail->outputs)
        memcpy(detail->outputs + (size_t)r0 * classes, a, (size_t)n * classes * sizeof *a);
}

/* score_chunk: forward pass of rows [r0, r0 + n) of d; adds fixed-point costs and counts. */
static void score_chunk(const Model *m, const Dataset *d, Workspace *w, double *costs,
                        int64_t r0, int n, const Fixed *f, Tally *t, EvalDetail *detail)
{
    const uint8_t *rows[n];
    int L = m->layout.n_layers - 1;
    for (int i = 0; i < n; i++)
        rows[i] = d->images + (size_t)(r0 + i) * (size_t)d->info.dim;
    model_load_inputs(&m->layout, w, rows, n);
    model_forward(m, w, n);
    model_cost(m, w, d->labels + r0, n, NULL, costs);
    for (int i = 0; i < n; i++)
        t->sums[SUM_COST] += exact_round(costs[i], f, &t->sums[SUM_BAD]);
    tally_outputs(w->a[L], d->labels, r0, n, m->layout.n[L], t, detail);
}

/* merge: adds thread tally t into total (called by one thread at a time). */
static void merge(Tally *total, const Tally *t, size_t cells)
{
    for (int k = 0; k < SUM_N; k++)
        total->sums[k] += t->sums[k]; /* integer sums: exact in any order */
    total->first = t->first < total->first ? t->first : total->first;
    total->last = t->last > total->last ? t->last : total->last;
    for (size_t c = 0; total->confusion && c < cells; c++)
        total->confusion[c] += t->confusion[c];
}

/* score_threads: every chunk of d over `threads` threads into total. */
static void score_threads(const Model *m, const Dataset *d, Workspace *ws, int threads,
                          double *costs, int64_t *cells_buf, size_t cells, const Fixed *f,
                          Tally *total, EvalDetail *detail)
{
    int cap = ws[0].cap;
    int64_t chunks = (d->rows + cap - 1) / cap;
#pragma omp parallel num_threads(threads)
    {
        /* each thread owns its workspace, cost buffer and tally */
        int tid = omp_get_thread_num();
        Tally mine = {.first = INT64_MAX, .last = -1,
                      .confusion = cells_buf ? cells_buf + (size_t)tid * cells : NULL};
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t r0 = c * cap;
            int n = (int)(d->rows - r0 < cap ? d->rows - r0 : cap);
            score_chunk(m, d, &ws[tid], costs + (size_t)tid * cap, r0, n, f, &mine, detail);
        }
#pragma omp critical
        merge(total, &mine, cells);
    }
}

int evaluate(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out, Err *e)
{
    return evaluate_detail(m, d, ws, threads, out, NULL, e);
}

int evaluate_detail(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out,
                    EvalDetail *detail, Err *e)
{
    int classes = m->layout.n[m->layout.n_layers - 1];
    int want = detail && detail->confusion;
    size_t cells = want ? (size_t)classes * (size_t)classes : 0;
    double *costs = alloc_array((size_t)threads * (size_t)ws[0].cap, sizeof(double),
                                "evaluation costs", e);
    /* the threads' confusion matrices, then the total's */
    int64_t *cells_buf = want ? alloc_array(((size_t)threads + 1) * cells, sizeof(int64_t),
                                            "confusion matrices", e)
                              : NULL;
    Fixed f = exact_fixed(d->shard.n > 0 ? d->shard.n : 1); /* every rank knows n */
    int failed = costs == NULL || (want && (classes > EVAL_MAX_CLASSES || cells_buf == NULL));
    if (want && classes > EVAL_MAX_CLASSES)
        err_set(e, "evaluation: a confusion matrix of %d classes is too large (at most %d)",
                classes, EVAL_MAX_CLASSES);
    if (comm_check(failed, e) != 0) {
        free(costs);
        free(cells_buf);
        return -1;
    }
    if (want)
        memset(cells_buf, 0, ((size_t)threads + 1) * cells * sizeof *cells_buf);
    Tally total = {.first = INT64_MAX, .last = -1,
                   .confusion = want ? cells_buf + (size_t)threads * cells : NULL};
    score_threads(m, d, ws, threads, costs, cells_buf, cells, &f, &total, detail);
    free(costs);
    total.sums[SUM_EXAMPLES] = d->rows;
    comm_sum_i64(total.sums, SUM_N);
    uint64_t first = comm_min_u64(total.first == INT64_MAX ? UINT64_MAX : (uint64_t)total.first);
    uint64_t last = comm_max_u64(total.last < 0 ? 0 : (uint64_t)total.last);
    if (want) {
        comm_sum_i64(total.confusion, cells);
        memcpy(detail->confusion, total.confusion, cells * sizeof *total.confusion);
    }
    free(cells_buf);
    int64_t count = total.sums[SUM_EXAMPLES];
    *out = (Score){.count = count,
                   .cost = count ? exact_value(total.sums[SUM_COST], &f) / (double)count : 0,
                   .accuracy = count ? (double)total.sums[SUM_HITS] / (double)count : 0,
                   .correct = total.sums[SUM_HITS],
                   .saturated = total.sums[SUM_SATURATED],
                   .first_class = count ? (int64_t)first : -1,
                   .last_class = count ? (int64_t)last : -1};
    if (total.sums[SUM_BAD] == 0)
        return 0;
    err_set(e, "evaluation: %lld example costs are not finite: the weights have diverged "
               "(lower train.learning_rate)", (long long)total.sums[SUM_BAD]);
    return comm_check(1, e); /* the same on every rank: reported once, by rank 0 */
}

int score_collapse(const Score *s)
{
    if (s->count < EVAL_COLLAPSE_MIN)
        return 0;
    int why = 0;
    if (s->saturated * 100 >= s->count * 99)
        why |= COLLAPSE_SATURATED;
    if (s->first_class == s->last_class)
        why |= COLLAPSE_ONE_CLASS;
    return why;
}
