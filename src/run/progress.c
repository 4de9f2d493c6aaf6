/* progress.c: the lines a training run prints on rank 0 (see progress.h). */
#include "run/progress.h"

#include <stdlib.h>
#include <unistd.h>

#include "comm/comm.h"
#include "comm/packed.h"
#include "train/sums.h"

/* warn_oversubscribed: ranks x threads on this node beyond its cores make every step
 * crawl (OpenMP and MPI both spin-wait). */
static void warn_oversubscribed(FILE *log, const Trainer *t)
{
    int node = comm_node_ranks();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (log && cores > 0 && (long)node * t->threads > cores)
        fprintf(log, "warning: %d ranks x %d threads on a node with %ld cores: "
                     "oversubscribed, steps will be very slow; set OMP_NUM_THREADS so "
                     "that ranks x threads <= cores\n", node, t->threads, cores);
}

/* warn_float_threads: the float reduction sums every gradient value across the threads of
 * a rank each step, so more threads make it slower (docs/PERFORMANCE.md). */
static void warn_float_threads(FILE *log, const Config *c, const Trainer *t)
{
    if (log && c->reduction == REDUCTION_FLOAT && t->threads > 1)
        fprintf(log, "warning: train.reduction = float with %d threads per rank: it sums "
                     "all %zu gradient values across the threads every step and is slower "
                     "than one thread; use train.reduction = exact (faster with threads, "
                     "and reproducible) or OMP_NUM_THREADS=1\n",
                t->threads, t->model.layout.n_params);
}

void progress_header(FILE *log, const Config *c, const Trainer *t)
{
    if (log) {
        char *ini = config_to_ini(c);
        fprintf(log, "downhill %s: training\n# resolved configuration\n%s\n", DOWNHILL_VERSION,
                ini ? ini : "(out of memory)\n");
        free(ini);
        int by = t->ranks > 1 && c->reduction == REDUCTION_EXACT; /* how the sums travel */
        fprintf(log, "ranks: %d, threads per rank: %d, parameters: %zu (%s), reduction: %s%s%s\n",
                t->ranks, t->threads, t->model.layout.n_params, REAL_NAME,
                config_reduction_name(c->reduction), by ? ", by " : "",
                by ? comm_sum_path() : "");
        if (by && comm_sum_messages() && config_sum_bytes(c))
            fprintf(log, "exact sums between nodes: %d bytes per value (train.sum_bytes; a "
                         "step whose sums exceed a node's share of the width goes as int64)\n",
                    config_sum_bytes(c));
        else if (by && comm_sum_messages())
            fprintf(log, "exact sums between nodes: bytes per value by block of %d values "
                         "from the steps before (train.sum_bytes = auto; sums past a node's "
                         "share of the width go as int64)\n",
                    PACKED_BLOCK);
        if (t->ranks > 1)
            fprintf(log, "the step's sums: %s (train.overlap = %s)\n",
                    sums_overlap(t) ? "in buckets, each sent as soon as it is complete"
                                    : "all sent after the backward pass",
                    config_overlap_name(c->overlap));
        fprintf(log, "training examples: %lld, test examples: %lld, batch: %lld (%lld steps "
                     "per epoch), exact groups of %lld lanes\n",
                (long long)t->n_train, (long long)t->test.shard.n, (long long)t->lanes,
                (long long)t->steps_per_epoch, (long long)t->group);
        fprintf(log, "%6s %12s %12s %9s %9s %12s\n", "epoch", "train_cost", "test_cost",
                "test_acc", "seconds", "samples/s");
        fflush(log);
    }
    warn_oversubscribed(log, t);
    warn_float_threads(log, c, t);
}

void progress_row(FILE *log, const HistoryRow *row)
{
    if (!log)
        return;
    fprintf(log, "%6lld %12.6f %12.6f %9.4f %9.3f %12.0f\n", (long long)row->epoch,
            row->train_cost, row->test_cost, row->test_accuracy, row->seconds,
            row->samples_per_second);
    fflush(log);
}

/* collapse_signs: what the scores show, as one sentence fragment. */
static void collapse_signs(FILE *log, const Score *s, int why)
{
    if (why & COLLAPSE_SATURATED)
        fprintf(log, "%lld of %lld test examples (%.1f%%) have every output below %g",
                (long long)s->saturated, (long long)s->count,
                100.0 * (double)s->saturated / (double)s->count, EVAL_SATURATED_BELOW);
    if (why == (COLLAPSE_SATURATED | COLLAPSE_ONE_CLASS))
        fprintf(log, " and ");
    if (why & COLLAPSE_ONE_CLASS)
        fprintf(log, "all %lld test examples are predicted as class %lld", (long long)s->count,
                (long long)s->first_class);
}

void progress_collapse(FILE *log, const Config *c, const Score *test, int *warned)
{
    int why = score_collapse(test);
    if (!why)
        return;
    if (log && *warned) {
        fprintf(log, "warning: still collapsed: ");
        collapse_signs(log, test, why);
        fprintf(log, "\n");
    } else if (log) {
        fprintf(log, "warning: the network has collapsed: ");
        collapse_signs(log, test, why);
        fprintf(log, ".\n  Likely cause: %s%s.\n"
                     "  Change: train.learning_rate (lower it, e.g. to a tenth: now %g), or "
                     "model.output = softmax with model.cost = cross_entropy (no vanishing "
                     "gradient), or model.activation (relu, tanh) with model.init (he, "
                     "glorot).\n",
                c->output == OUTPUT_SIGMOID
                    ? "the sigmoid outputs saturated near 0 because the learning rate is "
                      "too high for the network's width (wider layers move every output "
                      "further per step)"
                    : "saturated units: the learning rate is probably too high for the "
                      "network's width",
                c->cost == COST_QUADRATIC
                    ? ", and the quadratic cost's gradient vanishes there (it carries the "
                      "factor a (1 - a)), so training cannot recover"
                    : "",
                c->learning_rate);
    }
    if (log)
        fflush(log);
    *warned = 1;
}

void progress_timing(FILE *log, int ranks, const double *min, const double *avg,
                     const double *max)
{
    double total = 0;
    for (int p = 0; p < PHASE_COUNT; p++)
        total += avg[p];
    if (!log || total <= 0)
        return;
    fprintf(log, "time per phase over %d ranks (seconds summed over epochs):\n"
                 "%12s %10s %10s %10s %7s\n", ranks, "phase", "min", "avg", "max", "share");
    for (int p = 0; p < PHASE_COUNT; p++)
        fprintf(log, "%12s %10.4f %10.4f %10.4f %6.1f%%\n", phase_name((Phase)p), min[p],
                avg[p], max[p], 100.0 * avg[p] / total);
}
