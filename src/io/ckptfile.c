/* ckptfile.c: the checkpoint format (see ckptfile.h): root header and params_hash, /model,
 * the /state attributes and a fixed-size /history; written to a temporary file, synced and
 * renamed into place; read back checking format, precision, shapes and the weights hash. */
#define _POSIX_C_SOURCE 200809L /* fsync, O_DIRECTORY */
#include "io/ckptfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckptfile_h5.h"
#include "h5model.h"

#define CKPT_UNREADABLE "not a readable HDF5 file (truncated or damaged?)"
#define CKPT_DAMAGED_HINT "use an older checkpoint: --resume auto skips damaged ones"
#define STATE_FIELDS 12
#define HISTORY_VALUE_SIZE sizeof(double)
_Static_assert(sizeof(int64_t) == sizeof(double), "history columns share one value size");

/* Where each /history column lives in a HistoryRow (all 8-byte fields). */
static const size_t history_offsets[HISTORY_COLUMNS] = {
    offsetof(HistoryRow, epoch),   offsetof(HistoryRow, train_cost),
    offsetof(HistoryRow, test_cost), offsetof(HistoryRow, test_accuracy),
    offsetof(HistoryRow, seconds), offsetof(HistoryRow, samples_per_second)};

/* One scalar attribute of /state and where its value lives in a CkptState. */
typedef struct {
    const char *name;
    hid_t type;      /* memory type, also the file type when writing */
    H5T_class_t cls; /* class the stored attribute must have */
    void *value;
} StateField;

/* state_fields: the /state attributes of s, in file order, pointing into s. */
static void state_fields(CkptState *s, StateField fields[STATE_FIELDS])
{
    const StateField all[STATE_FIELDS] = {
        {"step", H5T_NATIVE_INT64, H5T_INTEGER, &s->step},
        {"steps_per_epoch", H5T_NATIVE_INT64, H5T_INTEGER, &s->steps_per_epoch},
        {"lanes", H5T_NATIVE_INT64, H5T_INTEGER, &s->lanes},
        {"n_train", H5T_NATIVE_INT64, H5T_INTEGER, &s->n_train},
        {"exact_group", H5T_NATIVE_INT64, H5T_INTEGER, &s->exact_group},
        {"reduction", H5T_NATIVE_INT32, H5T_INTEGER, &s->reduction},
        {"seed", H5T_NATIVE_UINT64, H5T_INTEGER, &s->seed},
        {"data_fingerprint", H5T_NATIVE_UINT64, H5T_INTEGER, &s->data_fingerprint},
        {"epoch_cost", H5T_NATIVE_DOUBLE, H5T_FLOAT, &s->epoch_cost},
        {"epoch_count", H5T_NATIVE_INT64, H5T_INTEGER, &s->epoch_count},
        {"lr_scale", H5T_NATIVE_DOUBLE, H5T_FLOAT, &s->lr_scale},
        {"rollbacks", H5T_NATIVE_INT64, H5T_INTEGER, &s->rollbacks}};
    memcpy(fields, all, sizeof all);
}

/* params_hash: FNV-1a 64 of the parameter bytes in the file's order (= h5_info's). */
static uint64_t params_hash(const Layout *lay, const Real *params)
{
    return layout_hash(lay, params);
}

/* ---- writing ------------------------------------------------------------------------- */

static int ckpt_write_state(hid_t f, const CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    CkptState copy = *s; /* state_fields points into a writable state */
    StateField fields[STATE_FIELDS];
    hid_t state = H5I_INVALID_HID;
    state_fields(&copy, fields);
    H5_CHECK(state = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/state");
    for (int i = 0; i < STATE_FIELDS; i++)
        if (h5_attr_write(state, fields[i].name, fields[i].type, 0, fields[i].value, path, e))
            goto done;
    rc = 0;
done:
    h5_close(&state);
    return rc;
}

/* ckpt_write_history: each /history column as a fixed-size 1-D dataset of n_history values. */
static int ckpt_write_history(hid_t f, const CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    hsize_t n = (hsize_t)s->n_history;
    unsigned char *buf; /* (n_history) values of one column */
    hid_t hist = H5I_INVALID_HID;
    if (s->n_history < 0 || (s->n_history > 0 && !s->history))
        return err_set(e, "%s: invalid history (%lld rows)", path, (long long)s->n_history);
    if (!(buf = alloc_array((size_t)n, HISTORY_VALUE_SIZE, "checkpoint history", e)))
        return -1;
    H5_CHECK(hist = H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             "/history");
    for (int c = 0; c < HISTORY_COLUMNS; c++) {
        for (hsize_t i = 0; i < n; i++)
            memcpy(buf + i * HISTORY_VALUE_SIZE,
                   (const char *)&s->history[i] + history_offsets[c], HISTORY_VALUE_SIZE);
        if (h5_ds_create(hist, h5_history_names[c], h5_history_type(c), 1, &n, NULL, path, e) ||
            (n > 0 &&
             h5_ds_write_all(hist, h5_history_names[c], h5_history_type(c), buf, path, e)))
            goto done;
    }
    rc = 0;
done:
    h5_close(&hist);
    free(buf);
    return rc;
}

/* ckpt_write_velocity: /optimizer/velocity, a 1-D dataset of the n_params velocities in the
 * files' order (W1 row-major, b1, W2, ...), when s has one. */
static int ckpt_write_velocity(hid_t f, const Layout *lay, const CkptState *s,
                               const char *path, Err *e)
{
    int rc = -1;
    hsize_t n = (hsize_t)lay->n_params;
    Real *buf; /* (n_params) the velocity in the files' order */
    hid_t opt = H5I_INVALID_HID;
    if (!s->velocity)
        return 0;
    if (!(buf = alloc_array(lay->n_params, sizeof(Real), "checkpoint velocity", e)))
        return -1;
    layout_w1_export(lay, s->velocity, buf);
    memcpy(buf + lay->b_off[1], s->velocity + lay->b_off[1],
           (lay->n_params - lay->b_off[1]) * sizeof(Real));
    H5_CHECK(opt = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             "/optimizer");
    if (h5_ds_create(opt, "velocity", h5_real_type(), 1, &n, NULL, path, e) ||
        h5_ds_write_all(opt, "velocity", h5_real_type(), buf, path, e))
        goto done;
    rc = 0;
done:
    h5_close(&opt);
    free(buf);
    return rc;
}

/* ckpt_write_file: the whole checkpoint into a new file at path, closed on return. */
static int ckpt_write_file(const char *path, const Layout *lay, const Real *params,
                           const CkptState *s, Err *e)
{
    int rc = -1;
    uint64_t hash = params_hash(lay, params);
    hid_t f = H5I_INVALID_HID;
    if (h5_file_create(path, &f, e) ||
        h5_header_write(f, CKPT_FORMAT_NAME, CKPT_FORMAT_VERSION, s->config_text, lay, path,
                        e) ||
        h5_attr_write(f, "params_hash", H5T_NATIVE_UINT64, 0, &hash, path, e) ||
        h5_model_create(f, lay, path, e) || h5_model_write(f, lay, params, path, e) ||
        ckpt_write_state(f, s, path, e) || ckpt_write_history(f, s, path, e) ||
        ckpt_write_velocity(f, lay, s, path, e))
        goto done;
    rc = h5_file_close_sealed(&f, path, 0, e);
done:
    h5_close(&f);
    return rc;
}

/* fsync_path: opens path with flags and fsyncs it (a directory may refuse with EINVAL:
 * some file systems cannot sync directories, which is then not an error). */
static int fsync_path(const char *path, int flags, Err *e)
{
    int rc = 0, fd = open(path, flags);
    if (fd < 0)
        return err_set(e, "%s: cannot open it to sync it to disk (%s)", path, strerror(errno));
    if (fsync(fd) != 0 && !((flags & O_DIRECTORY) && errno == EINVAL))
        rc = err_set(e, "%s: cannot sync it to disk (%s; disk full or failing?)", path,
                     strerror(errno));
    close(fd);
    return rc;
}

/* dir_of: malloc'ed directory part of path ("." when it has none). */
static char *dir_of(const char *path, Err *e)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash && slash > path ? (size_t)(slash - path) : 1;
    char *dir = alloc_array(len + 1, 1, "directory name", e);
    if (dir)
        memcpy(dir, slash ? path : ".", len);
    return dir;
}

int h5ckpt_write(const char *path, const Layout *lay, const Real *params, const CkptState *s,
                 Err *e)
{
    int rc = -1;
    size_t len = strlen(path);
    char *dir = NULL, *tmp = alloc_array(len + sizeof ".tmp", 1, "checkpoint path", e);
    h5_quiet();
    if (!tmp)
        return -1;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    if (ckpt_write_file(tmp, lay, params, s, e) || fsync_path(tmp, O_RDONLY, e))
        goto fail;
    if (rename(tmp, path) != 0) {
        err_set(e, "%s: cannot rename %s to it (%s)", path, tmp, strerror(errno));
        goto fail;
    }
    rc = (dir = dir_of(path, e)) ? fsync_path(dir, O_RDONLY | O_DIRECTORY, e) : -1;
    goto done;
fail:
    remove(tmp);
done:
    free(dir);
    free(tmp);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

/* ckpt_check_header: format is downhill-checkpoint, of the version this build reads. */
int ckpt_check_header(hid_t f, const char *path, Err *e)
{
    char *fmt = NULL;
    int present, rc;
    if (h5_attr_read_string(f, "format", &fmt, path, e))
        return -1;
    if (!fmt)
        rc = err_set(e, "%s: not a downhill checkpoint (attribute format missing)", path);
    else if (strcmp(fmt, CKPT_FORMAT_NAME) != 0)
        rc = err_set(e, "%s: not a downhill checkpoint (format \"%s\")", path,
                     h5_printable(fmt));
    else
        rc = h5_check_format(f, CKPT_FORMAT_NAME, CKPT_FORMAT_VERSION, &present, path, e);
    free(fmt);
    return rc;
}

/* ckpt_open: opens path read-only and checks its header; the caller closes *f. */
static int ckpt_open(const char *path, hid_t *f, Err *e)
{
    if (h5_file_open_as(path, f, CKPT_UNREADABLE, CKPT_DAMAGED_HINT, e))
        return -1;
    return ckpt_check_header(*f, path, e);
}

/* ckpt_read_state: every /state attribute into s (each must be present). */
int ckpt_read_state(hid_t f, CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    htri_t has;
    StateField fields[STATE_FIELDS];
    hid_t state = H5I_INVALID_HID;
    state_fields(s, fields);
    if (h5_group_open(f, "state", &state, path, e))
        return -1;
    for (int i = 0; i < STATE_FIELDS; i++) {
        const char *name = fields[i].name;
        H5_CHECK(has = H5Aexists(state, name), name);
        if (!has)
            FAIL("%s: attribute /state/%s missing (not a complete downhill checkpoint)", path,
                 name);
        if (h5_attr_read_nums(state, name, fields[i].cls, fields[i].type, fields[i].value, 1,
                              NULL, path, e))
            goto done;
    }
    if (s->step < 0 || s->steps_per_epoch < 1)
        FAIL("%s: /state holds step %lld and steps_per_epoch %lld: invalid", path,
             (long long)s->step, (long long)s->steps_per_epoch);
    rc = 0;
done:
    h5_close(&state);
    return rc;
}

/* history_column: opens /history/<name of column c> (*ds, the caller closes it), checks it
 * is 1-D of the column's class; *len = its length. */
static int history_column(hid_t hist, int c, hid_t *ds, hsize_t *len, const char *path, Err *e)
{
    const char *name = h5_history_names[c];
    int rank;
    hsize_t dims[4];
    htri_t has;
    H5T_class_t cls, want = c ? H5T_FLOAT : H5T_INTEGER;
    size_t size;
    H5_CHECK(has = H5Lexists(hist, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: dataset /history/%s missing", path, name);
    H5_CHECK(*ds = H5Dopen2(hist, name, H5P_DEFAULT), name);
    if (h5_ds_shape(*ds, name, &rank, dims, path, e) ||
        h5_ds_type(*ds, name, &cls, &size, path, e))
        return -1;
    if (rank != 1 || cls != want)
        FAIL("%s: /history/%s holds rank-%d %s, expected 1-D %s", path, name, rank,
             h5_class_name(cls), h5_class_name(want));
    *len = dims[0];
    return 0;
done:
    return -1;
}

/* ckpt_read_history: all /history columns (of equal length) into s->history (allocated). */
static int ckpt_read_history(hid_t f, CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    hsize_t n = 0, len;
    unsigned char *buf = NULL; /* (n) values of one column */
    hid_t hist = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    if (h5_group_open(f, "history", &hist, path, e))
        return -1;
    for (int c = 0; c < HISTORY_COLUMNS; c++, h5_close(&ds)) {
        if (history_column(hist, c, &ds, &len, path, e))
            goto done;
        if (c == 0 && (!(buf = alloc_array(len, HISTORY_VALUE_SIZE, "history", e)) ||
                       !(s->history = alloc_array(len, sizeof(HistoryRow), "history", e))))
            goto done;
        if (c == 0)
            n = len;
        if (len != n)
            FAIL("%s: /history/%s has %llu rows, /history/epoch %llu", path,
                 h5_history_names[c], (unsigned long long)len, (unsigned long long)n);
        if (n > 0)
            H5_CHECK(H5Dread(ds, h5_history_type(c), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                     h5_history_names[c]);
        for (hsize_t i = 0; i < n; i++)
            memcpy((char *)&s->history[i] + history_offsets[c], buf + i * HISTORY_VALUE_SIZE,
                   HISTORY_VALUE_SIZE);
    }
    s->n_history = (int64_t)n;
    rc = 0;
done:
    h5_close(&ds);
    h5_close(&hist);
    free(buf);
    return rc;
}

/* ckpt_read_velocity: /optimizer/velocity (n_params Real values in the files' order) into
 * s->velocity (allocated, the parameters' layout), or NULL when the file has none. */
static int ckpt_read_velocity(hid_t f, const Layout *lay, CkptState *s, const char *path,
                              Err *e)
{
    int rc = -1, rank;
    hsize_t dims[4];
    htri_t has;
    H5T_class_t cls;
    size_t size;
    Real *buf = NULL; /* (n_params) the velocity in the files' order */
    hid_t ds = H5I_INVALID_HID;
    s->velocity = NULL;
    H5_CHECK(has = H5Lexists(f, "optimizer", H5P_DEFAULT), "/optimizer");
    if (has)
        H5_CHECK(has = H5Lexists(f, "optimizer/velocity", H5P_DEFAULT), "/optimizer/velocity");
    if (!has)
        return 0;
    H5_CHECK(ds = H5Dopen2(f, "optimizer/velocity", H5P_DEFAULT), "/optimizer/velocity");
    if (h5_ds_shape(ds, "velocity", &rank, dims, path, e) ||
        h5_ds_type(ds, "velocity", &cls, &size, path, e))
        goto done;
    if (rank != 1 || dims[0] != (hsize_t)lay->n_params || cls != H5T_FLOAT ||
        size != sizeof(Real))
        FAIL("%s: /optimizer/velocity is not %zu %s values (one per parameter)", path,
             lay->n_params, REAL_NAME);
    if (!(buf = alloc_array(lay->n_params, sizeof(Real), "checkpoint velocity", e)) ||
        !(s->velocity = alloc_array(lay->n_params, sizeof(Real), "checkpoint velocity", e)))
        goto done;
    H5_CHECK(H5Dread(ds, h5_real_type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
             "/optimizer/velocity");
    layout_w1_import(lay, buf, s->velocity);
    memcpy(s->velocity + lay->b_off[1], buf + lay->b_off[1],
           (lay->n_params - lay->b_off[1]) * sizeof(Real));
    rc = 0;
done:
    if (rc) {
        free(s->velocity);
        s->velocity = NULL;
    }
    h5_close(&ds);
    free(buf);
    return rc;
}

int h5ckpt_read(const char *path, Layout *lay, Real **params, CkptState *s, Err *e)
{
    int rc = -1;
    uint64_t stored;
    CkptState got = {0};
    Real *p = NULL; /* (n_params) */
    hid_t f = H5I_INVALID_HID;
    h5_quiet();
    *params = NULL;
    if (ckpt_open(path, &f, e) || h5_check_precision(f, path, e) ||
        h5_read_layout(f, lay, path, e) ||
        h5_attr_read_ints(f, "params_hash", H5T_NATIVE_UINT64, &stored, 1, NULL, path, e))
        goto done;
    if (!(p = alloc_array(lay->n_params, sizeof(Real), "checkpoint parameters", e)) ||
        h5_model_read(f, lay, p, path, e))
        goto done;
    if (params_hash(lay, p) != stored)
        FAIL("%s: the weights do not match their stored hash: the file is corrupted (use an "
             "older checkpoint)", path);
    if (ckpt_read_state(f, &got, path, e) || ckpt_read_history(f, &got, path, e) ||
        h5_attr_read_string(f, "config", &got.config_text, path, e) ||
        ckpt_read_velocity(f, lay, &got, path, e))
        goto done;
    if (!got.config_text)
        FAIL("%s: attribute config missing", path);
    htri_t has = H5Aexists(f, "numerics");
    if (has < 0 || (has > 0 && h5_attr_read_int(f, "numerics", &got.numerics, path, e)))
        FAIL("%s: attribute numerics unreadable", path);
    *s = got;
    *params = p;
    p = NULL;
    rc = 0;
done:
    if (rc) {
        free(got.history);
        free(got.config_text);
        free(got.velocity);
        s->history = NULL;
        s->config_text = NULL;
        s->velocity = NULL;
    }
    free(p);
    h5_close(&f);
    return rc;
}

int64_t h5ckpt_step(const char *path, Err *e)
{
    int64_t step = -1;
    hid_t f = H5I_INVALID_HID, state = H5I_INVALID_HID;
    h5_quiet();
    if (ckpt_open(path, &f, e) || h5_group_open(f, "state", &state, path, e) ||
        h5_attr_read_ints(state, "step", H5T_NATIVE_INT64, &step, 1, NULL, path, e))
        step = -1;
    else if (step < 0)
        step = err_set(e, "%s: /state holds step %lld: invalid", path, (long long)step);
    h5_close(&state);
    h5_close(&f);
    return step;
}
