/* train.c: one rank's part of data-parallel gradient descent (see train.h for the lanes). */
#include "train/train.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/hash.h"
#include "core/rng.h"
#include "train/schedule.h"

/* Examples a thread runs through one batched forward and backward pass (at least one
 * group): the inputs of a chunk stay in L1/L2 while the weight gradient is formed. */
#define CHUNK_CAP 64

/* Examples per call of the first layer's column gradient: four AMX blocks of 64 are summed
 * in the tiles before they are widened. */
#define COLS_BLOCK 256

/* check_shape: batch, groups and ranks fit together; fills the lane/group fields. */
static int check_shape(Trainer *t, Err *e)
{
    const Config *c = t->cfg;
    t->lanes = c->batch_size > 0 ? c->batch_size : t->n_train;
    t->group = c->exact_group;
    if (t->lanes > t->n_train)
        return err_set(e, "train.batch_size = %lld exceeds the %lld training examples "
                          "(lower it, or raise data.train_limit)",
                       (long long)t->lanes, (long long)t->n_train);
    t->n_groups = (t->lanes + t->group - 1) / t->group;
    if (c->batch_size > 0 && (t->lanes % t->group != 0 || t->n_groups % t->ranks != 0))
        return err_set(e, "train.batch_size = %lld must be a multiple of ranks x "
                          "train.exact_group = %d x %lld: use a batch size that %d ranks "
                          "divide into whole groups, or another number of ranks",
                       (long long)t->lanes, t->ranks, (long long)t->group, t->ranks);
    if (t->n_groups < t->ranks)
        return err_set(e, "full batch: %lld examples in groups of train.exact_group = %lld "
                          "give fewer groups than the %d ranks",
                       (long long)t->n_train, (long long)t->group, t->ranks);
    t->group0 = t->n_groups * t->rank / t->ranks;
    t->group1 = t->n_groups * (t->rank + 1) / t->ranks;
    t->steps_per_epoch = (t->n_train + t->lanes - 1) / t->lanes;
    return 0;
}

/* probe_set: reads headers of a pair, applies a limit, checks the pixels fit the inputs. */
static int probe_set(const char *images, const char *labels, int64_t limit, const char *key,
                     int n_inputs, int64_t *n, Err *e)
{
    DataInfo info;
    if (data_probe(images, labels, &info, e) != 0)
        return -1;
    if (limit > info.count)
        return err_set(e, "data.%s_limit = %lld exceeds the %lld examples of %s", key,
                       (long long)limit, (long long)info.count, images);
    if (info.dim != n_inputs)
        return err_set(e, "model.layers: the first size %d does not match the %d x %d = %d "
                          "pixels of %s (set model.layers = %d,...)",
                       n_inputs, info.img_rows, info.img_cols, info.dim, images, info.dim);
    *n = limit > 0 ? limit : info.count;
    return 0;
}

/* check_memory: the bytes this rank will allocate (data shards, model, per-thread
 * buffers), times the ranks on this node, must fit the node's available memory. */
static int check_memory(const Trainer *t, int64_t n_test, Err *e)
{
    Layout lay;
    if (layout_init(&lay, t->cfg->layers, t->cfg->n_layers, e) != 0)
        return -1;
    double dim = lay.n[0], np = (double)lay.n_params, acts = 0, P = t->ranks;
    for (int l = 0; l < lay.n_layers; l++)
        acts += 2.0 * lay.n[l];
    double train_rows = (double)t->n_train / P + (double)t->lanes, test_rows = n_test / P + 1;
    double per_thread = np * (sizeof(Real) + 8.0) + 256.0 * 2 * acts * sizeof(Real);
    /* per lane: its deltas (int64) and block sums; per training row: pixels, label, shuffled
     * position (int64) and its entry of epoch_rows */
    double lane_bytes = (double)t->lanes / P * ((8.0 + 2 * sizeof(Real)) * lay.n[1]);
    double bytes = train_rows * (dim + 1 + 8 + 8) + test_rows * (dim + 1) + 3 * np * sizeof(Real) +
                   lane_bytes +
                   np * (8.0 + sizeof(Real)) + t->threads * per_thread;
    int node_ranks = comm_node_ranks();
    double node = bytes * node_ranks, avail = memory_available();
    if (avail <= 0 || node <= avail)
        return 0;
    return err_set(e, "not enough memory: each rank needs %.3g bytes (%.1f GiB: %.3g parameters, "
                      "%.0f training examples) and %d ranks share this node, but only %.1f GiB "
                      "are available; use smaller model.layers, more nodes or data.train_limit",
                   bytes, bytes / 1073741824.0, np, train_rows, node_ranks,
                   avail / 1073741824.0);
}

/* load_data: probes and loads this rank's training lanes and test block. */
static int load_data(Trainer *t, Err *e)
{
    const Config *c = t->cfg;
    int n_in = c->layers[0], n_out = c->layers[c->n_layers - 1];
    int64_t n_test = 0;
    int status = probe_set(c->train_images, c->train_labels, c->train_limit, "train", n_in,
                           &t->n_train, e);
    if (status == 0)
        status = probe_set(c->test_images, c->test_labels, c->test_limit, "test", n_in,
                           &n_test, e);
    if (status == 0)
        status = check_shape(t, e);
    if (comm_check(status, e) != 0)
        return -1;
    if (comm_check(check_memory(t, n_test, e), e) != 0)
        return -1;
    int64_t lane0 = t->group0 * t->group;
    int64_t lane1 = t->group1 * t->group < t->lanes ? t->group1 * t->group : t->lanes;
    Shard train = shard_lanes(t->n_train, t->lanes, lane0, lane1);
    Shard test = shard_block(n_test, t->rank, t->ranks);
    status = data_load(c->train_images, c->train_labels, &train, n_out, &t->train, e);
    if (status == 0)
        status = data_load(c->test_images, c->test_labels, &test, n_out, &t->test, e);
    return comm_check(status, e);
}

/* alloc_threads: each thread's workspace, gradient, exact sums and chunk buffers. */
static int alloc_threads(Trainer *t, Err *e)
{
    size_t np = t->model.layout.n_params;
    int cap = t->group < CHUNK_CAP ? CHUNK_CAP : (int)t->group;
    t->ts = alloc_array((size_t)t->threads, sizeof *t->ts, "thread states", e);
    if (!t->ts)
        return -1;
    for (int i = 0; i < t->threads; i++) {
        ThreadState *s = &t->ts[i];
        if (workspace_init(&s->ws, &t->model.layout, cap, e) != 0)
            return -1;
        s->grad = alloc_array(np + SUM_EXTRA, sizeof(Real), "thread gradient", e);
        s->acc = alloc_array(np + SUM_EXTRA, sizeof(int64_t), "thread exact sums", e);
        s->rows = alloc_array((size_t)cap, sizeof *s->rows, "chunk rows", e);
        s->labels = alloc_array((size_t)cap, 1, "chunk labels", e);
        s->start = alloc_array((size_t)cap + 1, sizeof *s->start, "chunk groups", e);
        s->costs = alloc_array((size_t)cap, sizeof *s->costs, "chunk costs", e);
        s->slot = alloc_array((size_t)cap, sizeof *s->slot, "chunk lanes", e);
        s->loaded = -1;
        if (!s->grad || !s->acc || !s->rows || !s->labels || !s->start || !s->costs ||
            !s->slot || exact_input_init(&s->cols, COLS_BLOCK, t->model.layout.n[0],
                                         t->model.layout.n[1], e) != 0)
            return -1;
    }
    const Shard *sh = &t->train.shard;
    t->slots = sh->lane1 - sh->lane0;
    size_t slots = (size_t)(t->slots > 0 ? t->slots : 1);
    t->D = alloc_array(slots * (size_t)t->model.layout.n[1], sizeof *t->D, "lane deltas", e);
    t->epoch_rows = alloc_array((size_t)t->steps_per_epoch * slots, sizeof *t->epoch_rows,
                                "epoch rows", e);
    t->part = alloc_array(2 * slots * (size_t)t->model.layout.n[1], sizeof *t->part,
                          "first-layer block sums", e);
    if (!t->D || !t->epoch_rows || !t->part)
        return -1;
    t->barrier = barrier_new(e);
    t->sum = alloc_array(np + SUM_EXTRA, sizeof(int64_t), "step sums", e);
    t->fsum = alloc_array(np + SUM_EXTRA, sizeof(Real), "float step sums", e);
    t->order = alloc_array((size_t)(t->train.rows ? t->train.rows : 1), sizeof(int64_t),
                           "lane order", e);
    return t->barrier && t->sum && t->fsum && t->order ? 0 : -1;
}

/* data_fingerprint: sum over all ranks' examples of a hash of (index, label, pixels):
 * the same for any sharding, different when the training data differ. */
static uint64_t data_fingerprint(const Dataset *d)
{
    uint64_t sum = 0;
    for (int64_t row = 0; row < d->rows; row++) {
        const uint8_t *px = d->images + (size_t)row * (size_t)d->info.dim;
        uint64_t h = hash_fnv1a(HASH_FNV_BASIS, px, (size_t)d->info.dim);
        sum += rng_mix((uint64_t)shard_global(&d->shard, row), d->labels[row], h);
    }
    comm_sum_u64(&sum, 1);
    return sum;
}

int trainer_init(Trainer *t, const Config *c, int rank, int ranks, int threads, Err *e)
{
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->rank = rank;
    t->ranks = ranks;
    t->threads = threads;
    if (load_data(t, e) != 0)
        return -1;
    int status = model_init(&t->model, c->layers, c->n_layers, c->seed, e);
    if (status == 0 && t->model.layout.n_params + SUM_EXTRA > INT_MAX)
        status = err_set(e, "model.layers: %zu parameters exceed the %d one reduction can "
                            "carry", t->model.layout.n_params, INT_MAX - SUM_EXTRA);
    if (status == 0)
        status = alloc_threads(t, e);
    t->fixed = exact_fixed(t->lanes); /* the first layer's sums have a term per example */
    t->shuffled_epoch = -1;
    t->ahead = -1;
    t->lr_scale = 1.0;
    if (comm_check(status, e) != 0)
        return -1;
    t->fingerprint = data_fingerprint(&t->train);
    return 0;
}

void trainer_free(Trainer *t)
{
    for (int i = 0; t->ts && i < t->threads; i++) {
        workspace_free(&t->ts[i].ws);
        free(t->ts[i].grad);
        free(t->ts[i].acc);
        free(t->ts[i].rows);
        free(t->ts[i].labels);
        free(t->ts[i].start);
        free(t->ts[i].costs);
        free(t->ts[i].slot);
        exact_input_free(&t->ts[i].cols);
    }
    free(t->D);
    free(t->epoch_rows);
    free(t->part);
    free(t->ts);
    free(t->order);
    free(t->barrier);
    free(t->fsum);
    free(t->sum);
    model_free(&t->model);
    data_free(&t->test);
    data_free(&t->train);
    memset(t, 0, sizeof *t);
}

/* lane_pixels: lane `lane`'s pixel rows at every position of the epoch into its column of
 * t->epoch_rows, from its shuffled positions (a short lane's last: row 0, unused). */
static void lane_pixels(Trainer *t, int64_t lane)
{
    const Shard *s = &t->train.shard;
    size_t slots = (size_t)t->slots, dim = (size_t)t->train.info.dim;
    for (int64_t pos = 0; pos < t->steps_per_epoch; pos++) {
        int64_t at = shard_row(s, lane, pos), row = at < 0 ? 0 : shard_row(s, lane, t->order[at]);
        t->epoch_rows[(size_t)pos * slots + (size_t)(lane - s->lane0)] =
            t->train.images + (size_t)row * dim;
    }
}

/* shuffle_lanes: Fisher-Yates shuffle of each held lane's positions for `epoch`, from the
 * stream (seed, epoch, lane): the same on whichever rank holds the lane; and their pixel
 * rows (lane_pixels). Called by every thread of the step's parallel region (they share the
 * lanes; a barrier ends it). */
static void shuffle_lanes(Trainer *t, int64_t epoch)
{
    const Shard *s = &t->train.shard;
#pragma omp for schedule(static)
    for (int64_t lane = s->lane0; lane < s->lane1; lane++) {
        int64_t len = shard_lane_length(s, lane);
        Rng r;
        rng_init(&r, rng_mix(t->cfg->seed ^ 0x73687566666c65ULL /* "shuffle" */,
                             (uint64_t)epoch, (uint64_t)lane));
        for (int64_t k = 0; k < len; k++)
            t->order[shard_row(s, lane, k)] = k;
        for (int64_t k = len - 1; k > 0; k--) {
            int64_t j = (int64_t)rng_below(&r, (uint64_t)k + 1);
            int64_t *a = &t->order[shard_row(s, lane, k)], *b = &t->order[shard_row(s, lane, j)];
            int64_t tmp = *a;
            *a = *b;
            *b = tmp;
        }
        lane_pixels(t, lane);
    }
}

/* gather_group: appends the examples of group g at position `pos` of the lanes to the
 * chunk (rows and labels from index n); returns the new count. */
static int gather_group(const Trainer *t, ThreadState *s, int64_t g, int64_t pos, int n)
{
    const Shard *sh = &t->train.shard;
    int64_t end = (g + 1) * t->group < t->lanes ? (g + 1) * t->group : t->lanes;
    for (int64_t lane = g * t->group; lane < end; lane++) {
        int64_t at = shard_row(sh, lane, pos), slot = lane - sh->lane0;
        if (at < 0) { /* a short lane: the epoch's last batch is smaller */
            int n1 = t->model.layout.n[1];
            for (int j = 0; j < n1; j++) /* adds nothing */
                t->D[(size_t)j * (size_t)t->slots + (size_t)slot] = 0;
            continue;
        }
        int64_t row = shard_row(sh, lane, t->order[at]);
        s->rows[n] = t->train.images + (size_t)row * (size_t)t->train.info.dim;
        s->labels[n] = t->train.labels[row];
        s->slot[n] = slot;
        n++;
    }
    return n;
}

/* chunk_sums: adds the chunk's gradient, cost and count to the thread's sums: exact (each
 * group rounded to fixed point alone; the first layer's weights later, by columns, from the
 * rounded deltas left in t->D) or float. */
static void chunk_sums(Trainer *t, ThreadState *s, int groups, int n)
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
    int64_t *acc = s->acc, *D = s->ws.in.D; /* (n1, ws.cap) */
    int n1 = m->layout.n[1];
    acc[np + SUM_BAD] +=
        (int64_t)model_gradient_exact_rest(m, &s->ws, s->start, groups, acc, D, s->ws.cap,
                                           &t->fixed);
    for (int j = 0; j < n1; j++) /* into the step's deltas: neuron-major, by lane */
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

/* group_gradient: one batched forward and backward pass over groups [g0, g1) (a chunk);
 * every example's activations and deltas have the bits of a pass over it alone. */
static void group_gradient(Trainer *t, ThreadState *s, int64_t g0, int64_t g1, int64_t pos)
{
    double clock = timer_now();
    int n = 0, groups = (int)(g1 - g0);
    for (int64_t g = g0; g < g1; g++) {
        s->start[g - g0] = n;
        n = gather_group(t, s, g, pos, n);
    }
    s->start[groups] = n;
    if (n == 0)
        return;
    const Model *m = &t->model;
    if (t->cfg->reduction == REDUCTION_EXACT) { /* the first layer's block sums are formed */
        size_t n1 = (size_t)m->layout.n[1], half = (size_t)t->slots * n1;
        for (int i = 0; i < n; i++) {
            memcpy(s->ws.a[1] + i * n1, t->part + s->slot[i] * n1, n1 * sizeof(Real));
            memcpy(s->ws.d[1] + i * n1, t->part + half + s->slot[i] * n1, n1 * sizeof(Real));
        }
        model_forward_rest(m, &s->ws, n, s->ws.a[1], s->ws.d[1]);
    } else {
        model_load_inputs(&m->layout, &s->ws, s->rows, n);
        timer_add(&s->times, PHASE_DATA, &clock);
        model_forward(m, &s->ws, n);
    }
    model_cost(m, &s->ws, s->labels, n, NULL, s->costs);
    timer_add(&s->times, PHASE_FORWARD, &clock);
    model_deltas(m, &s->ws, s->labels, n);
    chunk_sums(t, s, groups, n);
    timer_add(&s->times, PHASE_BACKWARD, &clock);
}

/* step_rows: the pixel rows of the step at position pos of the epoch, by lane. */
static const uint8_t *const *step_rows(const Trainer *t, int64_t pos)
{
    return t->epoch_rows + (size_t)pos * (size_t)t->slots;
}

/* Thread tid's share of the work on W1's two column blocks (layout_block): blocks [b0, b1)
 * and part i of k of each (of its lanes or its columns). One thread takes both blocks
 * whole; otherwise thread tid takes block tid % 2 with the other threads on it, so with two
 * threads each owns one block: its weights, sums and inputs never move between cores. */
typedef struct {
    int b0, b1, i, k;
} Share;

static Share share_of(int tid, int threads)
{
    if (threads == 1)
        return (Share){0, 2, 0, 1};
    return (Share){tid % 2, tid % 2 + 1, tid / 2, (threads + 1 - tid % 2) / 2};
}

/* share_cols: the columns [*cs, *ce) of block b (from its first column) that part i of k
 * holds: whole cache lines of weights where the sizes allow. */
static void share_cols(const Layout *lay, int b, Share sh, int *cs, int *ce)
{
    int c0, c1;
    layout_block(lay, b, &c0, &c1);
    int w = c1 - c0, a = (w * sh.i / sh.k + 8) / 16 * 16, z = (w * (sh.i + 1) / sh.k + 8) / 16 * 16;
    *cs = sh.i == 0 ? 0 : a < w ? a : w;
    *ce = sh.i + 1 == sh.k ? w : z < w ? z : w;
}

/* first_cols: the input columns [*c0, *c1) and lanes [*a0, *a1) of this thread's share of
 * the first layer's block sums. */
static void first_cols(const Trainer *t, Share sh, int *c0, int *c1, int64_t *a0, int64_t *a1)
{
    int unused;
    layout_block(&t->model.layout, sh.b0, c0, &unused);
    layout_block(&t->model.layout, sh.b1 - 1, &unused, c1);
    *a0 = t->slots * sh.i / sh.k, *a1 = t->slots * (sh.i + 1) / sh.k;
}

/* first_load: input columns [c0, c1) of lanes [a, a + n) at position pos into ws.x. */
static void first_load(Trainer *t, ThreadState *s, int64_t a, int n, int64_t pos, int c0,
                       int c1)
{
    model_load_columns(&t->model.layout, &s->ws, step_rows(t, pos) + a, n, c0, c1);
}

/* one_chunk: whether the share's lanes fit one chunk (its inputs can be loaded ahead). */
static int one_chunk(const Trainer *t, Share sh)
{
    int c0, c1;
    int64_t a0, a1;
    first_cols(t, sh, &c0, &c1, &a0, &a1);
    return a1 > a0 && a1 - a0 <= CHUNK_CAP;
}

/* load_ahead: the inputs of step `step` (position pos) loaded now for its first_forward,
 * when the thread's lanes fit one chunk: by threads that would otherwise run the same
 * phase as the others at the same time, or wait for the master's allreduce. */
static void load_ahead(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                       int64_t step)
{
    int c0, c1;
    int64_t a0, a1;
    Share sh = share_of(tid, threads);
    if (!one_chunk(t, sh))
        return;
    first_cols(t, sh, &c0, &c1, &a0, &a1);
    double clock = timer_now();
    first_load(t, s, a0, (int)(a1 - a0), pos, c0, c1);
    s->loaded = step;
    timer_add(&s->times, PHASE_DATA, &clock);
}

/* fetch_ahead: asks for this thread's columns of its lanes' rows at position pos (the next
 * step's: scattered over the training set) a step before first_forward reads them. */
static void fetch_ahead(const Trainer *t, int tid, int threads, int64_t pos)
{
    int c0, c1;
    int64_t a0, a1;
    first_cols(t, share_of(tid, threads), &c0, &c1, &a0, &a1);
    for (int64_t a = a0; a < a1; a++) {
        const uint8_t *row = step_rows(t, pos)[a];
        for (int k = c0; k < c1; k += 64)
            __builtin_prefetch(row + k);
        __builtin_prefetch(row + c1 - 1);
    }
}

/* first_forward: the first layer's block sums (model_first_partial) of this thread's share
 * of the rank's lanes for step `step` (position pos), into t->part; it reads only its
 * blocks' inputs and weights. */
static void first_forward(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                          int64_t step)
{
    const Model *m = &t->model;
    int n1 = m->layout.n[1], c0, c1;
    int64_t a0, a1;
    Share sh = share_of(tid, threads);
    first_cols(t, sh, &c0, &c1, &a0, &a1);
    for (int64_t a = a0; a < a1; a += CHUNK_CAP) {
        double clock = timer_now();
        int n = (int)(a1 - a < CHUNK_CAP ? a1 - a : CHUNK_CAP);
        if (s->loaded != step) /* not loaded ahead */
            first_load(t, s, a, n, pos, c0, c1);
        s->loaded = -1;
        timer_add(&s->times, PHASE_DATA, &clock);
        for (int b = sh.b0; b < sh.b1; b++)
            model_first_partial(m, &s->ws, n, b,
                                t->part + ((size_t)b * (size_t)t->slots + (size_t)a) * n1);
        timer_add(&s->times, PHASE_FORWARD, &clock);
    }
}

/* thread_gradients: this thread's contiguous share of the rank's groups, in chunks of up to
 * CHUNK_CAP examples (whole groups); called inside the parallel region. */
static void thread_gradients(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos)
{
    int64_t n_groups = t->group1 - t->group0;
    int64_t g0 = t->group0 + n_groups * tid / threads;
    int64_t g1 = t->group0 + n_groups * (tid + 1) / threads;
    int64_t per_chunk = t->group < CHUNK_CAP ? CHUNK_CAP / t->group : 1;
    size_t lo = t->cfg->reduction == REDUCTION_EXACT ? t->model.layout.b_off[1]
                                                     : t->model.layout.n_params;
    memset(s->acc + lo, 0, (t->model.layout.n_params + SUM_EXTRA - lo) * sizeof *s->acc);
    for (int64_t g = g0; g < g1; g += per_chunk)
        group_gradient(t, s, g, g + per_chunk < g1 ? g + per_chunk : g1, pos);
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

/* clear_gradient: the step's gradient sums to zero (what the update leaves behind). */
static void clear_gradient(Trainer *t)
{
    size_t np = t->model.layout.n_params;
    memset(t->sum, 0, np * sizeof *t->sum);
    memset(t->fsum, 0, np * sizeof *t->fsum);
}

/* odd_ahead: whether the odd threads load the next step's inputs at the step's middle
 * barrier, between arriving and waiting (one rank, exact sums, an odd thread's lanes in one
 * chunk); the even ones load theirs in first_forward (measured with two threads: 2-3%
 * faster than both loading ahead, 2-4% faster than neither). */
static int odd_ahead(const Trainer *t, int threads)
{
    return t->ranks == 1 && t->cfg->reduction == REDUCTION_EXACT && threads > 1 &&
           one_chunk(t, share_of(1, threads));
}

/* rest_range: thread tid's slice [*i0, *i1) of [lo, hi), the values after W1 it combines
 * and updates: in reverse thread order, so the slice next to W1's last block is its owner's
 * (no cache line of one thread's next to another's where a thread streams to its end). */
static void rest_range(size_t lo, size_t hi, int tid, int threads, size_t *i0, size_t *i1)
{
    size_t k = (size_t)threads, q = (size_t)(threads - 1 - tid);
    *i0 = lo + (hi - lo) * q / k;
    *i1 = lo + (hi - lo) * (q + 1) / k;
}

/* combine_slice: this thread's slice of the step sums [lo, hi), summed over the threads'
 * partial sums in thread order (float: clearing them; exact: each thread clears its own
 * when it starts the next step, so no thread writes another's cache lines); called by
 * every thread of the step's parallel region after a barrier (each writes only its slice). */
static void combine_slice(Trainer *t, size_t lo, size_t hi, int tid, int threads)
{
    size_t i0, i1;
    rest_range(lo, hi, tid, threads, &i0, &i1);
    if (t->cfg->reduction == REDUCTION_EXACT) {
        for (size_t i = i0; i < i1; i++) {
            int64_t v = 0;
            for (int k = 0; k < t->threads; k++)
                v += t->ts[k].acc[i];
            t->sum[i] = v;
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

/* reduce_step: the one collective of a step; returns the examples in the global batch
 * and the batch cost, or -1 when the gradient is not usable. */
static int64_t reduce_step(Trainer *t, double *cost)
{
    size_t np = t->model.layout.n_params;
    if (t->cfg->reduction == REDUCTION_EXACT) {
        comm_sum_i64(t->sum, np + SUM_EXTRA);
        *cost = exact_value(t->sum[np + SUM_COST], &t->fixed);
        return t->sum[np + SUM_BAD] ? -1 : t->sum[np + SUM_COUNT];
    }
    comm_sum_real(t->fsum, np + SUM_EXTRA);
    *cost = (double)t->fsum[np + SUM_COST];
    return isfinite(*cost) ? (int64_t)llround((double)t->fsum[np + SUM_COUNT]) : -1;
}

/* grad_cols: the input columns [*from, *to) of the first layer's weight gradient this
 * thread forms (both blocks whole with one thread, else its columns of one block). */
static void grad_cols(const Layout *lay, Share sh, int *from, int *to)
{
    int c0, c1, d0, d1;
    layout_block(lay, 0, &c0, &c1);
    layout_block(lay, 1, &d0, &d1);
    *from = c0, *to = d1;
    if (sh.b1 - sh.b0 == 1) {
        int cs, ce, b0 = sh.b0 ? d0 : c0;
        share_cols(lay, sh.b0, sh, &cs, &ce);
        *from = b0 + cs, *to = b0 + ce;
    }
}

/* first_pack: lays out this thread's inputs of first_layer ahead of it (they need no delta,
 * so while the other threads still form theirs), where one call takes every lane. */
static void first_pack(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos)
{
    int from, to;
    if (t->slots > COLS_BLOCK)
        return;
    grad_cols(&t->model.layout, share_of(tid, threads), &from, &to);
    exact_input_pack(&s->cols, step_rows(t, pos), (int)t->slots, from, to);
}

/* first_layer: this thread's columns of the first layer's weight gradient over every lane of
 * the rank, added to the step sums (after every thread's chunks: it reads their deltas).
 * With step > 0 (one rank) the sums may be spent at once on the weights instead, as
 * update_first would (returns 1 then). */
static int first_layer(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                       double step)
{
    const Layout *lay = &t->model.layout;
    int n_out = lay->n[1], c0, c1, d0, d1, from, to;
    Share sh = share_of(tid, threads);
    size_t off0 = layout_block(lay, 0, &c0, &c1), off1 = layout_block(lay, 1, &d0, &d1);
    ColSums dst = {.acc = {t->sum + off0, t->sum + off1}, .stride = {c1 - c0, d1 - d0},
                   .split = c1, .theta = {t->model.params + off0, t->model.params + off1},
                   .step = step, .inv = t->fixed.inv_scale};
    grad_cols(lay, sh, &from, &to);
    if (sh.b1 - sh.b0 == 1) { /* its columns of one block */
        int b = sh.b0;
        size_t off = (b ? off1 - (size_t)d0 : off0 - (size_t)c0) + (size_t)from;
        dst.acc[0] = t->sum + off, dst.theta[0] = t->model.params + off;
        dst.stride[0] = b ? d1 - d0 : c1 - c0, dst.split = to;
        dst.acc[1] = NULL, dst.theta[1] = NULL;
    }
    if (!(step > 0) || t->slots > COLS_BLOCK) /* the sums are whole after one call only */
        dst.theta[0] = dst.theta[1] = NULL;
    int spent = 0;
    for (int64_t i = 0; i < t->slots; i += COLS_BLOCK) {
        int n = (int)(t->slots - i < COLS_BLOCK ? t->slots - i : COLS_BLOCK);
        spent = exact_input_cols(&dst, t->D + i, (int)t->slots, step_rows(t, pos) + i, n, n_out,
                                 from, to, &s->cols);
    }
    return spent;
}

/* first_step: the first layer's learning step for count examples, in its sums' units
 * (2^-32 / EXACT_INPUT_DIV); 0 when the step diverged. */
static double first_step(double lr, int64_t count)
{
    return count > 0 ? lr / (double)count / EXACT_INPUT_DIV : 0;
}

/* update_first: theta <- theta - eta * (summed gradient / examples) for this thread's
 * columns of the first layer's weights (those whose sums it formed), clearing the sums;
 * count <= 0 (a diverged step): the sums cleared, no update. */
static void update_first(Trainer *t, double lr, int64_t count, int tid, int threads)
{
    const Layout *lay = &t->model.layout;
    double step = first_step(lr, count);
    Share sh = share_of(tid, threads);
    for (int b = sh.b0; b < sh.b1; b++) {
        int c0, c1, cs, ce;
        size_t off = layout_block(lay, b, &c0, &c1);
        share_cols(lay, b, sh, &cs, &ce);
        int whole = cs == 0 && ce == c1 - c0; /* the block's rows are one range */
        size_t rows = whole ? 1 : (size_t)lay->n[1];
        size_t len = whole ? (size_t)lay->n[1] * (size_t)(c1 - c0) : (size_t)(ce - cs);
        for (size_t j = 0; j < rows; j++) {
            size_t at = off + j * (size_t)(c1 - c0) + (size_t)cs;
            if (count > 0)
                exact_descend(t->model.params + at, t->sum + at, len, step, &t->fixed);
            else
                memset(t->sum + at, 0, sizeof *t->sum * len);
        }
    }
}

/* update_rest: the same for this thread's slice of the parameters after the first layer's
 * weights (exact), or of all parameters (float). */
static void update_rest(Trainer *t, double lr, int64_t count, int tid, int threads)
{
    size_t np = t->model.layout.n_params, lo = 0;
    Real *p = t->model.params;
    double step = count > 0 ? lr / (double)count : 0;
    if (t->cfg->reduction == REDUCTION_EXACT)
        lo = t->model.layout.b_off[1];
    size_t i0, i1;
    rest_range(lo, np, tid, threads, &i0, &i1);
    if (t->cfg->reduction != REDUCTION_EXACT) {
        const Real rs = (Real)step;
        size_t i = i0;
        for (; i + 64 <= i1; i += 64) { /* the sums' lines claimed ahead: see exact_descend */
            for (size_t k = i + 256; k < i + 320 && k < i1; k += 64 / sizeof(Real))
                __builtin_prefetch(t->fsum + k, 1, 3); /* only this thread's slice */
            Real *restrict th = p + i, *restrict su = t->fsum + i;
            for (size_t k = 0; k < 64; k++) {
                th[k] -= rs * su[k];
                su[k] = 0;
            }
        }
        for (; i < i1; i++) {
            p[i] -= rs * t->fsum[i];
            t->fsum[i] = 0;
        }
    } else if (count > 0) {
        exact_descend(p + i0, t->sum + i0, i1 - i0, step, &t->fixed);
    } else {
        memset(t->sum + i0, 0, sizeof *t->sum * (i1 - i0));
    }
}

/* add_requests: this rank's stop/checkpoint requests into the step sums. */
static void add_requests(Trainer *t, int requests)
{
    size_t np = t->model.layout.n_params;
    t->sum[np + SUM_STOP] = t->fsum[np + SUM_STOP] = (requests & STEP_STOP) != 0;
    t->sum[np + SUM_CKPT] = t->fsum[np + SUM_CKPT] = (requests & STEP_CHECKPOINT) != 0;
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

void trainer_restore(Trainer *t, const Real *params, int64_t step, double epoch_cost,
                     int64_t epoch_count, double lr_scale)
{
    t->lr_scale = lr_scale;
    memcpy(t->model.params, params, t->model.layout.n_params * sizeof(Real));
    t->step = step;
    t->epoch_cost = epoch_cost;
    t->epoch_count = epoch_count;
    t->shuffled_epoch = -1; /* the lane order is rebuilt from (seed, epoch, lane) */
    t->ahead = -1;          /* block sums formed ahead are of other weights */
    for (int k = 0; k < t->threads; k++)
        t->ts[k].loaded = -1;
}

/* What the step's collective decided, for every thread of the step. */
typedef struct {
    int64_t count; /* examples in the global batch; <= 0: no update (diverged) */
    double cost;   /* the batch's summed cost */
    int agreed;    /* requests of any rank, and STEP_DIVERGED */
} StepResult;

/* step_local: one rank, exact sums: the step's result, read from the threads' sums of the
 * examples by every thread alike (each zeroes its own when it starts the next step). */
static StepResult step_local(const Trainer *t, int requests)
{
    size_t np = t->model.layout.n_params;
    int64_t e[SUM_EXTRA] = {0};
    for (int k = 0; k < t->threads; k++)
        for (int q = 0; q < SUM_EXTRA; q++)
            e[q] += t->ts[k].acc[np + q];
    StepResult r = {e[SUM_COUNT], exact_value(e[SUM_COST], &t->fixed), requests};
    if (e[SUM_BAD] || r.count <= 0) {
        r.count = -1;
        r.agreed |= STEP_DIVERGED;
    }
    return r;
}

/* step_finish_local: one rank, exact sums, after every thread's chunks: this thread's
 * columns of the first layer's gradient and their update, then its slice of the rest,
 * combined and updated: no thread waits for another. Returns the step's examples (<= 0:
 * diverged, no update). */
static int64_t step_finish_local(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                                 double lr, int requests, StepResult *r)
{
    double clock = timer_now();
    StepResult mine = step_local(t, requests);
    if (tid == 0)
        *r = mine;
    int spent = first_layer(t, s, tid, threads, pos, first_step(lr, mine.count));
    timer_add(&s->times, PHASE_BACKWARD, &clock);
    if (!spent)
        update_first(t, lr, mine.count, tid, threads);
    timer_add(&s->times, PHASE_UPDATE, &clock);
    combine_slice(t, t->model.layout.b_off[1], t->model.layout.n_params, tid, threads);
    timer_add(&s->times, PHASE_COMBINE, &clock);
    update_rest(t, lr, mine.count, tid, threads);
    timer_add(&s->times, PHASE_UPDATE, &clock);
    return mine.count;
}

/* step_sums: after every thread's chunks: this thread's columns of the first layer's
 * gradient (exact) and its slice of the combined sums of the rest. */
static void step_sums(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos)
{
    double clock = timer_now();
    size_t np = t->model.layout.n_params, w1 = 0;
    if (t->cfg->reduction == REDUCTION_EXACT) {
        first_layer(t, s, tid, threads, pos, 0);
        timer_add(&s->times, PHASE_BACKWARD, &clock);
        w1 = t->model.layout.b_off[1];
    }
    if (t->cfg->reduction == REDUCTION_EXACT || t->threads > 1)
        combine_slice(t, w1, np + SUM_EXTRA, tid, threads);
    timer_add(&s->times, PHASE_COMBINE, &clock);
}

/* step_reduce: the master thread's part: totals, requests, the one collective of the step;
 * a diverged step's sums are cleared. */
static void step_reduce(Trainer *t, int requests, StepResult *r)
{
    double clock = timer_now();
    combine_threads(t);
    add_requests(t, requests);
    timer_add(&t->times, PHASE_COMBINE, &clock);
    comm_set_phase("the gradient allreduce", t->step + 1);
    r->count = reduce_step(t, &r->cost);
    r->agreed = agreed_requests(t);
    if (r->count <= 0) { /* every rank saw the same sums, so all agree without a message */
        clear_gradient(t);
        r->agreed |= STEP_DIVERGED;
    }
    timer_add(&t->times, PHASE_ALLREDUCE, &clock);
}

/* What every thread of a step knows alike. */
typedef struct {
    int64_t step, pos, epoch;
    double lr;
    int exact, local; /* exact sums; exact sums on one rank (no collective) */
    int formed;       /* this step's block sums were formed by the step before */
    int ahead;        /* the next step's block sums can be formed (same epoch) */
    int fetched;      /* the next step's rows were asked for by the step before */
    int ahead2;       /* the rows of the step after next can be asked for (same epoch) */
} StepPlan;

/* plan_step: the plan of step `step`, given the steps whose block sums were formed and whose
 * rows were asked for ahead (-1: none). */
static StepPlan plan_step(const Trainer *t, int64_t step, int64_t formed_step,
                          int64_t fetched_step)
{
    StepPlan p = {.step = step, .pos = step % t->steps_per_epoch,
                  .epoch = step / t->steps_per_epoch};
    p.lr = schedule_lr(t->cfg, step, t->steps_per_epoch) * t->lr_scale;
    p.exact = t->cfg->reduction == REDUCTION_EXACT;
    p.local = t->ranks == 1 && p.exact;
    p.formed = p.exact && formed_step == step;
    p.ahead = p.exact && p.pos + 1 < t->steps_per_epoch;
    p.fetched = fetched_step == step + 1;
    p.ahead2 = p.exact && p.pos + 2 < t->steps_per_epoch;
    return p;
}

/* step_body: thread tid's part of step p, inside the steps' parallel region; r is the
 * step's result (written by the master; every thread reads it after the step's end). */
static void step_body(Trainer *t, int tid, int threads, const StepPlan *p, int requests,
                      StepResult *r)
{
    ThreadState *s = &t->ts[tid]; /* each thread writes only what it owns */
    if (p->exact && !p->formed) {
        first_forward(t, s, tid, threads, p->pos, p->step);
        barrier_wait(t->barrier, threads);
    }
    if (p->ahead && !p->fetched)
        fetch_ahead(t, tid, threads, p->pos + 1);
    thread_gradients(t, s, tid, threads, p->pos);
    long mid = barrier_arrive(t->barrier, threads);
    /* until the others' chunks are done: work that needs nothing of theirs */
    if (p->local && p->ahead && tid % 2 == 1 && odd_ahead(t, threads)) /* see odd_ahead */
        load_ahead(t, s, tid, threads, p->pos + 1, p->step + 1);
    if (p->exact)
        first_pack(t, s, tid, threads, p->pos);
    barrier_wait_for(t->barrier, mid);
    int64_t count;
    if (p->local) {
        count = step_finish_local(t, s, tid, threads, p->pos, p->lr, requests, r);
    } else {
        step_sums(t, s, tid, threads, p->pos);
        barrier_wait(t->barrier, threads);
        if (tid == 0)
            step_reduce(t, requests, r);
        else if (p->ahead) /* while the master is in the allreduce */
            load_ahead(t, s, tid, threads, p->pos + 1, p->step + 1);
        barrier_wait(t->barrier, threads);
        double c0 = timer_now();
        count = r->count;
        if (count > 0 && p->exact)
            update_first(t, p->lr, count, tid, threads);
        if (count > 0)
            update_rest(t, p->lr, count, tid, threads);
        timer_add(&s->times, PHASE_UPDATE, &c0);
    }
    /* the next step's block sums need only this thread's blocks of W1: with one or two
     * threads it updated them alone just now (the step's end is the wait); with more, a
     * block's columns are shared, so all of them must be updated first */
    if (p->ahead && count > 0 && threads > 2)
        barrier_wait(t->barrier, threads);
    if (p->ahead && count > 0)
        first_forward(t, s, tid, threads, p->pos + 1, p->step + 1);
    if (threads > 1) /* the values after W1 another thread updated: asked for well before
                      * the next step's forward pass reads them */
        for (size_t i = t->model.layout.b_off[1]; i < t->model.layout.n_params; i += 16)
            __builtin_prefetch(t->model.params + i, 0, 3);
}

/* step_done: the master's bookkeeping of a finished step. */
static void step_done(Trainer *t, const StepPlan *p, const StepResult *r, int *agreed)
{
    t->ahead = p->ahead && r->count > 0 ? p->step + 1 : -1;
    *agreed = r->agreed;
    if (r->count <= 0)
        return;
    t->epoch_cost += r->cost;
    t->epoch_count += r->count;
    t->step = p->step + 1;
}

int trainer_steps(Trainer *t, int64_t n, StepPoll poll, void *ctx, int *agreed, Err *e)
{
    (void)e;
    *agreed = 0;
    StepResult r = {0};
    barrier_reset(t->barrier);
    /* one parallel region for all n steps: a barrier ends each step (a region's start and
     * end cost about three barriers) */
#pragma omp parallel num_threads(t->threads)
    {
        int tid = omp_get_thread_num(), threads = omp_get_num_threads();
        int64_t step = t->step, formed = t->ahead, shuffled = t->shuffled_epoch, fetched = -1;
        for (int64_t k = 0; k < n; k++) {
            StepPlan p = plan_step(t, step, formed, fetched);
            if (p.epoch != shuffled) {
                double clock = timer_now();
                shuffle_lanes(t, p.epoch);
                shuffled = p.epoch;
                if (tid == 0) {
                    t->shuffled_epoch = p.epoch;
                    timer_add(&t->times, PHASE_DATA, &clock);
                }
            }
            int requests = tid == 0 && poll ? poll(ctx) : 0;
            step_body(t, tid, threads, &p, requests, &r);
            long end = barrier_arrive(t->barrier, threads);
            if (p.ahead2) /* until the others are done: the step after next's rows */
                fetch_ahead(t, tid, threads, p.pos + 2);
            barrier_wait_for(t->barrier, end);
            fetched = p.ahead2 ? step + 2 : -1;
            /* every thread reads the step's result before the master can write the next
             * one (after the next step's first barrier) and decides alike */
            int64_t count = r.count;
            int agreed_now = r.agreed;
            if (tid == 0)
                step_done(t, &p, &r, agreed);
            formed = p.ahead && count > 0 ? step + 1 : -1;
            step += count > 0;
            if (agreed_now)
                break;
        }
    }
    return 0;
}

/* fixed_requests: a StepPoll that always returns *(int *)ctx. */
static int fixed_requests(void *ctx)
{
    return *(const int *)ctx;
}

int trainer_step(Trainer *t, int requests, int *agreed, Err *e)
{
    return trainer_steps(t, 1, fixed_requests, &requests, agreed, e);
}

void trainer_take_times(Trainer *t, PhaseTimes *out)
{
    *out = t->times;
    for (int p = 0; p < PHASE_COUNT; p++) {
        double slowest = 0; /* thread phases overlap in time: the slowest thread counts */
        for (int k = 0; k < t->threads; k++) {
            double v = t->ts[k].times.seconds[p];
            slowest = v > slowest ? v : slowest;
            t->ts[k].times.seconds[p] = 0;
        }
        out->seconds[p] += slowest;
    }
    memset(&t->times, 0, sizeof t->times);
}

double trainer_take_epoch_cost(Trainer *t)
{
    double mean = t->epoch_count ? t->epoch_cost / (double)t->epoch_count : 0;
    t->epoch_cost = 0;
    t->epoch_count = 0;
    return mean;
}
