/* inputfile.h: downhill's HDF5 input files (written by `downhill convert`): /images uint8
 * (N, rows*cols) and /labels uint8 (N), read shard by shard. Layout in docs/FORMATS.md. */
#ifndef DOWNHILL_IO_INPUTFILE_H
#define DOWNHILL_IO_INPUTFILE_H

#include <stdint.h>
#include "core/common.h"
#include "train/shard.h"

#define INPUT_FORMAT_NAME "downhill-input"
#define INPUT_FORMAT_VERSION 1

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

#endif
