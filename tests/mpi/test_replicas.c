/* test_replicas (MPI): after training steps, every rank holds bitwise-identical weights,
 * and they moved away from the initial weights. Run with several ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "run/config.h"
#include "train/train.h"

int main(int argc, char **argv)
{
    int rank, ranks, fail = 0;
    comm_init(&argc, &argv, &rank, &ranks);
    Config c;
    Err e = {{0}};
    config_defaults(&c);
    const char *sets[] = {"data.train_limit=1200", "data.test_limit=100",
                          "train.batch_size=60", "train.learning_rate=3"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (config_set(&c, sets[i], &e) != 0)
            fprintf(stderr, "FAIL config: %s\n", e.msg), fail = 1;
    Trainer t;
    if (fail || trainer_init(&t, &c, rank, ranks, 2, &e) != 0) {
        if (e.msg[0])
            fprintf(stderr, "FAIL init: %s\n", e.msg);
        comm_finalize();
        return 1;
    }
    uint64_t initial = model_hash(&t.model);
    for (int s = 0, agreed; s < 25 && !fail; s++)
        if (trainer_step(&t, 0, &agreed, &e) != 0)
            fprintf(stderr, "FAIL step %d: %s\n", s, e.msg), fail = 1;
    size_t bytes = t.model.layout.n_params * sizeof(Real);
    unsigned char *all = rank == 0 ? malloc(bytes * (size_t)ranks) : NULL;
    comm_gather_bytes(t.model.params, bytes, all);
    if (rank == 0) {
        for (int r = 1; r < ranks; r++)
            if (memcmp(all, all + (size_t)r * bytes, bytes) != 0)
                fprintf(stderr, "FAIL rank %d weights differ from rank 0\n", r), fail = 1;
        if (model_hash(&t.model) == initial)
            fprintf(stderr, "FAIL the weights did not change in 25 steps\n"), fail = 1;
        printf("test_replicas: %d ranks, %s\n", ranks, fail ? "FAILED" : "identical weights");
    }
    free(all);
    trainer_free(&t);
    fail = comm_agree(fail) >= 0;
    comm_finalize();
    return fail;
}
