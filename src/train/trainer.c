/* trainer.c: setting up a trainer (shapes, memory, data, per-thread buffers) and freeing
 * it; restoring it from a checkpoint; taking its times and epoch cost. The steps: step.c. */
#include "train/train.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/packed.h"
#include "core/hash.h"
#include "core/rng.h"
#include "exact/exact_wide.h"
#include "train/shares.h"
#include "train/wide_layer.h"

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
    /* per thread: a gradient and exact sums, and scratch for up to COLS_BLOCK examples */
    double per_thread = np * (sizeof(Real) + 8.0) + (double)COLS_BLOCK * 2 * acts * sizeof(Real);
    /* per lane: its deltas (int64) and block sums; per training row: pixels, label, shuffled
     * position (int64) and its entry of epoch_rows */
    double lane_bytes = (double)t->lanes / P * ((8.0 + 2 * sizeof(Real)) * lay.n[1]);
    for (int l = 2; l < lay.n_layers; l++) /* a wide layer's table: A int16, D' int64 by lane */
        if (exact_wide_layer(l, lay.n[l - 1])) {
            double row = 2.0 * lay.n[l - 1] + 8.0 * lay.n[l];
            lane_bytes += (double)t->lanes / P * row;
            per_thread += (double)COLS_BLOCK * 2 * row; /* its kernels' scratch, about */
        }
    double vectors = t->cfg->momentum != 0 ? 4 : 3; /* 3 * np Reals, and the velocity */
    double bytes = train_rows * (dim + 1 + 8 + 8) + test_rows * (dim + 1) +
                   vectors * np * sizeof(Real) +
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
        s->inputs_step = -1;
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
    if (!t->D || !t->epoch_rows || !t->part || wide_init(t, e) != 0)
        return -1;
    t->barrier = barrier_new(e);
    t->sum = alloc_array(np + SUM_EXTRA, sizeof(int64_t), "step sums", e);
    t->fsum = alloc_array(np + SUM_EXTRA, sizeof(Real), "float step sums", e);
    if (t->cfg->momentum != 0 &&
        !(t->velocity = alloc_array(np, sizeof(Real), "momentum velocity", e)))
        return -1;
    t->order = alloc_array((size_t)(t->train.rows ? t->train.rows : 1), sizeof(int64_t),
                           "lane order", e);
    t->sum_blocks = packed_blocks(np) + SUM_BUCKETS_MAX; /* each bucket: one part block */
    t->sum_peaks = alloc_array(3 * t->sum_blocks, sizeof *t->sum_peaks, "bucket peaks", e);
    t->sum_widths = alloc_array(t->sum_blocks, 1, "bucket widths", e);
    return t->barrier && t->sum && t->fsum && t->order && t->sum_peaks && t->sum_widths ? 0
                                                                                        : -1;
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
    NetKind kind = {.hidden = c->activation, .output = c->output, .cost = c->cost};
    int status = model_init_kind(&t->model, c->layers, c->n_layers, c->seed, &kind, c->init, e);
    if (status == 0 && t->model.layout.n_params + SUM_EXTRA > INT_MAX)
        status = err_set(e, "model.layers: %zu parameters exceed the %d one reduction can "
                            "carry", t->model.layout.n_params, INT_MAX - SUM_EXTRA);
    if (status == 0)
        status = alloc_threads(t, e);
    t->fixed = exact_fixed(t->lanes); /* the first layer's sums have a term per example */
    t->shuffled_epoch = -1;
    t->formed_step = -1;
    t->lr_scale = 1.0;
    if (comm_check(status, e) != 0)
        return -1;
    t->fingerprint = data_fingerprint(&t->train);
    return 0;
}

void trainer_free(Trainer *t)
{
    wide_free(t);
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
    free(t->velocity);
    free(t->fsum);
    free(t->sum);
    free(t->sum_peaks);
    free(t->sum_widths);
    model_free(&t->model);
    data_free(&t->test);
    data_free(&t->train);
    memset(t, 0, sizeof *t);
}

void trainer_restore(Trainer *t, const Real *params, const Real *velocity, int64_t step,
                     double epoch_cost, int64_t epoch_count, double lr_scale)
{
    size_t bytes = t->model.layout.n_params * sizeof(Real);
    t->lr_scale = lr_scale;
    memcpy(t->model.params, params, bytes);
    if (t->velocity && velocity)
        memcpy(t->velocity, velocity, bytes);
    else if (t->velocity)
        memset(t->velocity, 0, bytes);
    t->step = step;
    t->epoch_cost = epoch_cost;
    t->epoch_count = epoch_count;
    t->shuffled_epoch = -1; /* the lane order is rebuilt from (seed, epoch, lane) */
    t->formed_step = -1;    /* block sums formed ahead are of other weights */
    for (int k = 0; k < t->threads; k++)
        t->ts[k].inputs_step = -1;
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
