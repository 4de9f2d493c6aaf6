/* test_reference (MPI): the engine against the reference step (src/reference/step_ref.c),
 * bit for bit. Each case trains on Fashion-MNIST at this launch's ranks and threads (and
 * DOWNHILL_AMX as set) while rank 0 runs the reference step on the same batches; after every
 * step the weights (in the files' order), the step's summed cost and its example count must
 * be identical. Cases: batch 10 and 64, exact groups of 1 and 4, a short last batch, full
 * batch, layer widths and batches that leave remainders in every kernel, wide layers
 * (784-128-128-10, 784-130-67-10, 784-64-64-10, 784-96-80-10: their weights summed in
 * integers, exact_wide.h) on a few steps of each kind, the update rules (momentum, Nesterov,
 * weight decay; the velocity compared too), and networks of other kinds (tanh, relu, softmax,
 * cross-entropy, each initialisation). Exit 77 (skip) in builds
 * whose kernels follow another arithmetic than the reference's (see docs/DESIGN.md). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comm/comm.h"
#include "reference/step_ref.h"
#include "run/config.h"
#include "train/schedule.h"
#include "train/train.h"

typedef struct {
    const char *name;
    int batch, group;    /* train.batch_size (0: full batch) and train.exact_group */
    const char *sets[9]; /* other --set overrides on top of the test's base config */
    int64_t max_steps;   /* at most this many steps (0: every step of the run) */
} Case;

/* 1,000 examples: batch 64 ends each epoch with 40 examples (24 short lanes) */
static const Case cases[] = {
    {"batch 64", 64, 1, {"train.epochs=2"}, 0},
    {"batch 10", 10, 1, {"train.epochs=1"}, 40},
    {"batch 64, groups of 4", 64, 4, {"train.epochs=2"}, 0},
    {"batch 32, layers 784,30,13,10", 32, 1, {"model.layers=784,30,13,10", "train.epochs=1"}, 24},
    /* 9 examples per rank at 4 ranks: a chunk's last examples outside the blocks of four */
    {"batch 36, layers 784,24,24,10", 36, 1, {"model.layers=784,24,24,10", "train.epochs=1"}, 12},
    /* wide layers: the register-blocked kernels (and their tails at 130 and 67 units) */
    {"batch 64, layers 784,128,128,10", 64, 1, {"model.layers=784,128,128,10", "train.epochs=1"},
     4},
    {"batch 36, layers 784,130,67,10", 36, 1,
     {"model.layers=784,130,67,10", "train.epochs=1"}, 3},
    {"batch 36, layers 784,130,67,10, groups of 3", 36, 3,
     {"model.layers=784,130,67,10", "train.epochs=1"}, 3},
    {"full batch of 600", 0, 1, {"data.train_limit=600", "train.epochs=4"}, 0},
    /* the update rules: every value of the velocity compared too */
    {"batch 64, Nesterov momentum and weight decay", 64, 1,
     {"train.epochs=2", "train.momentum=0.5", "train.nesterov=true", "train.weight_decay=0.001",
      "train.learning_rate=1.5"}, 0},
    {"batch 10, heavy ball", 10, 1,
     {"train.epochs=1", "train.momentum=0.9", "train.learning_rate=0.3"}, 40},
    {"batch 32, weight decay alone, layers 784,30,13,10", 32, 1,
     {"model.layers=784,30,13,10", "train.epochs=1", "train.weight_decay=0.01"}, 24},
    /* other kinds; 13 and 12 hidden units: AVX-512's own hidden-delta kernel (<= 16 inputs) */
    {"relu, softmax, cross-entropy, layers 784,30,13,10", 32, 1,
     {"model.layers=784,30,13,10", "model.activation=relu", "model.output=softmax",
      "model.cost=cross_entropy", "train.learning_rate=0.1", "train.epochs=2"}, 40},
    {"tanh, sigmoid, cross-entropy, groups of 4, layers 784,24,12,10", 64, 4,
     {"model.layers=784,24,12,10", "model.activation=tanh", "model.cost=cross_entropy",
      "train.learning_rate=0.5", "train.epochs=2"}, 0},
    {"sigmoid, softmax, quadratic, init glorot", 10, 1,
     {"model.output=softmax", "model.init=glorot", "train.epochs=1"}, 40},
    {"relu, sigmoid, quadratic, init normal, full batch of 600", 0, 1,
     {"model.activation=relu", "model.init=normal", "data.train_limit=600",
      "train.learning_rate=0.5", "train.epochs=3"}, 0},
    /* wide layers (>= 64 inputs) summed in integers per example: each kind, groups, the
     * update rules, full batch */
    {"sigmoid, batch 64, layers 784,64,64,10", 64, 1,
     {"model.layers=784,64,64,10", "train.epochs=1"}, 4},
    {"tanh, cross-entropy, batch 64, groups of 4, layers 784,96,80,10", 64, 4,
     {"model.layers=784,96,80,10", "model.activation=tanh", "model.cost=cross_entropy",
      "train.learning_rate=0.5", "train.epochs=1"}, 4},
    {"relu, softmax, cross-entropy, Nesterov, weight decay, batch 64, layers 784,96,80,10", 64,
     1, {"model.layers=784,96,80,10", "model.activation=relu", "model.output=softmax",
         "model.cost=cross_entropy", "train.learning_rate=0.05", "train.momentum=0.9",
         "train.nesterov=true", "train.weight_decay=0.0001", "train.epochs=1"}, 4},
    {"relu, full batch of 600, layers 784,64,64,10", 0, 1,
     {"model.layers=784,64,64,10", "model.activation=relu", "data.train_limit=600",
      "train.learning_rate=0.2", "train.epochs=2"}, 0},
    /* a wide relu network: the register-blocked hidden deltas with relu's derivative */
    {"relu, softmax, cross-entropy, batch 36, layers 784,130,67,10", 36, 1,
     {"model.layers=784,130,67,10", "model.activation=relu", "model.output=softmax",
      "model.cost=cross_entropy", "train.learning_rate=0.1", "train.epochs=1"}, 3},
};

/* file_order: values in the engine's parameter layout (weights or velocity) in the files'
 * order (W1 row-major) into out. */
static void file_order(const Layout *lay, const Real *values, Real *out)
{
    layout_w1_export(lay, values, out);
    memcpy(out + lay->b_off[1], values + lay->b_off[1],
           (lay->n_params - lay->b_off[1]) * sizeof(Real));
}

/* first_difference: index of the first parameter whose bits differ, or -1. */
static int64_t first_difference(const Real *a, const Real *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(Real)) != 0)
            return (int64_t)i;
    return -1;
}

/* ref_batch_of: the reference's batch for update `step` of trainer t's run, from the whole
 * training set (images, labels). */
static void ref_batch_of(const Trainer *t, const uint8_t *images, const uint8_t *labels,
                         int64_t step, RefBatch *b)
{
    int64_t epoch = step / t->steps_per_epoch, pos = step % t->steps_per_epoch;
    int dim = t->model.layout.n[0];
    uint8_t *lab = (uint8_t *)b->labels;
    for (int64_t lane = 0; lane < b->lanes; lane++) {
        int64_t x = ref_lane_example(t->n_train, b->lanes, t->cfg->seed, epoch, lane, pos);
        b->rows[lane] = x < 0 ? NULL : images + (size_t)x * (size_t)dim;
        lab[lane] = x < 0 ? 0 : labels[x];
    }
}

/* compare: rank 0's check of the engine after a step against the reference; 1 on a
 * difference (said on stderr). */
static int compare(const char *name, int64_t step, const Trainer *t, const RefNet *ref,
                   const RefOptim *opt, Real *engine, const RefResult *r, double engine_cost,
                   int64_t engine_count)
{
    file_order(&t->model.layout, t->model.params, engine);
    int64_t at = first_difference(engine, ref->params, ref->n_params);
    double ref_cost = (double)r->cost / 4294967296.0;
    long long s = (long long)step + 1;
    if (!CHECK(at < 0, "%s: after step %lld: parameter %lld is %.9g (engine), %.9g (reference)",
               name, s, (long long)at, at < 0 ? 0.0 : (double)engine[at],
               at < 0 ? 0.0 : (double)ref->params[at]))
        return 1;
    if (t->velocity) {
        file_order(&t->model.layout, t->velocity, engine);
        at = first_difference(engine, opt->velocity, ref->n_params);
        if (!CHECK(at < 0, "%s: after step %lld: velocity %lld is %.9g (engine), %.9g "
                           "(reference)", name, s, (long long)at,
                   at < 0 ? 0.0 : (double)engine[at], at < 0 ? 0.0 : (double)opt->velocity[at]))
            return 1;
    }
    return !CHECK(engine_cost == ref_cost && engine_count == (r->diverged ? 0 : r->count),
                  "%s: after step %lld: cost %.17g / %lld examples (engine), %.17g / %lld "
                  "(reference%s)", name, s, engine_cost, (long long)engine_count, ref_cost,
                  (long long)r->count, r->diverged ? ", diverged" : "");
}

/* run_case: trains case c on this launch's ranks and threads, comparing after every step;
 * returns 1 on a failure (collective). */
static int run_case(const Case *c, int rank, int ranks, const char *fashion)
{
    Config cfg;
    Err e = {{0}};
    char set[CONFIG_PATH_MAX + 64];
    config_defaults(&cfg);
    const char *base[] = {"data.train_limit=1000", "data.test_limit=100", "train.learning_rate=3",
                          "train.schedule=cosine"};
    int fail = 0;
    const char *files[][2] = {{"data.train_images", "train-images-idx3-ubyte.gz"},
                              {"data.train_labels", "train-labels-idx1-ubyte.gz"},
                              {"data.test_images", "t10k-images-idx3-ubyte.gz"},
                              {"data.test_labels", "t10k-labels-idx1-ubyte.gz"}};
    for (int i = 0; i < 4; i++) {
        snprintf(set, sizeof set, "%s=%s/%s", files[i][0], fashion, files[i][1]);
        fail |= config_set(&cfg, set, &e) != 0;
    }
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        fail |= config_set(&cfg, base[i], &e) != 0;
    snprintf(set, sizeof set, "train.batch_size=%d", c->batch);
    fail |= config_set(&cfg, set, &e) != 0;
    snprintf(set, sizeof set, "train.exact_group=%d", c->group);
    fail |= config_set(&cfg, set, &e) != 0;
    for (int i = 0; i < 9 && c->sets[i]; i++)
        fail |= config_set(&cfg, c->sets[i], &e) != 0;
    fail |= config_validate(&cfg, &e) != 0;
    Trainer t;
    if (fail || trainer_init(&t, &cfg, rank, ranks, omp_get_max_threads(), &e) != 0) {
        if (rank == 0)
            CHECK(0, "%s: set-up: %s", c->name, e.msg);
        return 1;
    }
    RefNet ref = {0};
    Dataset all = {0};
    Real *engine = NULL;
    RefBatch b = {.lanes = t.lanes, .group = t.group};
    RefOptim opt = {.momentum = cfg.momentum, .weight_decay = cfg.weight_decay,
                    .nesterov = cfg.nesterov};
    if (rank == 0) {
        Shard whole = shard_block(t.n_train, 0, 1);
        fail |= data_load(cfg.train_images, cfg.train_labels, &whole,
                          cfg.layers[cfg.n_layers - 1], &all, &e) != 0;
        NetKind kind = {.hidden = cfg.activation, .output = cfg.output, .cost = cfg.cost};
        fail |= ref_net_init_kind(&ref, cfg.layers, cfg.n_layers, cfg.seed, &kind, cfg.init,
                                  &e) != 0;
        engine = malloc(sizeof(Real) * t.model.layout.n_params);
        b.rows = malloc(sizeof *b.rows * (size_t)b.lanes);
        b.labels = malloc((size_t)b.lanes);
        opt.velocity = calloc(t.model.layout.n_params, sizeof(Real));
        fail |= !engine || !b.rows || !b.labels || !opt.velocity;
        if (fail)
            CHECK(0, "%s: reference set-up: %s", c->name, e.msg);
        RefResult none = {0};
        fail = fail || compare(c->name, -1, &t, &ref, &opt, engine, &none, 0, 0);
    }
    int64_t steps = cfg.epochs * t.steps_per_epoch;
    if (c->max_steps > 0 && c->max_steps < steps)
        steps = c->max_steps;
    for (int64_t s = 0; s < steps && comm_agree(fail) < 0; s++) {
        int agreed;
        double cost0 = t.epoch_cost;
        int64_t count0 = t.epoch_count;
        if (trainer_step(&t, 0, &agreed, &e) != 0)
            fail = 1;
        if (rank == 0 && !fail) {
            ref_batch_of(&t, all.images, all.labels, s, &b);
            double lr = schedule_lr(&cfg, s, t.steps_per_epoch);
            RefResult r = ref_step_optim(&ref, &b, lr, &opt);
            fail = compare(c->name, s, &t, &ref, &opt, engine, &r, t.epoch_cost - cost0,
                           t.epoch_count - count0);
            if (!fail) /* these runs must not diverge */
                fail = !CHECK(!r.diverged, "%s: step %lld diverged", c->name, (long long)s + 1);
        }
    }
    fail = comm_agree(fail) >= 0;
    if (rank == 0)
        printf("test_reference: %s: %lld steps at %d ranks x %d threads: %s\n", c->name,
               (long long)steps, ranks, t.threads, fail ? "DIFFERENT" : "identical");
    free(engine);
    free(opt.velocity);
    free(b.rows);
    free((void *)b.labels);
    ref_net_free(&ref);
    data_free(&all);
    trainer_free(&t);
    return fail;
}

int main(int argc, char **argv)
{
    int rank, ranks, fail = 0;
    comm_init(&argc, &argv, &rank, &ranks);
    const char *fashion = getenv("FASHION_DIR");
    if (!ref_matches_build()) {
        if (rank == 0)
            printf("skip: this build's kernels follow another arithmetic than the reference "
                   "step's (%s)\n", ref_build_arithmetic());
        comm_finalize();
        return 77;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases && !fail; i++) {
        const Case *c = &cases[i];
        if (c->batch % (ranks * c->group) != 0) { /* the engine refuses such a batch */
            if (rank == 0)
                printf("test_reference: %s: not at %d ranks\n", c->name, ranks);
            continue;
        }
        fail |= run_case(&cases[i], rank, ranks, fashion ? fashion
                                                         : "/usr/share/datasets/fashion-mnist");
    }
    comm_finalize();
    return fail;
}
