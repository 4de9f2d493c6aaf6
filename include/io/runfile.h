/* runfile.h: the HDF5 run file a training run writes (rank 0 only): root attributes,
 * /model (rewritten every epoch), /history (one row per epoch) and /timing. Layout in
 * docs/FORMATS.md. */
#ifndef DOWNHILL_IO_RUNFILE_H
#define DOWNHILL_IO_RUNFILE_H

#include <stdint.h>
#include "core/common.h"
#include "net/model.h"

#define RUN_FORMAT_NAME "downhill-run"
#define RUN_FORMAT_VERSION 1

/* One line of /history: the numbers of one completed epoch (epoch 0 = initial model). */
typedef struct {
    int64_t epoch;
    double train_cost;
    double test_cost;
    double test_accuracy;
    double seconds;
    double samples_per_second;
} HistoryRow;

/* Attributes stored on the root group of a run file. */
typedef struct {
    const char *config_text; /* resolved configuration, INI text */
    int ranks;
    int threads;
    uint64_t seed;
} RunAttrs;

/* An open run file being written (rank 0 only). */
typedef struct H5Run H5Run;

/* h5run_create: creates (truncates) the run file with attributes, /model datasets for
 * the layout and empty extendible /history datasets; *out owns it. */
int h5run_create(const char *path, const RunAttrs *attrs, const Layout *lay, H5Run **out,
                 Err *e);

/* h5run_write_model: writes /model/W1.. and /model/b1.. bit-exactly from params (in the
 * file in memory: h5run_commit puts it on disk). */
int h5run_write_model(H5Run *r, const Real *params, Err *e);

/* h5run_append_history: appends one row to every /history dataset (in memory). */
int h5run_append_history(H5Run *r, const HistoryRow *row, Err *e);

/* h5run_append_timing: appends one value to each /timing/NAME dataset (1-D float64,
 * extendible, created on first use; in memory). */
int h5run_append_timing(H5Run *r, const char *const *names, const double *values, int n,
                        Err *e);

/* h5run_commit: the file as it is now replaces the one on disk whole, sealed with its
 * length and checksum: the disk holds the previous or the new content, never a mix. */
int h5run_commit(H5Run *r, Err *e);

/* h5run_close: closes the file (r may be NULL); returns -1 if the close failed. */
int h5run_close(H5Run *r, Err *e);

/* h5run_read_model: reads a run file's layout and parameters (compute precision;
 * refuses files of another format or precision); *params and *config_text are the
 * caller's to free (config_text may be NULL to skip it). */
int h5run_read_model(const char *path, Layout *lay, Real **params, char **config_text,
                     Err *e);

#endif
