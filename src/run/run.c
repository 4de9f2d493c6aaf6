/* run.c: the training run behind `downhill train` (eval.c: `downhill eval`). */
#include "run/run.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "io/ckptfile.h"
#include "io/runfile.h"
#include "run/checkpoint.h"
#include "run/progress.h"
#include "train/schedule.h"

#define EVAL_CHUNK 256

/* One training run on one rank: the trainer, the run file, the history, the clocks. */
typedef struct {
    const Config *cfg;
    Trainer t;
    H5Run *file;           /* rank 0 only */
    FILE *log;             /* rank 0 only, else NULL */
    Workspace *ws;         /* (threads) evaluation workspaces */
    HistoryRow *history;   /* (n_history) epoch 0 .. last completed epoch */
    int64_t n_history, cap_history;
    int64_t last_ckpt_step;  /* step of the newest checkpoint written (-1: none) */
    double last_ckpt_time;   /* when it was written (comm_time) */
    double epoch_t0;         /* start of this process's part of the current epoch */
    double ckpt_seconds;     /* checkpoint time inside the current epoch */
    int64_t epoch_count0;    /* trainer epoch_count at epoch_t0 */
    int64_t rollbacks;       /* rollbacks after divergence so far */
    int collapse_warned;     /* the collapse warning was printed in full */
    double phase_min[PHASE_COUNT], phase_avg[PHASE_COUNT], phase_max[PHASE_COUNT];
                             /* seconds per phase summed over this process's epochs */
} Run;

/* add_history: appends a row to the in-memory history (every rank keeps it). */
static int add_history(Run *r, const HistoryRow *row, Err *e)
{
    if (r->n_history == r->cap_history) {
        int64_t cap = r->cap_history ? 2 * r->cap_history : 64;
        HistoryRow *grown = realloc(r->history, (size_t)cap * sizeof *grown);
        if (!grown)
            return err_set(e, "out of memory for the history");
        r->history = grown;
        r->cap_history = cap;
    }
    r->history[r->n_history++] = *row;
    return 0;
}

/* record: keeps the row, and rank 0 appends it and the weights to the run file. */
static int record(Run *r, const HistoryRow *row, Err *e)
{
    int status = add_history(r, row, e);
    if (status == 0 && r->file) {
        status = h5run_write_model(r->file, r->t.model.params, e);
        if (status == 0)
            status = h5run_append_history(r->file, row, e);
        if (status == 0)
            status = h5run_commit(r->file, e); /* the weights and their row together */
    }
    progress_row(r->log, row);
    return comm_check(status, e);
}

/* open_run_file: rank 0 creates the run file and writes the history so far. */
static int open_run_file(Run *r, Err *e)
{
    int status = 0;
    if (r->t.rank == 0) {
        char *ini = config_to_ini(r->cfg);
        RunAttrs attrs = {.config_text = ini ? ini : "",
                          .ranks = r->t.ranks,
                          .threads = r->t.threads,
                          .seed = r->cfg->seed};
        status = h5run_create(r->cfg->output_file, &attrs, &r->t.model.layout, &r->file, e);
        free(ini);
        if (status == 0 && r->n_history > 0)
            status = h5run_write_model(r->file, r->t.model.params, e);
        for (int64_t i = 0; status == 0 && i < r->n_history; i++)
            status = h5run_append_history(r->file, &r->history[i], e);
        if (status == 0 && r->n_history > 0)
            status = h5run_commit(r->file, e); /* once, not once per row */
    }
    return comm_check(status, e);
}

/* check_replicas: every rank must hold the same weights; returns their hash. */
static int check_replicas(const Trainer *t, uint64_t *hash, Err *e)
{
    uint64_t h = model_hash(&t->model), lo = comm_min_u64(h), hi = comm_max_u64(h);
    int differs = lo != hi ? comm_agree(h != lo) : -1; /* the lowest rank off the minimum */
    *hash = h;
    if (lo == hi)
        return 0;
    err_set(e, "replica check failed at step %lld: rank %d holds weights with hash %016llx, "
               "others %016llx: the ranks have diverged (a bug or a hardware fault)",
            (long long)t->step, differs, (unsigned long long)hi, (unsigned long long)lo);
    return comm_check(t->rank == 0, e);
}

/* write_checkpoint: rank 0 writes the checkpoint of the current step and prunes old ones. */
static int write_checkpoint(Run *r, const char *why, Err *e)
{
    double t0 = comm_time();
    comm_set_phase("the checkpoint write", r->t.step);
    int status = 0;
    if (r->t.rank == 0) {
        char path[CONFIG_PATH_MAX + 32];
        int pruned = checkpoint_write(r->cfg, &r->t, r->rollbacks, r->history, r->n_history,
                                      path, sizeof path, e);
        status = pruned < 0 ? -1 : 0;
        if (status == 0 && r->log)
            fprintf(r->log, "checkpoint: %s at step %lld (%s), %.1f ms%s\n", path,
                    (long long)r->t.step, why, 1e3 * (comm_time() - t0),
                    pruned ? ", older ones pruned" : "");
    }
    if (comm_check(status, e) != 0)
        return -1;
    r->last_ckpt_step = r->t.step;
    r->last_ckpt_time = comm_time();
    r->ckpt_seconds += r->last_ckpt_time - t0;
    r->t.times.seconds[PHASE_CHECKPOINT] += r->last_ckpt_time - t0;
    return 0;
}

/* record_timing: the epoch's seconds per phase, min/avg/max over ranks, into /timing and
 * the run's totals. Collective. */
static int record_timing(Run *r, Err *e)
{
    PhaseTimes mine;
    double lo[PHASE_COUNT], avg[PHASE_COUNT], hi[PHASE_COUNT], values[3 * PHASE_COUNT];
    const char *names[3 * PHASE_COUNT];
    char name_buf[3 * PHASE_COUNT][32];
    trainer_take_times(&r->t, &mine);
    memcpy(lo, mine.seconds, sizeof lo);
    memcpy(avg, mine.seconds, sizeof avg);
    memcpy(hi, mine.seconds, sizeof hi);
    comm_reduce_doubles(lo, PHASE_COUNT, COMM_MIN);
    comm_reduce_doubles(avg, PHASE_COUNT, COMM_SUM);
    comm_reduce_doubles(hi, PHASE_COUNT, COMM_MAX);
    for (int p = 0; p < PHASE_COUNT; p++) {
        avg[p] /= r->t.ranks;
        r->phase_min[p] += lo[p];
        r->phase_avg[p] += avg[p];
        r->phase_max[p] += hi[p];
        const double *stat[3] = {lo, avg, hi};
        for (int k = 0; k < 3; k++) {
            snprintf(name_buf[3 * p + k], sizeof name_buf[0], "%s_%s", phase_name((Phase)p),
                     k == 0 ? "min" : k == 1 ? "avg" : "max");
            names[3 * p + k] = name_buf[3 * p + k];
            values[3 * p + k] = stat[k][p];
        }
    }
    int status = r->file ? h5run_append_timing(r->file, names, values, 3 * PHASE_COUNT, e) : 0;
    if (status == 0 && r->file)
        status = h5run_commit(r->file, e);
    return comm_check(status, e);
}

/* initial_row: epoch 0, the scores of the initialised model. */
static int initial_row(Run *r, HistoryRow *row, Err *e)
{
    Score train, test;
    Trainer *t = &r->t;
    if (evaluate(&t->model, &t->train, r->ws, t->threads, &train, e) != 0 ||
        evaluate(&t->model, &t->test, r->ws, t->threads, &test, e) != 0)
        return -1;
    *row = (HistoryRow){.epoch = 0,
                        .train_cost = train.cost,
                        .test_cost = test.cost,
                        .test_accuracy = test.accuracy,
                        .seconds = 0,
                        .samples_per_second = 0};
    return 0;
}

/* finish_epoch: at an epoch boundary, scores the test set and records the epoch's row. */
static int finish_epoch(Run *r, Err *e)
{
    Trainer *t = &r->t;
    comm_set_phase("the test evaluation", t->step);
    double t1 = comm_time();
    int64_t examples = t->epoch_count - r->epoch_count0;
    Score test;
    if (evaluate(&t->model, &t->test, r->ws, t->threads, &test, e) != 0)
        return -1;
    double now = comm_time(), steps = t1 - r->epoch_t0 - r->ckpt_seconds;
    t->times.seconds[PHASE_EVALUATION] += now - t1;
    HistoryRow row = {.epoch = t->step / t->steps_per_epoch,
                      .train_cost = trainer_take_epoch_cost(t),
                      .test_cost = test.cost,
                      .test_accuracy = test.accuracy,
                      .seconds = now - r->epoch_t0 - r->ckpt_seconds,
                      .samples_per_second = steps > 0 ? (double)examples / steps : 0};
    r->epoch_t0 = now;
    r->ckpt_seconds = 0;
    r->epoch_count0 = 0;
    if (record(r, &row, e) != 0)
        return -1;
    progress_collapse(r->log, r->cfg, &test, &r->collapse_warned);
    return record_timing(r, e);
}

/* local_requests: this rank's wish to stop (a signal) or to checkpoint (rank 0's clock);
 * a StepPoll (ctx: the Run). */
static int local_requests(void *ctx)
{
    const Run *r = ctx;
    int req = checkpoint_signal_pending() ? STEP_STOP : 0;
    double every = r->cfg->ckpt_every_seconds;
    if (r->t.rank == 0 && every > 0 && comm_time() - r->last_ckpt_time >= every)
        req |= STEP_CHECKPOINT;
    return req;
}

static int restore(Run *r, const char *path, Err *e);

/* roll_back: after a divergence, continues from the newest checkpoint with a lower learning
 * rate, or stops with an error once train.max_rollbacks is used up. Collective. */
static int roll_back(Run *r, Err *e)
{
    Trainer *t = &r->t;
    double lr = schedule_lr(r->cfg, t->step, t->steps_per_epoch) * t->lr_scale;
    char path[CONFIG_PATH_MAX + 32];
    if (r->rollbacks >= r->cfg->max_rollbacks || r->last_ckpt_step < 0) {
        const char *why = r->cfg->activation == ACT_RELU && r->cfg->reduction == REDUCTION_EXACT
                              ? " (model.activation = relu: its activations are unbounded, and "
                                "a gradient term past the exact sums' fixed-point limit, "
                                "min(2^19, 2^30 / batch), or for layers of >= 64 inputs "
                                "|delta| x the example's largest activation of about 16, is "
                                "refused, never wrapped)"
                              : "";
        err_set(e, "step %lld (epoch %lld): the cost or gradient is not finite (or too large)%s: "
                   "the learning rate %g is probably too large; lower train.learning_rate "
                   "(or set train.max_rollbacks); the last checkpoint is kept intact",
                (long long)t->step + 1, (long long)(t->step / t->steps_per_epoch) + 1, why, lr);
        return comm_check(1, e); /* every rank knows: rank 0 reports */
    }
    int64_t done = r->rollbacks + 1;
    double scale = t->lr_scale * r->cfg->rollback_factor;
    if (checkpoint_path(r->cfg, r->last_ckpt_step, path, sizeof path, e) != 0)
        return comm_check(1, e);
    if (r->log)
        fprintf(r->log, "diverged at step %lld (learning rate %g): rollback %lld of %lld to "
                        "%s, learning rate x %g\n",
                (long long)t->step + 1, lr, (long long)done, (long long)r->cfg->max_rollbacks,
                path, scale);
    Err close_err;
    h5run_close(r->file, &close_err);
    r->file = NULL;
    r->n_history = 0;
    if (restore(r, path, e) != 0)
        return -1;
    t->lr_scale = scale;
    r->rollbacks = done;
    return open_run_file(r, e);
}

/* steps_to_event: steps from now to the next step after which the run has work: the end
 * of an epoch or of the run, a checkpoint or a replica check by step count. */
static int64_t steps_to_event(const Run *r, int64_t total)
{
    const Config *c = r->cfg;
    int64_t step = r->t.step, n = total - step;
    int64_t every[3] = {r->t.steps_per_epoch, c->ckpt_every_steps, c->ckpt_verify_every};
    for (int k = 0; k < 3; k++)
        if (every[k] > 0 && every[k] - step % every[k] < n)
            n = every[k] - step % every[k];
    return n;
}

/* train_steps: steps until the configured end or an agreed stop; *stopped tells which. */
static int train_steps(Run *r, int *stopped, Err *e)
{
    Trainer *t = &r->t;
    int64_t total = r->cfg->epochs * t->steps_per_epoch;
    uint64_t hash;
    *stopped = 0;
    r->epoch_t0 = comm_time();
    r->epoch_count0 = t->epoch_count;
    while (t->step < total && !*stopped) {
        int agreed; /* the steps up to the next event in one call (one parallel region) */
        if (trainer_steps(t, steps_to_event(r, total), local_requests, r, &agreed, e) != 0)
            return -1;
        if (agreed & STEP_DIVERGED) {
            if (roll_back(r, e) != 0)
                return -1;
            continue;
        }
        int epoch_end = t->step % t->steps_per_epoch == 0;
        if (epoch_end && finish_epoch(r, e) != 0)
            return -1;
        const char *why = checkpoint_due(r->cfg, t->step, t->steps_per_epoch, total, agreed);
        if (why && write_checkpoint(r, why, e) != 0)
            return -1;
        int64_t every = r->cfg->ckpt_verify_every;
        if (every > 0 && t->step % every == 0 && check_replicas(t, &hash, e) != 0)
            return -1;
        *stopped = (agreed & STEP_STOP) != 0;
    }
    if (!*stopped && r->last_ckpt_step != t->step)
        return write_checkpoint(r, "end of run", e);
    return 0;
}

/* share_checkpoint: rank 0's weights, velocity (with train.momentum: checkpoint_validate
 * made sure rank 0 read one; the others' s->velocity is their buffer to receive it),
 * position and history, broadcast to every rank. */
static int share_checkpoint(Run *r, Real *params, CkptState *s, Err *e)
{
    int64_t scalars[4] = {s->step, s->epoch_count, s->n_history, s->rollbacks};
    double reals[2] = {s->epoch_cost, s->lr_scale};
    comm_bcast(scalars, sizeof scalars, 0);
    comm_bcast(reals, sizeof reals, 0);
    comm_bcast(params, r->t.model.layout.n_params * sizeof(Real), 0);
    if (r->t.velocity)
        comm_bcast(s->velocity, r->t.model.layout.n_params * sizeof(Real), 0);
    HistoryRow *rows = r->t.rank == 0 ? s->history
                                      : alloc_array((size_t)scalars[2], sizeof *rows, "history", e);
    if (comm_check(rows == NULL && scalars[2] > 0, e) != 0)
        return -1;
    comm_bcast(rows, (size_t)scalars[2] * sizeof *rows, 0);
    int status = 0;
    for (int64_t i = 0; status == 0 && i < scalars[2]; i++)
        status = add_history(r, &rows[i], e);
    if (r->t.rank != 0)
        free(rows);
    if (comm_check(status, e) != 0)
        return -1;
    trainer_restore(&r->t, params, s->velocity, scalars[0], reals[0], scalars[1], reals[1]);
    r->rollbacks = scalars[3];
    return 0;
}

/* restore: continues from the checkpoint at path (every rank calls it). */
static int restore(Run *r, const char *path, Err *e)
{
    Layout lay;
    Real *params = NULL;
    CkptState s = {0};
    int status = 0;
    if (r->t.rank == 0) {
        status = h5ckpt_read(path, &lay, &params, &s, e);
        if (status == 0)
            status = checkpoint_validate(r->cfg, &r->t, path, &lay, &s, r->log, e);
    } else {
        size_t n = r->t.model.layout.n_params;
        params = alloc_array(n, sizeof(Real), "restored weights", e);
        if (r->t.velocity) /* receives rank 0's */
            s.velocity = alloc_array(n, sizeof(Real), "restored velocity", e);
        status = params == NULL || (r->t.velocity && !s.velocity);
    }
    if (comm_check(status, e) == 0)
        status = share_checkpoint(r, params, &s, e);
    else
        status = -1;
    free(params);
    free(s.history);
    free(s.config_text);
    free(s.velocity);
    uint64_t hash;
    if (status == 0)
        status = check_replicas(&r->t, &hash, e);
    if (status == 0 && r->log)
        fprintf(r->log, "resumed from %s at step %lld (epoch %lld, step %lld of %lld), weights "
                        "hash %016llx on all %d ranks\n",
                path, (long long)r->t.step, (long long)(r->t.step / r->t.steps_per_epoch) + 1,
                (long long)(r->t.step % r->t.steps_per_epoch), (long long)r->t.steps_per_epoch,
                (unsigned long long)hash, r->t.ranks);
    r->last_ckpt_step = r->t.step;
    return status;
}

/* resume_path: the checkpoint to continue from (rank 0 decides, all learn it); "" = none. */
static int resume_path(const Run *r, char *path, size_t n, Err *e)
{
    int status = 0;
    path[0] = '\0';
    if (r->t.rank == 0)
        status = checkpoint_resume_path(r->cfg, r->log, path, n, e);
    if (comm_check(status, e) != 0)
        return -1;
    comm_bcast(path, n, 0);
    return 0;
}

/* start: from the checkpoint to resume, or from the initial model (epoch 0 row). */
static int start(Run *r, Err *e)
{
    char path[CONFIG_PATH_MAX + 32];
    if (resume_path(r, path, sizeof path, e) != 0)
        return -1;
    if (path[0])
        return restore(r, path, e);
    HistoryRow row;
    if (initial_row(r, &row, e) != 0 || add_history(r, &row, e) != 0)
        return -1;
    progress_row(r->log, &row);
    /* rollbacks need a checkpoint to return to, even before the first trigger */
    return r->cfg->max_rollbacks > 0 ? write_checkpoint(r, "start", e) : 0;
}

/* alloc_workspaces: one evaluation workspace per thread. */
static int alloc_workspaces(Run *r, Err *e)
{
    r->ws = calloc((size_t)r->t.threads, sizeof *r->ws);
    int status = r->ws ? 0 : err_set(e, "out of memory for evaluation workspaces");
    for (int i = 0; status == 0 && i < r->t.threads; i++)
        status = workspace_init(&r->ws[i], &r->t.model.layout, EVAL_CHUNK, e);
    return comm_check(status, e);
}

/* summarise: the final numbers and the check that every rank holds the same weights. */
static int summarise(Run *r, int stopped, TrainSummary *out, Err *e)
{
    const HistoryRow *last = &r->history[r->n_history - 1];
    out->epochs = last->epoch;
    out->train_cost = last->train_cost;
    out->test = (Score){.cost = last->test_cost,
                        .accuracy = last->test_accuracy,
                        .count = r->t.test.shard.n};
    out->stopped = stopped;
    out->step = r->t.step;
    if (check_replicas(&r->t, &out->hash, e) != 0)
        return -1;
    if (r->log && stopped)
        fprintf(r->log, "stopped by signal %d at step %lld after writing a checkpoint: "
                        "resubmit with --resume auto to continue (exit code %d)\n",
                checkpoint_signal_pending(), (long long)r->t.step, EXIT_RESUBMIT);
    progress_timing(r->log, r->t.ranks, r->phase_min, r->phase_avg, r->phase_max);
    if (r->log && r->t.ranks > 1 && r->cfg->reduction == REDUCTION_EXACT && comm_sum_messages())
        fprintf(r->log, "exact sums by messages: rank 0 sent %.0f bytes per step (%lld steps), "
                        "%ld buckets went again as int64\n",
                (double)comm_sum_sent() / (double)(r->t.step > 0 ? r->t.step : 1),
                (long long)r->t.step, comm_sum_fallbacks());
    if (r->log && !stopped)
        fprintf(r->log, "final weights: hash %016llx, identical on all %d ranks; wrote %s\n",
                (unsigned long long)out->hash, r->t.ranks, r->cfg->output_file);
    return 0;
}

static void run_free(Run *r)
{
    for (int i = 0; r->ws && i < r->t.threads; i++)
        workspace_free(&r->ws[i]);
    free(r->ws);
    free(r->history);
    trainer_free(&r->t);
}

/* check_output: never replace an existing run file unless asked (or resuming this run). */
static int check_output(const Config *c, int rank, Err *e)
{
    int status = 0;
    if (rank == 0 && !c->overwrite && !c->resume[0] && access(c->output_file, F_OK) == 0)
        status = err_set(e, "output.file %s exists: not replacing it (pass --force or "
                            "--set output.overwrite=true, choose another output.file, or "
                            "--resume auto to continue that run)", c->output_file);
    return comm_check(status, e);
}

int train_run(const Config *c, int rank, int ranks, FILE *log, TrainSummary *out, Err *e)
{
    Run r = {.cfg = c, .log = rank == 0 ? log : NULL, .last_ckpt_step = -1};
    int stopped = 0;
    comm_set_watchdog(c->watchdog_seconds);
    comm_set_phase("start-up", 0);
    checkpoint_signals_install();
    if (check_output(c, rank, e) != 0)
        return -1;
    int status = trainer_init(&r.t, c, rank, ranks, omp_get_max_threads(), e);
    r.last_ckpt_time = comm_time();
    if (status == 0) {
        progress_header(r.log, c, &r.t);
        status = alloc_workspaces(&r, e);
    }
    if (status == 0)
        status = start(&r, e);
    if (status == 0)
        status = open_run_file(&r, e);
    if (status == 0)
        status = train_steps(&r, &stopped, e);
    if (status == 0)
        status = summarise(&r, stopped, out, e);
    Err close_err;
    int closed = h5run_close(r.file, &close_err);
    if (comm_check(closed, &close_err) != 0 && status == 0) {
        *e = close_err;
        status = -1;
    }
    run_free(&r);
    return status;
}
