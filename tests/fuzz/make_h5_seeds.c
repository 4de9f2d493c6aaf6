/* make_h5_seeds.c: writes the sealed-*.h5 seeds of tests/fuzz/corpus/h5 with downhill's
 * own writers (a 4-3-2 run file, a checkpoint and a 3-example 2x2 input file, each with
 * its integrity block). The other seeds are files of older downhill versions (no user
 * block: HDF5's checks only, like foreign files). Not built by default; regenerate with:
 *   cc -Iinclude tests/fuzz/make_h5_seeds.c build/libdownhill_core.a $(pkg-config --cflags
 *      --libs hdf5-openmpi inih zlib) -fopenmp -lm -o /tmp/seeds && /tmp/seeds tests/fuzz/corpus/h5 */
#include <stdio.h>

#include "io/ckptfile.h"
#include "io/inputfile.h"
#include "io/runfile.h"
#include "net/model.h"

int main(int argc, char **argv)
{
    char path[1024];
    Err e;
    Layout lay;
    const int sizes[] = {4, 3, 2};
    Real params[64];
    if (argc != 2 || layout_init(&lay, sizes, 3, &e) != 0)
        return 2;
    for (size_t i = 0; i < lay.n_params; i++)
        params[i] = (Real)((double)i - 10.0) / (Real)8.0;
    const char *short_ini = "[model]\nlayers = 4,3,2\n"; /* keeps the seeds small */

    RunAttrs a = {short_ini, 2, 1, 1};
    H5Run *r;
    snprintf(path, sizeof path, "%s/sealed-run-4-3-2.h5", argv[1]);
    HistoryRow row = {0, 0.5, 0.25, 0.5, 0.0, 0.0};
    if (h5run_create(path, &a, &lay, &r, &e) || h5run_write_model(r, params, &e) ||
        h5run_append_history(r, &row, &e) || h5run_commit(r, &e) || h5run_close(r, &e))
        goto fail;

    HistoryRow rows[2] = {row, {1, 0.4, 0.2, 0.75, 1.0, 100.0}};
    CkptState s = {.step = 3, .steps_per_epoch = 3, .lanes = 1, .n_train = 3,
                   .exact_group = 1, .seed = 1, .data_fingerprint = 42, .epoch_cost = 0.1,
                   .epoch_count = 1, .n_history = 2, .history = rows,
                   .config_text = (char *)short_ini};
    snprintf(path, sizeof path, "%s/sealed-ckpt-4-3-2.h5", argv[1]);
    if (h5ckpt_write(path, &lay, params, &s, &e))
        goto fail;

    const uint8_t images[12] = {0, 255, 7, 9, 1, 2, 3, 4, 200, 100, 50, 25};
    const uint8_t labels[3] = {0, 1, 1};
    snprintf(path, sizeof path, "%s/sealed-input-3x2x2.h5", argv[1]);
    if (h5in_write(path, images, labels, 3, 2, 2, &e))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "make_h5_seeds: %s\n", e.msg);
    return 1;
}
