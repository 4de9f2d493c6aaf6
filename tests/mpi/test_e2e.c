/* test_e2e (MPI): short real runs on Fashion-MNIST (3,000 examples; 3 epochs at batch 10, the
 * vector kernels, and 8 at batch 64, AMX tiles where usable), with the exact and the float
 * reduction: each must reach a test accuracy a broken gradient could not (>= 0.65; chance is
 * 0.10), write its run file and its final checkpoint, and report the same weights on every
 * rank; and 20 steps of each reduction must end at the same test cost within 1e-6. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "run/checkpoint.h"
#include "comm/comm.h"
#include "run/config.h"
#include "run/run.h"

/* run_case: one run with the given reduction, batch, epochs, learning rate (constant) and
 * training examples, whose test accuracy must reach min_accuracy; its test score into *out.
 * Returns 1 on a failure (rank 0 says which), else 0; collective. */
static int run_case(const char *reduction, int batch, int epochs, const char *lr, int examples,
                    double min_accuracy, int rank, int ranks, Score *out)
{
    Config c;
    Err e = {{0}};
    char red[64], bs[64], ep[64], rate[64], lim[64];
    snprintf(red, sizeof red, "train.reduction=%s", reduction);
    snprintf(bs, sizeof bs, "train.batch_size=%d", batch);
    snprintf(ep, sizeof ep, "train.epochs=%d", epochs);
    snprintf(rate, sizeof rate, "train.learning_rate=%s", lr);
    snprintf(lim, sizeof lim, "data.train_limit=%d", examples);
    char run_file[96]; /* one per launch shape: test_e2e_2 and test_e2e_1x2 may run at once */
    snprintf(run_file, sizeof run_file, "output.file=test_e2e_run-%dx%d.h5", ranks,
             omp_get_max_threads());
    config_defaults(&c);
    const char *sets[] = {lim, "data.test_limit=1000", ep, bs, red, rate,
                          "train.schedule=constant", run_file,
                          "output.overwrite=true", "checkpoint.keep=1"};
    int fail = 0;
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        fail |= !CHECK(config_set(&c, sets[i], &e) == 0, "config %s: %s", sets[i], e.msg);
    TrainSummary s;
    FILE *quiet = fopen("/dev/null", "w");
    fail = fail || !CHECK(train_run(&c, rank, ranks, quiet, &s, &e) == 0,
                          "train_run (%s, batch %d): %s", reduction, batch, e.msg);
    fclose(quiet);
    if (!fail && rank == 0) {
        *out = s.test;
        printf("test_e2e: %d ranks, %s, batch %d: test accuracy %.4f, test cost %.4f after "
               "%lld epochs\n", ranks, reduction, batch, s.test.accuracy, s.test.cost,
               (long long)s.epochs);
        fail |= !CHECK(s.test.accuracy >= min_accuracy && s.epochs == epochs &&
                           s.test.count == 1000,
                       "accuracy below %.2f or wrong epoch/example count", min_accuracy);
        fail |= !CHECK(access(run_file + strlen("output.file="), R_OK) == 0, "run file missing");
        unlink(run_file + strlen("output.file="));
        char ckpt[CONFIG_PATH_MAX + 32]; /* the one checkpoint kept: the end of the run */
        fail |= !CHECK(checkpoint_path(&c, s.step, ckpt, sizeof ckpt, &e) == 0 &&
                           unlink(ckpt) == 0,
                       "no final checkpoint %s", ckpt);
    }
    return comm_agree(fail) >= 0;
}

int main(int argc, char **argv)
{
    int rank, ranks, fail = 0;
    comm_init(&argc, &argv, &rank, &ranks);
    const int batches[] = {10, 64}, epochs[] = {3, 8};
    const char *reductions[] = {"exact", "float"};
    Score score[2];
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < 2 && !fail; r++)
            fail |= run_case(reductions[r], batches[b], epochs[b], "3", 3000, 0.65, rank, ranks,
                             &score[r]);
    /* the two reductions differ by rounding only: after 20 steps their test costs agree to
     * about 1e-9, while a learning rate 1% off moves the cost by 2e-5 */
    for (int r = 0; r < 2 && !fail; r++)
        fail |= run_case(reductions[r], 64, 2, "1", 640, 0, rank, ranks, &score[r]);
    if (!fail && rank == 0) {
        printf("test_e2e: 20 steps: test cost exact %.9f, float %.9f\n", score[0].cost,
               score[1].cost);
        fail |= !CHECK(fabs(score[0].cost - score[1].cost) <= 1e-6,
                       "the float reduction's cost is not within 1e-6 of exact's");
    }
    fail = comm_agree(fail) >= 0;
    comm_finalize();
    return fail;
}
