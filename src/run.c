/* run.c: the training and evaluation runs behind `downhill train` and `downhill eval`. */
#include "run.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "h5io.h"

#define EVAL_CHUNK 256

/* print_header: the resolved configuration and the machine shape (rank 0). */
static void print_header(FILE *log, const Config *c, const Trainer *t)
{
    if (!log)
        return;
    char *ini = config_to_ini(c);
    fprintf(log, "downhill %s: training\n# resolved configuration\n%s\n", DOWNHILL_VERSION,
            ini ? ini : "(out of memory)\n");
    free(ini);
    fprintf(log, "ranks: %d, threads per rank: %d, parameters: %zu (%s), reduction: %s\n",
            t->ranks, t->threads, t->model.layout.n_params, REAL_NAME,
            config_reduction_name(c->reduction));
    fprintf(log, "training examples: %lld, test examples: %lld, batch: %lld (%lld steps per "
                 "epoch), exact groups of %lld lanes\n",
            (long long)t->n_train, (long long)t->test.shard.n, (long long)t->lanes,
            (long long)t->steps_per_epoch, (long long)t->group);
    fprintf(log, "%6s %12s %12s %9s %9s %12s\n", "epoch", "train_cost", "test_cost",
            "test_acc", "seconds", "samples/s");
    fflush(log);
}

/* record: rank 0 appends the epoch's row and the weights to the run file and prints the
 * row; every rank learns whether the write worked. */
static int record(const Trainer *t, H5Run *run, const HistoryRow *row, FILE *log, Err *e)
{
    int status = 0;
    if (run) {
        status = h5run_write_model(run, t->model.params, e);
        if (status == 0)
            status = h5run_append_history(run, row, e);
    }
    if (log) {
        fprintf(log, "%6lld %12.6f %12.6f %9.4f %9.3f %12.0f\n", (long long)row->epoch,
                row->train_cost, row->test_cost, row->test_accuracy, row->seconds,
                row->samples_per_second);
        fflush(log);
    }
    return comm_check(status, e);
}

/* open_run_file: rank 0 creates the run file; all ranks agree on the outcome. */
static int open_run_file(const Config *c, const Trainer *t, H5Run **run, Err *e)
{
    int status = 0;
    if (t->rank == 0) {
        char *ini = config_to_ini(c);
        RunAttrs attrs = {ini ? ini : "", t->ranks, t->threads, c->seed};
        status = h5run_create(c->output_file, &attrs, &t->model.layout, run, e);
        free(ini);
    }
    return comm_check(status, e);
}

/* initial_row: epoch 0, the scores of the initialised model. */
static int initial_row(Trainer *t, Workspace *ws, HistoryRow *row, Err *e)
{
    Score train, test;
    if (evaluate(&t->model, &t->train, ws, t->threads, &train, e) != 0 ||
        evaluate(&t->model, &t->test, ws, t->threads, &test, e) != 0)
        return -1;
    *row = (HistoryRow){0, train.cost, test.cost, test.accuracy, 0, 0};
    return 0;
}

/* train_epoch: the steps of one epoch, then the test score; fills the epoch's row. */
static int train_epoch(Trainer *t, Workspace *ws, int64_t epoch, HistoryRow *row, Err *e)
{
    double t0 = comm_time();
    for (int64_t s = 0; s < t->steps_per_epoch; s++)
        if (trainer_step(t, e) != 0)
            return -1;
    double t1 = comm_time();
    Score test;
    if (evaluate(&t->model, &t->test, ws, t->threads, &test, e) != 0)
        return -1;
    double seconds = comm_time() - t0;
    *row = (HistoryRow){epoch, trainer_take_epoch_cost(t), test.cost, test.accuracy, seconds,
                        (double)t->n_train / (t1 - t0)};
    return 0;
}

/* check_replicas: every rank must hold the same weights; returns their hash. */
static int check_replicas(const Trainer *t, uint64_t *hash, Err *e)
{
    uint64_t h = model_hash(&t->model), lo = comm_min_u64(h), hi = comm_max_u64(h);
    *hash = h;
    if (lo == hi)
        return 0;
    err_set(e, "ranks ended with different weights (hashes %016llx .. %016llx): "
               "this is a bug, please report it", (unsigned long long)lo,
            (unsigned long long)hi);
    return comm_check(t->rank == 0, e);
}

/* run_epochs: epoch 0 (the initial model), then c->epochs epochs of training. */
static int run_epochs(Trainer *t, H5Run *run, FILE *log, TrainSummary *out, Err *e)
{
    Workspace *ws = calloc((size_t)t->threads, sizeof *ws);
    int status = ws ? 0 : err_set(e, "out of memory for evaluation workspaces");
    for (int i = 0; status == 0 && i < t->threads; i++)
        status = workspace_init(&ws[i], &t->model.layout, EVAL_CHUNK, e);
    if (comm_check(status, e) != 0)
        goto done;
    HistoryRow row;
    status = initial_row(t, ws, &row, e);
    if (status == 0)
        status = record(t, run, &row, log, e);
    for (int64_t ep = 1; status == 0 && ep <= t->cfg->epochs; ep++) {
        status = train_epoch(t, ws, ep, &row, e);
        if (status == 0)
            status = record(t, run, &row, log, e);
    }
    if (status == 0) {
        out->epochs = row.epoch;
        out->train_cost = row.train_cost;
        out->test = (Score){row.test_cost, row.test_accuracy, t->test.shard.n};
        status = check_replicas(t, &out->hash, e);
    }
done:
    for (int i = 0; ws && i < t->threads; i++)
        workspace_free(&ws[i]);
    free(ws);
    return status;
}

int train_run(const Config *c, int rank, int ranks, FILE *log, TrainSummary *out, Err *e)
{
    FILE *lg = rank == 0 ? log : NULL;
    Trainer t;
    H5Run *run = NULL;
    int status = trainer_init(&t, c, rank, ranks, omp_get_max_threads(), e);
    if (status == 0) {
        print_header(lg, c, &t);
        status = open_run_file(c, &t, &run, e);
    }
    if (status == 0)
        status = run_epochs(&t, run, lg, out, e);
    Err close_err;
    int closed = h5run_close(run, &close_err);
    if (comm_check(closed, &close_err) != 0 && status == 0) {
        *e = close_err;
        status = -1;
    }
    if (status == 0 && lg)
        fprintf(lg, "final weights: hash %016llx, identical on all %d ranks; wrote %s\n",
                (unsigned long long)out->hash, ranks, c->output_file);
    trainer_free(&t);
    return status;
}

/* load_eval_set: every rank reads the model and its block of the data set. */
static int load_eval_set(const char *model_path, const char *images, const char *labels,
                         int64_t limit, int rank, int ranks, Model *m, Dataset *d, Err *e)
{
    DataInfo info;
    char *text = NULL;
    Config c;
    int status = h5run_read_model(model_path, &m->layout, &m->params, &text, e);
    if (status == 0 && !images) { /* default: the test set the run was trained with */
        config_defaults(&c);
        status = config_load_string(&c, text ? text : "", e);
        images = c.test_images;
        labels = c.test_labels;
    }
    free(text);
    if (status == 0)
        status = data_probe(images, labels, &info, e);
    if (status == 0 && limit > info.count)
        status = err_set(e, "--limit %lld exceeds the %lld examples of %s", (long long)limit,
                         (long long)info.count, images);
    if (status == 0 && info.dim != m->layout.n[0])
        status = err_set(e, "%s has %d inputs but the images of %s have %d pixels", model_path,
                         m->layout.n[0], images, info.dim);
    if (comm_check(status, e) != 0)
        return -1;
    Shard s = shard_block(limit > 0 ? limit : info.count, rank, ranks);
    int n_out = m->layout.n[m->layout.n_layers - 1];
    return comm_check(data_load(images, labels, &s, n_out, d, e), e);
}

int eval_run(const char *model_path, const char *images, const char *labels, int64_t limit,
             int rank, int ranks, FILE *log, Score *out, Err *e)
{
    Model m = {0};
    Dataset d = {0};
    int threads = omp_get_max_threads();
    Workspace *ws = calloc((size_t)threads, sizeof *ws);
    int status = load_eval_set(model_path, images, labels, limit, rank, ranks, &m, &d, e);
    if (status == 0) {
        int ok = ws != NULL;
        for (int i = 0; ok && i < threads; i++)
            ok = workspace_init(&ws[i], &m.layout, EVAL_CHUNK, e) == 0;
        status = comm_check(!ok, e);
    }
    if (status == 0)
        status = evaluate(&m, &d, ws, threads, out, e);
    if (status == 0 && rank == 0 && log)
        fprintf(log, "model: %s\ndata: %s (%lld examples)\ncost: %.6f\naccuracy: %.4f\n",
                model_path, images ? images : "the run's data.test_images", (long long)out->count,
                out->cost, out->accuracy);
    for (int i = 0; ws && i < threads; i++)
        workspace_free(&ws[i]);
    free(ws);
    data_free(&d);
    model_free(&m);
    return status;
}
