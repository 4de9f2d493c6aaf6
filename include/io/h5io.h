/* h5io.h: every HDF5 file downhill reads or writes (run files, input files);
 * the only module that includes <hdf5.h>. Layouts are documented in README.md. */
#ifndef DOWNHILL_H5IO_H
#define DOWNHILL_H5IO_H

#include <stdint.h>
#include <stdio.h>
#include "core/common.h"
#include "net/model.h"
#include "train/shard.h"

#define RUN_FORMAT_NAME "downhill-run"
#define RUN_FORMAT_VERSION 1
#define INPUT_FORMAT_NAME "downhill-input"
#define INPUT_FORMAT_VERSION 1

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

/* h5run_write_model: writes /model/W1.. and /model/b1.. bit-exactly from params, flushes. */
int h5run_write_model(H5Run *r, const Real *params, Err *e);

/* h5run_append_history: appends one row to every /history dataset and flushes the file. */
int h5run_append_history(H5Run *r, const HistoryRow *row, Err *e);

/* h5run_append_timing: appends one value to each /timing/NAME dataset (1-D float64,
 * extendible, created on first use) and flushes the file. */
int h5run_append_timing(H5Run *r, const char *const *names, const double *values, int n,
                        Err *e);

/* h5run_close: closes the file (r may be NULL); returns -1 if the close failed. */
int h5run_close(H5Run *r, Err *e);

/* h5run_read_model: reads a run file's layout and parameters (compute precision;
 * refuses files of another format or precision); *params and *config_text are the
 * caller's to free (config_text may be NULL to skip it). */
int h5run_read_model(const char *path, Layout *lay, Real **params, char **config_text,
                     Err *e);

/* h5in_probe: count (and for images the image shape) of /images or /labels of a
 * downhill input file; images: rows*cols pixels per example. */
int h5in_probe(const char *path, int images, int64_t *count, int *img_rows, int *img_cols,
               Err *e);

/* h5in_read: reads the examples of shard s from /images (dim bytes each) or /labels
 * (1 byte each) with one hyperslab selection, into out (shard_rows(s) * width bytes). */
int h5in_read(const char *path, int images, const Shard *s, int dim, uint8_t *out, Err *e);

/* h5in_write: writes a downhill input file: /images uint8 (n, rows*cols), /labels uint8 (n). */
int h5in_write(const char *path, const uint8_t *images, const uint8_t *labels, int64_t n,
               int img_rows, int img_cols, Err *e);

#define CKPT_FORMAT_NAME "downhill-checkpoint"
#define CKPT_FORMAT_VERSION 1

/* The training state besides the weights: everything that decides what comes next. */
typedef struct {
    int64_t step;              /* updates done */
    int64_t steps_per_epoch;   /* updates per epoch */
    int64_t lanes;             /* global batch B (n_train for full batch) */
    int64_t n_train;           /* training examples used */
    int64_t exact_group;       /* lanes per exactly-summed group */
    int32_t reduction;         /* ReductionKind of the run */
    uint64_t seed;             /* model.seed */
    uint64_t data_fingerprint; /* order-independent hash of the training examples */
    double epoch_cost;         /* summed batch costs of the current epoch so far */
    int64_t epoch_count;       /* examples seen in the current epoch so far */
    double lr_scale;           /* learning-rate factor left by rollbacks (1 = none) */
    int64_t rollbacks;         /* rollbacks after divergence so far */
    int64_t n_history;         /* rows in history */
    HistoryRow *history;       /* (n_history) completed epochs, epoch 0 first */
    char *config_text;         /* resolved INI text of the run that wrote it */
} CkptState;

/* h5ckpt_write: writes weights and state to path + ".tmp", flushes it to disk (fsync),
 * renames it to path and syncs the directory: a crash at any moment leaves either the
 * old or the new file whole. Stores a hash of the weights for h5ckpt_read to verify. */
int h5ckpt_write(const char *path, const Layout *lay, const Real *params, const CkptState *s,
                 Err *e);

/* h5ckpt_read: reads and checks a checkpoint (format, version, precision, shapes, weights
 * hash); allocates *params, s->history and s->config_text (the caller frees them). */
int h5ckpt_read(const char *path, Layout *lay, Real **params, CkptState *s, Err *e);

/* h5ckpt_step: the step of a complete checkpoint file (cheap: attributes only), or -1
 * with e set when the file is not a readable downhill checkpoint. */
int64_t h5ckpt_step(const char *path, Err *e);

/* h5_info: prints a summary of a run or input file (layout, config, last epoch, hash). */
int h5_info(const char *path, FILE *out, Err *e);

#endif
