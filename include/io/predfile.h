/* predfile.h: the predictions file of `downhill eval --predictions FILE`: one row per
 * example (index, label, predicted class, the network's outputs) as CSV (FILE ends in
 * .csv) or HDF5 (.h5). Written whole by one rank. Layout in docs/FORMATS.md. */
#ifndef DOWNHILL_IO_PREDFILE_H
#define DOWNHILL_IO_PREDFILE_H

#include <stdint.h>
#include "core/common.h"

#define PRED_FORMAT_NAME "downhill-predictions"
#define PRED_FORMAT_VERSION 1

/* What a predictions file holds; the arrays belong to the caller. */
typedef struct {
    const char *model;        /* the run file evaluated */
    const char *data;         /* the images file evaluated */
    int64_t count;            /* examples, in the data set's order (index 0 .. count - 1) */
    int classes;              /* outputs per example */
    const uint8_t *labels;    /* (count) */
    const int32_t *predicted; /* (count): the first largest output */
    const Real *outputs;      /* (count, classes) */
    const int64_t *confusion; /* (classes, classes) [label][predicted] counts, or NULL */
} Predictions;

/* predfile_check: before any work, that `path` ends in .csv or .h5 (case-insensitive),
 * is not `keep` (the run file: never replaced) and can be written (its folder exists
 * and is writable; an existing file is writable and not a folder). */
int predfile_check(const char *path, const char *keep, Err *e);

/* predfile_write: writes p to `path` (CSV or HDF5 by its extension), replacing any file
 * there; a file left incomplete by an error is removed. */
int predfile_write(const char *path, const Predictions *p, Err *e);

#endif
