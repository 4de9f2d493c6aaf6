/* fuzz_h5.c: every HDF5 reader of downhill (checkpoint, run file, input file, info) on
 * one file. Besides memory errors, checks that no HDF5 handle is left open afterwards.
 * Two kinds of inputs, told apart by scripts/fuzz_triage.sh (sealed_input): mutations of
 * files downhill wrote (corpus sealed-*.h5), whose integrity block the readers verify
 * before libhdf5 parses them, so a crash inside libhdf5 on one is a downhill bug; and
 * files without the block (older downhill versions, foreign files: the other seeds, or a
 * mutation that removed the block), parsed by libhdf5 with its own checks only, whose
 * crashes inside libhdf5 are HDF5 1.10's (counted, not fatal). */
#include "fuzz_util.h"

#include <hdf5.h>

#include "io/data.h"
#include "io/ckptfile.h"
#include "io/info.h"
#include "io/inputfile.h"
#include "io/runfile.h"
#include "net/model.h"

#define MAX_READ_BYTES (4u << 20) /* h5in_read reads at most this many bytes */

static void one_line(const Err *e)
{
    if (e->msg[0] == '\0' || strchr(e->msg, '\n'))
        abort();
}

static void read_checkpoint(const char *path)
{
    Layout lay;
    Real *params = NULL;
    CkptState s;
    Err e;
    memset(&s, 0, sizeof s);
    if (h5ckpt_read(path, &lay, &params, &s, &e) == 0) {
        if (!params || !s.config_text || (s.n_history > 0 && !s.history) || s.n_history < 0)
            abort();
        free(params);
        free(s.history);
        free(s.config_text);
        free(s.velocity);
    } else {
        one_line(&e);
        if (params || s.history || s.config_text || s.velocity)
            abort(); /* nothing is handed out on failure */
    }
    if (h5ckpt_step(path, &e) < 0)
        one_line(&e);
}

static void read_run(const char *path)
{
    Layout lay;
    Real *params = NULL;
    char *config = NULL;
    Err e;
    if (h5run_read_model(path, &lay, &params, &config, &e) == 0) {
        if (!params || !config)
            abort();
        free(params);
        free(config);
    } else {
        one_line(&e);
    }
}

static void read_input(const char *path, int images)
{
    int64_t count;
    int rows = 0, cols = 0;
    Err e;
    if (h5in_probe(path, images, &count, &rows, &cols, &e) != 0) {
        one_line(&e);
        return;
    }
    int64_t dim = images ? (int64_t)rows * cols : 1;
    if (count < 0 || dim < 1)
        return; /* data_probe's check_shape refuses these before any read */
    int64_t n = count;
    if (n > 0 && n * dim > MAX_READ_BYTES)
        n = MAX_READ_BYTES / dim;
    Shard s = shard_lanes(n, n > 2 ? 2 : 1, 0, 1);
    uint8_t *out = malloc((size_t)(shard_rows(&s) * dim) + 1);
    if (out && h5in_read(path, images, &s, (int)dim, out, &e) != 0)
        one_line(&e);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    static FILE *devnull;
    if (!path[0]) {
        fuzz_path(path, sizeof path, "file.h5");
        devnull = fopen("/dev/null", "w");
        if (!devnull)
            abort();
    }
    fuzz_write(path, data, size);
    read_checkpoint(path);
    read_run(path);
    read_input(path, 1);
    read_input(path, 0);
    Err e;
    if (h5_info(path, devnull, &e) != 0)
        one_line(&e);
    ssize_t open = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0) {
        fprintf(stderr, "fuzz_h5: %zd HDF5 handles left open\n", open);
        abort();
    }
    return 0;
}
