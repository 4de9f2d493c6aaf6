/* h5model.h: what run files and checkpoints share: the root header attributes, the
 * /model group (W1.. b1.. in the compute precision) and the /history columns. Private to
 * src/io/. Layouts in docs/FORMATS.md. */
#ifndef DOWNHILL_IO_H5MODEL_H
#define DOWNHILL_IO_H5MODEL_H

#include "h5util.h"
#include "net/model.h"

#define HISTORY_COLUMNS 6

/* /history columns, in HistoryRow order; column 0 (epoch) is int64, the rest float64. */
extern const char *const h5_history_names[HISTORY_COLUMNS];

/* h5_history_type: the HDF5 type of /history column `column`. */
hid_t h5_history_type(int column);

/* h5_header_write: the root attributes run files and checkpoints share (format,
 * format_version, downhill_version, config (NULL = ""), precision, layers, and the kind:
 * activation, output, cost). */
int h5_header_write(hid_t f, const char *format, int version, const char *config,
                    const Layout *lay, const char *path, Err *e);

/* h5_check_precision: the file's weights are in the compute precision of this build. */
int h5_check_precision(hid_t f, const char *path, Err *e);

/* h5_read_kind: the network's kind from the attributes activation, output and cost (each
 * absent in older files: the seed's value); an unknown name is an error. */
int h5_read_kind(hid_t f, NetKind *k, const char *path, Err *e);

/* h5_read_layout: the layout of attribute layers, checked by layout_init, and its kind
 * (h5_read_kind). */
int h5_read_layout(hid_t f, Layout *lay, const char *path, Err *e);

/* h5_model_create: group /model with datasets W1.. b1.. (unwritten) for the layout. */
int h5_model_create(hid_t f, const Layout *lay, const char *path, Err *e);

/* h5_model_write: writes /model/W1.. and /model/b1.. bit-exactly from params (n_params). */
int h5_model_write(hid_t f, const Layout *lay, const Real *params, const char *path, Err *e);

/* h5_model_read: reads /model/W1.. b1.. into params (n_params), checking every shape
 * against lay and that the values are Real. */
int h5_model_read(hid_t f, const Layout *lay, Real *params, const char *path, Err *e);

#endif
