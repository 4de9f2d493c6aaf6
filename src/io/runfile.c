/* runfile.c: the run file (see runfile.h): created by rank 0 at the start of a run, the
 * weights and a /history row written and flushed every epoch, /timing appended per epoch;
 * h5run_read_model reads it back for `downhill eval`. */
#include "io/runfile.h"

#include <stdlib.h>

#include "h5model.h"

#define RUN_DAMAGED_HINT "resume the run from its last checkpoint (--resume auto) to write " \
                         "it again"

/* ---- run files: writing -------------------------------------------------------------- */

struct H5Run {
    hid_t file;
    char *path; /* owned copy, for messages */
    Layout lay;
};

static int run_write_attrs(hid_t f, const RunAttrs *a, const Layout *lay, const char *path,
                           Err *e)
{
    if (h5_header_write(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, a->config_text, lay, path, e) ||
        h5_attr_write(f, "ranks", H5T_NATIVE_INT, 0, &a->ranks, path, e) ||
        h5_attr_write(f, "threads", H5T_NATIVE_INT, 0, &a->threads, path, e) ||
        h5_attr_write(f, "seed", H5T_NATIVE_UINT64, 0, &a->seed, path, e))
        return -1;
    return 0;
}

/* run_create_groups: /model/W1.. /model/b1.. (unwritten) and empty extendible /history. */
static int run_create_groups(hid_t f, const Layout *lay, const char *path, Err *e)
{
    int rc = -1;
    hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED};
    hid_t hist = H5I_INVALID_HID;
    if (h5_model_create(f, lay, path, e))
        return -1;
    H5_CHECK(hist = H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             "/history");
    for (int c = 0; c < HISTORY_COLUMNS; c++)
        if (h5_ds_create(hist, h5_history_names[c], h5_history_type(c), 1, zero, unlimited,
                         path, e))
            goto done;
    rc = 0;
done:
    h5_close(&hist);
    return rc;
}

static void run_free(H5Run *r)
{
    h5_close(&r->file);
    free(r->path);
    free(r);
}

int h5run_create(const char *path, const RunAttrs *attrs, const Layout *lay, H5Run **out,
                 Err *e)
{
    h5_quiet();
    *out = NULL;
    H5Run *r = alloc_array(1, sizeof *r, "run file handle", e);
    if (!r)
        return -1;
    r->file = H5I_INVALID_HID;
    r->lay = *lay;
    if (!(r->path = h5_str_copy(path, e)) || h5_file_create(path, &r->file, e) ||
        run_write_attrs(r->file, attrs, lay, path, e) ||
        run_create_groups(r->file, lay, path, e) ||
        h5_file_commit(r->file, path, 0, e)) {
        run_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int h5run_commit(H5Run *r, Err *e)
{
    return h5_file_commit(r->file, r->path, 0, e);
}

int h5run_write_model(H5Run *r, const Real *params, Err *e)
{
    h5_quiet();
    return h5_model_write(r->file, &r->lay, params, r->path, e);
}

/* column_append: extends the 1-D dataset `name` by one value and writes it there. */
static int column_append(hid_t hist, const char *name, hid_t type, const void *value,
                         const char *path, Err *e)
{
    int rc = -1, rank;
    hsize_t dims[4], one = 1;
    hid_t ds = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    H5_CHECK(ds = H5Dopen2(hist, name, H5P_DEFAULT), name);
    if (h5_ds_shape(ds, name, &rank, dims, path, e))
        goto done;
    hsize_t at = dims[0], size = at + 1;
    H5_CHECK(H5Dset_extent(ds, &size), name);
    H5_CHECK(fspace = H5Dget_space(ds), name);
    H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &at, NULL, &one, NULL), name);
    H5_CHECK(mspace = H5Screate_simple(1, &one, NULL), name);
    H5_CHECK(H5Dwrite(ds, type, mspace, fspace, H5P_DEFAULT, value), name);
    rc = 0;
done:
    h5_close(&mspace);
    h5_close(&fspace);
    h5_close(&ds);
    return rc;
}

int h5run_append_history(H5Run *r, const HistoryRow *row, Err *e)
{
    int rc = -1;
    const char *path = r->path;
    const void *values[HISTORY_COLUMNS] = {&row->epoch, &row->train_cost, &row->test_cost,
                                           &row->test_accuracy, &row->seconds,
                                           &row->samples_per_second};
    hid_t hist = H5I_INVALID_HID;
    h5_quiet();
    H5_CHECK(hist = H5Gopen2(r->file, "history", H5P_DEFAULT), "/history");
    for (int c = 0; c < HISTORY_COLUMNS; c++)
        if (column_append(hist, h5_history_names[c], h5_history_type(c), values[c], path, e))
            goto done;
    rc = 0;
done:
    h5_close(&hist);
    return rc;
}

/* timing_group: /timing, created on first use. */
static int timing_group(hid_t f, hid_t *g, const char *path, Err *e)
{
    htri_t exists = H5Lexists(f, "timing", H5P_DEFAULT);
    if (exists > 0)
        return h5_group_open(f, "timing", g, path, e);
    if ((*g = H5Gcreate2(f, "timing", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        h5_fail(e, path, "/timing", "H5Gcreate2", __FILE__, __LINE__);
        return -1;
    }
    return 0;
}

int h5run_append_timing(H5Run *r, const char *const *names, const double *values, int n,
                        Err *e)
{
    int rc = -1;
    const char *path = r->path;
    hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED};
    hid_t g = H5I_INVALID_HID;
    h5_quiet();
    if (timing_group(r->file, &g, path, e))
        return -1;
    for (int i = 0; i < n; i++) {
        if (H5Lexists(g, names[i], H5P_DEFAULT) <= 0 &&
            h5_ds_create(g, names[i], H5T_NATIVE_DOUBLE, 1, zero, unlimited, path, e))
            goto done;
        if (column_append(g, names[i], H5T_NATIVE_DOUBLE, &values[i], path, e))
            goto done;
    }
    rc = 0;
done:
    h5_close(&g);
    return rc;
}

int h5run_close(H5Run *r, Err *e)
{
    if (!r)
        return 0;
    (void)e; /* the caller committed every change it wants on disk (h5run_commit) */
    h5_quiet();
    run_free(r);
    return 0;
}

/* ---- run files: reading -------------------------------------------------------------- */

static int run_check_header(hid_t f, const char *path, Err *e)
{
    int present;
    if (h5_check_format(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, &present, path, e))
        return -1;
    if (!present)
        return err_set(e, "%s: not a downhill run file (attribute format missing)", path);
    return h5_check_precision(f, path, e);
}

int h5run_read_model(const char *path, Layout *lay, Real **params, char **config_text,
                     Err *e)
{
    int rc = -1;
    hid_t f = H5I_INVALID_HID;
    Real *p = NULL;
    char *cfg = NULL;
    h5_quiet();
    *params = NULL;
    if (config_text)
        *config_text = NULL;
    if (h5_file_open_as(path, &f, NULL, RUN_DAMAGED_HINT, e) || run_check_header(f, path, e) ||
        h5_read_layout(f, lay, path, e))
        goto done;
    if (!(p = alloc_array(lay->n_params, sizeof(Real), "run file parameters", e)) ||
        h5_model_read(f, lay, p, path, e))
        goto done;
    if (config_text && h5_attr_read_string(f, "config", &cfg, path, e))
        goto done;
    if (config_text && !cfg)
        FAIL("%s: attribute config missing", path);
    *params = p;
    p = NULL;
    if (config_text)
        *config_text = cfg;
    cfg = NULL;
    rc = 0;
done:
    free(cfg);
    free(p);
    h5_close(&f);
    return rc;
}
