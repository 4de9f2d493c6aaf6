/* h5model.c: what run files and checkpoints share (see h5model.h): the root header, the
 * precision and layout checks, the /model datasets and the /history column table. */
#include "h5model.h"

#include <stdlib.h>
#include <string.h>

const char *const h5_history_names[HISTORY_COLUMNS] = {
    "epoch", "train_cost", "test_cost", "test_accuracy", "seconds", "samples_per_second"};

/* h5_header_write: the root attributes run files and checkpoints share. */
int h5_header_write(hid_t f, const char *format, int version, const char *config,
                    const Layout *lay, const char *path, Err *e)
{
    int numerics = DOWNHILL_NUMERICS;
    if (h5_attr_write_string(f, "format", format, path, e) ||
        h5_attr_write(f, "format_version", H5T_NATIVE_INT, 0, &version, path, e) ||
        h5_attr_write_string(f, "downhill_version", DOWNHILL_VERSION, path, e) ||
        h5_attr_write(f, "numerics", H5T_NATIVE_INT, 0, &numerics, path, e) ||
        h5_attr_write_string(f, "config", config ? config : "", path, e) ||
        h5_attr_write_string(f, "precision", REAL_NAME, path, e) ||
        h5_attr_write(f, "layers", H5T_NATIVE_INT, (hsize_t)lay->n_layers, lay->n, path, e) ||
        h5_attr_write_string(f, "activation", kind_activation_name(lay->kind.hidden), path, e) ||
        h5_attr_write_string(f, "output", kind_output_name(lay->kind.output), path, e) ||
        h5_attr_write_string(f, "cost", kind_cost_name(lay->kind.cost), path, e))
        return -1;
    return 0;
}

hid_t h5_history_type(int column)
{
    return column ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
}

/* h5_model_create: group /model with datasets W1.. b1.. (unwritten) for the layout. */
int h5_model_create(hid_t f, const Layout *lay, const char *path, Err *e)
{
    int rc = -1;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    H5_CHECK(model = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/model");
    for (int l = 1; l < lay->n_layers; l++) {
        hsize_t w[2] = {(hsize_t)lay->n[l], (hsize_t)lay->n[l - 1]};
        snprintf(name, sizeof name, "W%d", l);
        if (h5_ds_create(model, name, h5_real_type(), 2, w, NULL, path, e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (h5_ds_create(model, name, h5_real_type(), 1, w, NULL, path, e))
            goto done;
    }
    rc = 0;
done:
    h5_close(&model);
    return rc;
}

/* h5_model_write: writes /model/W1.. and /model/b1.. bit-exactly from params (W1 row-major). */
int h5_model_write(hid_t f, const Layout *lay, const Real *params, const char *path,
                   Err *e)
{
    int rc = -1;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    Real *w1 = alloc_array(lay->b_off[1], sizeof(Real), "W1 in file order", e);
    if (!w1)
        return -1;
    layout_w1_export(lay, params, w1);
    H5_CHECK(model = H5Gopen2(f, "model", H5P_DEFAULT), "/model");
    for (int l = 1; l < lay->n_layers; l++) {
        snprintf(name, sizeof name, "W%d", l);
        if (h5_ds_write_all(model, name, h5_real_type(), l == 1 ? w1 : params + lay->w_off[l],
                            path, e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (h5_ds_write_all(model, name, h5_real_type(), params + lay->b_off[l], path, e))
            goto done;
    }
    rc = 0;
done:
    h5_close(&model);
    free(w1);
    return rc;
}

/* h5_check_precision: the file's weights are in the compute precision of this build. */
int h5_check_precision(hid_t f, const char *path, Err *e)
{
    int rc = -1;
    char *precision = NULL;
    if (h5_attr_read_string(f, "precision", &precision, path, e))
        return -1;
    if (!precision)
        err_set(e, "%s: attribute precision missing", path);
    else if (strcmp(precision, REAL_NAME) != 0)
        err_set(e, "%s holds %s weights but this downhill computes in %s: use the matching "
                   "build (cmake -DDOWNHILL_DOUBLE=%s)", path, precision, REAL_NAME,
                sizeof(Real) == sizeof(double) ? "OFF" : "ON");
    else
        rc = 0;
    free(precision);
    return rc;
}

int h5_read_kind(hid_t f, NetKind *k, const char *path, Err *e)
{
    char *names[3] = {NULL, NULL, NULL};
    int rc = -1;
    if (h5_attr_read_string(f, "activation", &names[0], path, e) == 0 &&
        h5_attr_read_string(f, "output", &names[1], path, e) == 0 &&
        h5_attr_read_string(f, "cost", &names[2], path, e) == 0)
        rc = kind_parse(k, names[0], names[1], names[2], path, e);
    for (int i = 0; i < 3; i++)
        free(names[i]);
    return rc;
}

int h5_read_layout(hid_t f, Layout *lay, const char *path, Err *e)
{
    int sizes[MODEL_MAX_LAYERS], n;
    Err sub;
    NetKind kind;
    if (h5_attr_read_ints(f, "layers", H5T_NATIVE_INT, sizes, MODEL_MAX_LAYERS, &n, path, e) ||
        h5_read_kind(f, &kind, path, e))
        return -1;
    if (layout_init(lay, sizes, n, &sub))
        return err_set(e, "%s: attribute layers: %s", path, sub.msg);
    lay->kind = kind;
    return 0;
}

/* read_real: reads /model/<name>, checking its shape and that it holds Real values. */
static int read_real(hid_t model, const char *name, int rank, const hsize_t *want, Real *buf,
                     const char *path, Err *e)
{
    int rc = -1, got_rank;
    hsize_t dims[4];
    char s1[SHAPE_LEN], s2[SHAPE_LEN];
    htri_t has;
    H5T_class_t cls;
    size_t size;
    hid_t ds = H5I_INVALID_HID;
    H5_CHECK(has = H5Lexists(model, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: dataset /model/%s missing", path, name);
    H5_CHECK(ds = H5Dopen2(model, name, H5P_DEFAULT), name);
    if (h5_ds_shape(ds, name, &got_rank, dims, path, e) ||
        h5_ds_type(ds, name, &cls, &size, path, e))
        goto done;
    if (got_rank != rank || dims[0] != want[0] || (rank == 2 && dims[1] != want[1]))
        FAIL("%s: /model/%s has shape %s, expected %s (from attribute layers)", path, name,
             h5_fmt_shape(s1, sizeof s1, got_rank, dims),
             h5_fmt_shape(s2, sizeof s2, rank, want));
    if (cls != H5T_FLOAT || size != sizeof(Real))
        FAIL("%s: /model/%s holds %zu-byte %s, expected %s", path, name, size,
             h5_class_name(cls), REAL_NAME);
    H5_CHECK(H5Dread(ds, h5_real_type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name);
    rc = 0;
done:
    h5_close(&ds);
    return rc;
}

int h5_model_read(hid_t f, const Layout *lay, Real *params, const char *path, Err *e)
{
    int rc = -1;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    Real *w1 = alloc_array(lay->b_off[1], sizeof(Real), "W1 in file order", e);
    if (!w1 || h5_group_open(f, "model", &model, path, e)) {
        free(w1);
        return -1;
    }
    for (int l = 1; l < lay->n_layers; l++) {
        hsize_t w[2] = {(hsize_t)lay->n[l], (hsize_t)lay->n[l - 1]};
        snprintf(name, sizeof name, "W%d", l);
        if (read_real(model, name, 2, w, l == 1 ? w1 : params + lay->w_off[l], path, e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (read_real(model, name, 1, w, params + lay->b_off[l], path, e))
            goto done;
    }
    layout_w1_import(lay, w1, params);
    rc = 0;
done:
    h5_close(&model);
    free(w1);
    return rc;
}
