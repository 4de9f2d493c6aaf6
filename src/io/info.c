/* info.c: `downhill info` (see info.h): recognises the file by its format attribute and
 * prints its attributes, the shape and hash of /model, the last /history row and the
 * configuration; input files without a format attribute are accepted when they hold
 * /images. */
#include "io/info.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ckptfile_h5.h"
#include "core/hash.h"
#include "h5model.h"
#include "io/ckptfile.h"
#include "io/inputfile.h"
#include "io/runfile.h"

static int info_string(hid_t f, const char *name, FILE *out, const char *path, Err *e)
{
    char *s = NULL;
    if (h5_attr_read_string(f, name, &s, path, e))
        return -1;
    if (!s)
        return err_set(e, "%s: attribute %s missing", path, name);
    fprintf(out, "%s: %s\n", name, s);
    free(s);
    return 0;
}

static int info_ints(hid_t f, const char *name, FILE *out, const char *path, Err *e)
{
    int v;
    if (h5_attr_read_int(f, name, &v, path, e))
        return -1;
    fprintf(out, "%s: %d\n", name, v);
    return 0;
}

/* info_dataset: prints one /model dataset's shape and type and hashes its bytes. */
static int info_dataset(hid_t model, const char *name, uint64_t *hash, FILE *out,
                        const char *path, Err *e)
{
    int rc = -1, rank;
    hsize_t dims[4], points = 1;
    char shape[SHAPE_LEN];
    H5T_class_t cls;
    size_t size;
    void *buf = NULL;
    hid_t ds = H5I_INVALID_HID;
    H5_CHECK(ds = H5Dopen2(model, name, H5P_DEFAULT), name);
    if (h5_ds_shape(ds, name, &rank, dims, path, e) ||
        h5_ds_type(ds, name, &cls, &size, path, e))
        goto done;
    if (cls != H5T_FLOAT || (size != 4 && size != 8))
        FAIL("%s: /model/%s holds %zu-byte %s, expected float32 or float64", path, name,
             size, h5_class_name(cls));
    for (int i = 0; i < rank; i++)
        points *= dims[i];
    fprintf(out, "/model/%s: %s float%zu\n", name,
            h5_fmt_shape(shape, sizeof shape, rank, dims), size * 8);
    if (!(buf = alloc_array((size_t)points, size, name, e)))
        goto done;
    H5_CHECK(H5Dread(ds, size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                     H5P_DEFAULT, buf),
             name);
    *hash = hash_fnv1a(*hash, buf, (size_t)points * size);
    rc = 0;
done:
    free(buf);
    h5_close(&ds);
    return rc;
}

/* info_model: layers, parameter count, each /model dataset and the parameter hash (also
 * into *hash_out). */
static int info_model(hid_t f, FILE *out, uint64_t *hash_out, const char *path, Err *e)
{
    int sizes[MODEL_MAX_LAYERS], n, rc = -1;
    long long params = 0;
    uint64_t hash = HASH_FNV_BASIS;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    Layout lay;
    if (h5_attr_read_ints(f, "layers", H5T_NATIVE_INT, sizes, MODEL_MAX_LAYERS, &n, path, e))
        return -1;
    if (layout_init(&lay, sizes, n, e)) { /* a damaged file: sizes out of range */
        Err why = *e;
        return err_set(e, "%s: invalid layers attribute: %s", path, why.msg);
    }
    params = (long long)lay.n_params;
    fprintf(out, "layers:");
    for (int l = 0; l < n; l++)
        fprintf(out, " %d", sizes[l]);
    fprintf(out, "\nparameters: %lld\n", params);
    if (h5_read_kind(f, &lay.kind, path, e))
        return -1;
    fprintf(out, "activation: %s\noutput: %s\ncost: %s\n", kind_activation_name(lay.kind.hidden),
            kind_output_name(lay.kind.output), kind_cost_name(lay.kind.cost));
    if (h5_group_open(f, "model", &model, path, e))
        return -1;
    for (int l = 1; l < n; l++) {
        snprintf(name, sizeof name, "W%d", l);
        if (info_dataset(model, name, &hash, out, path, e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (info_dataset(model, name, &hash, out, path, e))
            goto done;
    }
    fprintf(out, "params_hash: %016llx\n", (unsigned long long)hash);
    *hash_out = hash;
    rc = 0;
done:
    h5_close(&model);
    return rc;
}

/* read_last: the length of 1-D /history/<name> and its last value (if any) into value. */
static int read_last(hid_t hist, const char *name, hid_t type, void *value, hsize_t *len,
                     const char *path, Err *e)
{
    int rc = -1, rank;
    hsize_t dims[4], one = 1;
    hid_t ds = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    H5_CHECK(ds = H5Dopen2(hist, name, H5P_DEFAULT), name);
    if (h5_ds_shape(ds, name, &rank, dims, path, e))
        goto done;
    if (rank != 1)
        FAIL("%s: /history/%s has rank %d, expected 1", path, name, rank);
    *len = dims[0];
    if (*len == 0) {
        rc = 0;
        goto done;
    }
    hsize_t at = dims[0] - 1;
    H5_CHECK(fspace = H5Dget_space(ds), name);
    H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &at, NULL, &one, NULL), name);
    H5_CHECK(mspace = H5Screate_simple(1, &one, NULL), name);
    H5_CHECK(H5Dread(ds, type, mspace, fspace, H5P_DEFAULT, value), name);
    rc = 0;
done:
    h5_close(&mspace);
    h5_close(&fspace);
    h5_close(&ds);
    return rc;
}

static int info_history(hid_t f, FILE *out, const char *path, Err *e)
{
    int rc = -1;
    int64_t epoch = 0;
    double v[HISTORY_COLUMNS];
    hsize_t len = 0, len_c;
    hid_t hist = H5I_INVALID_HID;
    if (h5_group_open(f, "history", &hist, path, e))
        return -1;
    if (read_last(hist, h5_history_names[0], H5T_NATIVE_INT64, &epoch, &len, path, e))
        goto done;
    for (int c = 1; c < HISTORY_COLUMNS; c++)
        if (read_last(hist, h5_history_names[c], H5T_NATIVE_DOUBLE, &v[c], &len_c, path, e))
            goto done;
        else if (len_c != len)
            FAIL("%s: /history/%s has %llu rows, /history/epoch %llu", path,
                 h5_history_names[c], (unsigned long long)len_c, (unsigned long long)len);
    fprintf(out, "history_length: %llu\n", (unsigned long long)len);
    if (len > 0) {
        fprintf(out, "last_epoch: %" PRId64 "\n", epoch);
        for (int c = 1; c < HISTORY_COLUMNS; c++)
            fprintf(out, "last_%s: %.9g\n", h5_history_names[c], v[c]);
    }
    rc = 0;
done:
    h5_close(&hist);
    return rc;
}

/* info_config: the configuration text, each line indented under "config:". */
static int info_config(hid_t f, FILE *out, const char *path, Err *e)
{
    char *cfg = NULL;
    if (h5_attr_read_string(f, "config", &cfg, path, e))
        return -1;
    if (!cfg)
        return err_set(e, "%s: attribute config missing", path);
    fprintf(out, "config:\n");
    for (char *line = cfg; *line;) {
        size_t len = strcspn(line, "\n");
        fprintf(out, "  %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(cfg);
    return 0;
}

/* info_numerics: the numerics version the file's arithmetic had ("not recorded" in files
 * of older downhill versions). */
static int info_numerics(hid_t f, FILE *out, const char *path, Err *e)
{
    int v = 0;
    htri_t has = H5Aexists(f, "numerics");
    if (has < 0 || (has > 0 && h5_attr_read_int(f, "numerics", &v, path, e)))
        return err_set(e, "%s: attribute numerics unreadable", path);
    if (has > 0)
        fprintf(out, "numerics: %d\n", v);
    else
        fprintf(out, "numerics: not recorded (an older downhill)\n");
    return 0;
}

static int info_run(hid_t f, FILE *out, const char *path, Err *e)
{
    int present;
    uint64_t seed, hash;
    if (h5_check_format(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, &present, path, e))
        return -1;
    fprintf(out, "file: %s\nformat: %s\nformat_version: %d\n", path, RUN_FORMAT_NAME,
            RUN_FORMAT_VERSION);
    if (info_string(f, "downhill_version", out, path, e) || info_numerics(f, out, path, e) ||
        info_string(f, "precision", out, path, e) || info_ints(f, "ranks", out, path, e) ||
        info_ints(f, "threads", out, path, e) ||
        h5_attr_read_ints(f, "seed", H5T_NATIVE_UINT64, &seed, 1, NULL, path, e))
        return -1;
    fprintf(out, "seed: %llu\n", (unsigned long long)seed);
    if (info_model(f, out, &hash, path, e) || info_history(f, out, path, e) ||
        info_config(f, out, path, e))
        return -1;
    return 0;
}

/* info_state: the /state attributes, with the epoch and position the step stands at. */
static int info_state(hid_t f, FILE *out, const char *path, Err *e)
{
    CkptState s = {0};
    if (ckpt_read_state(f, &s, path, e))
        return -1;
    fprintf(out, "step: %" PRId64 "\nsteps_per_epoch: %" PRId64 "\n", s.step,
            s.steps_per_epoch);
    fprintf(out, "epoch: %" PRId64 "\nposition: %" PRId64 "\n", s.step / s.steps_per_epoch,
            s.step % s.steps_per_epoch);
    fprintf(out, "lanes: %" PRId64 "\nn_train: %" PRId64 "\nexact_group: %" PRId64 "\n",
            s.lanes, s.n_train, s.exact_group);
    fprintf(out, "reduction: %" PRId32 "\nseed: %" PRIu64 "\n", s.reduction, s.seed);
    fprintf(out, "data_fingerprint: %016" PRIx64 "\n", s.data_fingerprint);
    fprintf(out, "epoch_cost: %.17g\nepoch_count: %" PRId64 "\n", s.epoch_cost,
            s.epoch_count);
    fprintf(out, "lr_scale: %.17g\nrollbacks: %" PRId64 "\n", s.lr_scale, s.rollbacks);
    return 0;
}

static int info_ckpt(hid_t f, FILE *out, const char *path, Err *e)
{
    uint64_t stored, hash;
    if (ckpt_check_header(f, path, e))
        return -1;
    fprintf(out, "file: %s\nformat: %s\nformat_version: %d\n", path, CKPT_FORMAT_NAME,
            CKPT_FORMAT_VERSION);
    if (info_string(f, "downhill_version", out, path, e) || info_numerics(f, out, path, e) ||
        info_string(f, "precision", out, path, e) || info_model(f, out, &hash, path, e) ||
        h5_attr_read_ints(f, "params_hash", H5T_NATIVE_UINT64, &stored, 1, NULL, path, e))
        return -1;
    if (stored != hash)
        fprintf(out, "params_hash_stored: %016llx (MISMATCH: the file is corrupted)\n",
                (unsigned long long)stored);
    if (info_state(f, out, path, e) || info_history(f, out, path, e) ||
        info_config(f, out, path, e))
        return -1;
    return 0;
}

static int info_input(const char *path, int has_format, FILE *out, Err *e)
{
    int64_t count, labels;
    int rows, cols;
    if (h5in_probe(path, 1, &count, &rows, &cols, e) ||
        h5in_probe(path, 0, &labels, NULL, NULL, e))
        return -1;
    fprintf(out, "file: %s\nformat: %s\n", path,
            has_format ? INPUT_FORMAT_NAME : "none (plain HDF5 with /images and /labels)");
    if (has_format)
        fprintf(out, "format_version: %d\n", INPUT_FORMAT_VERSION);
    fprintf(out, "count: %" PRId64 "\nlabels: %" PRId64 "\n", count, labels);
    fprintf(out, "image_rows: %d\nimage_cols: %d\npixels: %d\n", rows, cols, rows * cols);
    return 0;
}

int h5_info(const char *path, FILE *out, Err *e)
{
    int rc = -1;
    char *fmt = NULL;
    htri_t has_images;
    hid_t f = H5I_INVALID_HID;
    h5_quiet();
    if (h5_file_open(path, &f, e) || h5_attr_read_string(f, "format", &fmt, path, e))
        goto done;
    if (fmt && strcmp(fmt, RUN_FORMAT_NAME) == 0) {
        rc = info_run(f, out, path, e);
    } else if (fmt && strcmp(fmt, CKPT_FORMAT_NAME) == 0) {
        rc = info_ckpt(f, out, path, e);
    } else if (fmt && strcmp(fmt, INPUT_FORMAT_NAME) == 0) {
        rc = info_input(path, 1, out, e);
    } else if (fmt) {
        FAIL("%s: unknown format \"%s\" (expected %s, %s or %s)", path, h5_printable(fmt),
             RUN_FORMAT_NAME,
             CKPT_FORMAT_NAME, INPUT_FORMAT_NAME);
    } else {
        H5_CHECK(has_images = H5Lexists(f, "images", H5P_DEFAULT), "images");
        if (!has_images)
            FAIL("%s: not a downhill file (no attribute format and no /images dataset)",
                 path);
        rc = info_input(path, 0, out, e);
    }
done:
    free(fmt);
    h5_close(&f);
    return rc;
}
