/* test_replicas (MPI): after training steps, every rank holds bitwise-identical weights,
 * and they moved away from the initial weights. Run with several ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comm/comm.h"
#include "run/config.h"
#include "train/train.h"

int main(int argc, char **argv)
{
    int rank, ranks;
    comm_init(&argc, &argv, &rank, &ranks);
    Config c;
    Err e = {{0}};
    config_defaults(&c);
    const char *sets[] = {"data.train_limit=1200", "data.test_limit=100",
                          "train.batch_size=60", "train.learning_rate=3"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        CHECK(config_set(&c, sets[i], &e) == 0, "config: %s", e.msg);
    Trainer t;
    if (check_failed() ||
        !CHECK(trainer_init(&t, &c, rank, ranks, 2, &e) == 0, "init: %s", e.msg)) {
        comm_finalize();
        return 1;
    }
    uint64_t initial = model_hash(&t.model);
    for (int s = 0, agreed; s < 25 && !check_failed(); s++)
        CHECK(trainer_step(&t, 0, &agreed, &e) == 0, "step %d: %s", s, e.msg);
    size_t bytes = t.model.layout.n_params * sizeof(Real);
    unsigned char *all = rank == 0 ? malloc(bytes * (size_t)ranks) : NULL;
    comm_gather_bytes(t.model.params, bytes, all);
    if (rank == 0) {
        for (int r = 1; r < ranks; r++)
            CHECK(memcmp(all, all + (size_t)r * bytes, bytes) == 0,
                  "rank %d weights differ from rank 0", r);
        CHECK(model_hash(&t.model) != initial, "the weights did not change in 25 steps");
        printf("test_replicas: %d ranks, %s\n", ranks,
               check_failed() ? "FAILED" : "identical weights");
    }
    free(all);
    trainer_free(&t);
    int fail = comm_agree(check_failed()) >= 0;
    comm_finalize();
    return fail;
}
