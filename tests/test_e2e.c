/* test_e2e (MPI): a short real run on Fashion-MNIST (3,000 examples, 3 epochs) must reach
 * a test accuracy a broken gradient could not (>= 0.65; chance is 0.10), write its run
 * file, and report the same weights on every rank. */
#include <stdio.h>
#include <unistd.h>

#include "checkpoint.h"
#include "comm.h"
#include "config.h"
#include "run.h"

int main(int argc, char **argv)
{
    int rank, ranks, fail = 0;
    comm_init(&argc, &argv, &rank, &ranks);
    Config c;
    Err e = {{0}};
    config_defaults(&c);
    const char *sets[] = {"data.train_limit=3000", "data.test_limit=1000", "train.epochs=3",
                          "train.batch_size=10", "train.learning_rate=3",
                          "output.file=test_e2e_run.h5", "output.overwrite=true",
                          "checkpoint.keep=1"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        fail |= config_set(&c, sets[i], &e) != 0;
    TrainSummary s;
    FILE *quiet = fopen("/dev/null", "w");
    if (!fail && train_run(&c, rank, ranks, quiet, &s, &e) != 0) {
        fprintf(stderr, "FAIL train_run: %s\n", e.msg);
        fail = 1;
    }
    fclose(quiet);
    if (!fail && rank == 0) {
        printf("test_e2e: %d ranks, test accuracy %.4f, test cost %.4f after %lld epochs\n",
               ranks, s.test.accuracy, s.test.cost, (long long)s.epochs);
        if (s.test.accuracy < 0.65 || s.epochs != 3 || s.test.count != 1000)
            fprintf(stderr, "FAIL accuracy below 0.65 or wrong epoch/example count\n"), fail = 1;
        if (access("test_e2e_run.h5", R_OK) != 0)
            fprintf(stderr, "FAIL run file missing\n"), fail = 1;
        unlink("test_e2e_run.h5");
        char ckpt[CONFIG_PATH_MAX + 32]; /* the one checkpoint kept: the end of the run */
        if (checkpoint_path(&c, s.step, ckpt, sizeof ckpt, &e) != 0 || unlink(ckpt) != 0)
            fprintf(stderr, "FAIL no final checkpoint %s\n", ckpt), fail = 1;
    }
    fail = comm_agree(fail) >= 0;
    comm_finalize();
    return fail;
}
