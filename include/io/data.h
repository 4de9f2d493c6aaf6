/* data.h: labelled image sets from MNIST-format IDX files (plain or gzip) or downhill
 * HDF5 input files; each rank loads only its shard, as bytes (pixels scaled at use). */
#ifndef DOWNHILL_DATA_H
#define DOWNHILL_DATA_H

#include <stdint.h>
#include "core/common.h"
#include "train/shard.h"

/* What a pair of image/label files holds, read from their headers. */
typedef struct {
    int64_t count;   /* examples (images and labels agree) */
    int img_rows;    /* image height */
    int img_cols;    /* image width */
    int dim;         /* img_rows * img_cols */
} DataInfo;

/* A shard of a labelled image set. */
typedef struct {
    DataInfo info;    /* of the files (count before any limit) */
    Shard shard;      /* which examples are held */
    int64_t rows;     /* examples held = shard_rows(&shard) */
    uint8_t *images;  /* (rows, info.dim), row-major, pixel bytes 0..255 */
    uint8_t *labels;  /* (rows) */
} Dataset;

/* data_probe: opens both files, checks format, magic, sizes and that counts agree. */
int data_probe(const char *images, const char *labels, DataInfo *info, Err *e);

/* data_load: loads the examples of shard s (s->n <= info count) and checks every held
 * label is below n_classes. On error d is left empty. Free with data_free. */
int data_load(const char *images, const char *labels, const Shard *s, int n_classes,
              Dataset *d, Err *e);

/* data_free: releases d's buffers (safe on an empty or failed Dataset). */
void data_free(Dataset *d);

/* data_is_hdf5: 1 if the file is HDF5 (the signature at offset 0, or at 512 after a user
 * block, or downhill's integrity block first), 0 if not, -1 if unreadable. */
int data_is_hdf5(const char *path, Err *e);

/* data_read_idx_all: reads a whole IDX file pair (for convert); caller frees both buffers. */
int data_read_idx_all(const char *images, const char *labels, DataInfo *info,
                      uint8_t **image_buf, uint8_t **label_buf, Err *e);

#endif
