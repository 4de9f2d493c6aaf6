/* chunks.c: the per-example part of a step, by chunks of whole groups (see chunks.h). */
#include "train/chunks.h"

#include <string.h>

#include "train/lanes.h"
#include "train/shares.h"
#include "train/wide_layer.h"

/* lanes_consecutive: 1 when the chunk's n examples lie in consecutive lanes (slot[0] + i). */
static int lanes_consecutive(const ThreadState *s, int n)
{
    for (int i = 1; i < n; i++)
        if (s->slot[i] != s->slot[0] + i)
            return 0;
    return n > 0;
}

/* chunk_sums: adds the chunk's gradient, cost and count to the thread's sums: exact (each
 * group rounded to fixed point alone; the first layer's weights later, by columns, from the
 * rounded deltas left in t->D; run: the examples lie in consecutive lanes) or float. */
static void chunk_sums(Trainer *t, ThreadState *s, int groups, int n, int run)
{
    const Model *m = &t->model;
    size_t np = m->layout.n_params;
    if (t->cfg->reduction != REDUCTION_EXACT) {
        model_gradient(m, &s->ws, n, s->grad);
        for (int i = 0; i < n; i++)
            s->cost += s->costs[i];
        s->count += n;
        return;
    }
    /* the rounded deltas: straight into the step's table when the lanes are consecutive */
    int64_t *acc = s->acc, *D = run ? t->D + s->slot[0] : s->ws.in.D; /* (n1, ld) */
    int n1 = m->layout.n[1], ld = run ? (int)t->slots : s->ws.cap;
    acc[np + SUM_BAD] +=
        (int64_t)model_gradient_exact_rest(m, &s->ws, s->start, groups, acc, D, ld, &t->fixed);
    acc[np + SUM_BAD] += (int64_t)wide_store(t, s, n); /* summed by rows after the chunks */
    for (int j = 0; j < n1 && !run; j++) /* into the step's deltas: neuron-major, by lane */
        for (int i = 0; i < n; i++)
            t->D[(size_t)j * (size_t)t->slots + (size_t)s->slot[i]] = D[(size_t)j * s->ws.cap + i];
    for (int g = 0; g < groups; g++) {
        double cost = 0; /* the group's cost in the order of its examples */
        for (int i = s->start[g]; i < s->start[g + 1]; i++)
            cost += s->costs[i];
        acc[np + SUM_COST] += exact_round(cost, &t->fixed, &acc[np + SUM_BAD]);
    }
    acc[np + SUM_COUNT] += n;
}

/* chunk_inputs: the first layer's output of the chunk's n examples into ws: exact, from
 * their block sums in t->part (formed by first_forward; read in place when run, the
 * examples in consecutive lanes); float, the whole first layer. */
static void chunk_inputs(Trainer *t, ThreadState *s, int n, int run, double *clock)
{
    const Model *m = &t->model;
    if (t->cfg->reduction == REDUCTION_EXACT) {
        size_t n1 = (size_t)m->layout.n[1], half = (size_t)t->slots * n1;
        if (run) { /* the block sums as they lie */
            const Real *z = t->part + s->slot[0] * n1;
            model_forward_rest(m, &s->ws, n, z, z + half);
            return;
        }
        for (int i = 0; i < n; i++) {
            memcpy(s->ws.a[1] + i * n1, t->part + s->slot[i] * n1, n1 * sizeof(Real));
            memcpy(s->ws.d[1] + i * n1, t->part + half + s->slot[i] * n1, n1 * sizeof(Real));
        }
        model_forward_rest(m, &s->ws, n, s->ws.a[1], s->ws.d[1]);
    } else {
        model_load_inputs(&m->layout, &s->ws, s->rows, n);
        timer_add(&s->times, PHASE_DATA, clock);
        model_forward(m, &s->ws, n);
    }
}

/* chunk_gradient: one batched forward and backward pass over groups [g0, g1) (a chunk) at
 * position pos, into the thread's sums (chunk_sums). */
static void chunk_gradient(Trainer *t, ThreadState *s, int64_t g0, int64_t g1, int64_t pos)
{
    double clock = timer_now();
    int n = 0, groups = (int)(g1 - g0);
    for (int64_t g = g0; g < g1; g++) {
        s->start[g - g0] = n;
        n = lanes_gather_group(t, s, g, pos, n);
    }
    s->start[groups] = n;
    if (n == 0)
        return;
    const Model *m = &t->model;
    int run = lanes_consecutive(s, n);
    chunk_inputs(t, s, n, run, &clock);
    model_cost(m, &s->ws, s->labels, n, NULL, s->costs);
    timer_add(&s->times, PHASE_FORWARD, &clock);
    model_deltas(m, &s->ws, s->labels, n);
    chunk_sums(t, s, groups, n, run);
    timer_add(&s->times, PHASE_BACKWARD, &clock);
}

void chunks_gradient(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos)
{
    int64_t g0, g1;
    share_groups(t, tid, threads, &g0, &g1);
    int64_t per_chunk = t->group < CHUNK_CAP ? CHUNK_CAP / t->group : 1;
    size_t lo = t->cfg->reduction == REDUCTION_EXACT ? t->model.layout.b_off[1]
                                                     : t->model.layout.n_params;
    for (size_t i = lo, end, np = t->model.layout.n_params; i < np + SUM_EXTRA; i = end) {
        int wide = 0; /* the wide layers' weights: summed by rows (wide_layer.h), not here */
        end = i < np ? layout_run(&t->model.layout, i, &wide) : np + SUM_EXTRA;
        if (!wide || t->cfg->reduction != REDUCTION_EXACT)
            memset(s->acc + i, 0, (end - i) * sizeof *s->acc);
    }
    for (int64_t g = g0; g < g1; g += per_chunk)
        chunk_gradient(t, s, g, g + per_chunk < g1 ? g + per_chunk : g1, pos);
}
