/* h5io.c: run files, checkpoints and input files in HDF5 (layouts in README.md). The only
 * unit that includes <hdf5.h>. Serial API, default property lists: rank 0 writes run files
 * and checkpoints, every rank reads its own input shard. Each entry point silences HDF5's
 * error stack printing and reports one-line messages naming the file and the object. */
#define _POSIX_C_SOURCE 200809L /* fsync, O_DIRECTORY */
#include "io/h5io.h"
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* H5_CHECK: runs an HDF5 call; on a negative result records the call, its line, the object
 * `obj` and HDF5's innermost message in `e` (naming the local `path`), then jumps to the
 * function's `done` label, which closes every handle. */
#define H5_CHECK(call, obj)                                                                \
    do {                                                                                   \
        if ((call) < 0) {                                                                  \
            h5_fail(e, path, obj, #call, __LINE__);                                        \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

/* FAIL: records a formatted message in `e` and jumps to `done`. */
#define FAIL(...)                                                                          \
    do {                                                                                   \
        err_set(e, __VA_ARGS__);                                                           \
        goto done;                                                                         \
    } while (0)

#define HISTORY_COLUMNS 6
#define HISTORY_CHUNK 64
#define NAME_LEN 32
#define SHAPE_LEN 64

/* /history columns, in HistoryRow order; column 0 (epoch) is int64, the rest float64. */
static const char *const history_names[HISTORY_COLUMNS] = {
    "epoch", "train_cost", "test_cost", "test_accuracy", "seconds", "samples_per_second"};

/* Where each /history column lives in a HistoryRow (all 8-byte fields). */
static const size_t history_offsets[HISTORY_COLUMNS] = {
    offsetof(HistoryRow, epoch),   offsetof(HistoryRow, train_cost),
    offsetof(HistoryRow, test_cost), offsetof(HistoryRow, test_accuracy),
    offsetof(HistoryRow, seconds), offsetof(HistoryRow, samples_per_second)};

struct H5Run {
    hid_t file;
    char *path; /* owned copy, for messages */
    Layout lay;
};

/* ---- error reporting and handles ---------------------------------------------------- */

static void h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char *buf;
    size_t len;
} Detail;

static herr_t detail_walk(unsigned n, const H5E_error2_t *err, void *data)
{
    Detail *d = data;
    if (n == 0 && err->desc)
        snprintf(d->buf, d->len, "%s", err->desc);
    return 0;
}

/* h5_detail: the innermost message of HDF5's current error stack ("" if none). */
static void h5_detail(char *buf, size_t len)
{
    Detail d = {buf, len};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_walk, &d);
}

static void h5_fail(Err *e, const char *path, const char *obj, const char *call, int line)
{
    char detail[512];
    h5_detail(detail, sizeof detail);
    err_set(e, "%s: %s: %s failed (h5io.c:%d)%s%s%s", path, obj, call, line,
            detail[0] ? " (HDF5: " : "", detail, detail[0] ? ")" : "");
}

/* h5_close: closes any kind of handle this file opens (ignored if already invalid). */
static void h5_close(hid_t *id)
{
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

static char *str_copy(const char *s, Err *e)
{
    size_t n = strlen(s) + 1;
    char *c = alloc_array(n, 1, "string copy", e);
    if (c)
        memcpy(c, s, n);
    return c;
}

static hid_t real_type(void)
{
    return sizeof(Real) == sizeof(double) ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

/* fmt_shape: "(d0, d1, ...)" into buf. */
static const char *fmt_shape(char *buf, size_t len, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
    return buf;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integers";
    case H5T_FLOAT: return "floats";
    case H5T_STRING: return "strings";
    case H5T_COMPOUND: return "compound values";
    default: return "values";
    }
}

/* ---- files --------------------------------------------------------------------------- */

/* file_open_as: opens an existing file read-only, saying clearly when it is missing, not
 * HDF5, damaged or locked by a writer; `unreadable` (if not NULL) replaces both the "not
 * HDF5" and the "damaged" messages. */
static int file_open_as(const char *path, hid_t *f, const char *unreadable, Err *e)
{
    char detail[512];
    htri_t is = H5Fis_hdf5(path);
    if (is < 0)
        return err_set(e, "%s: cannot open file (check the path exists and is readable)",
                       path);
    if (is == 0)
        return err_set(e, "%s: %s", path, unreadable ? unreadable : "not an HDF5 file");
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f >= 0)
        return 0;
    h5_detail(detail, sizeof detail);
    if (strstr(detail, "unable to lock"))
        return err_set(e, "%s: cannot open HDF5 file: it is locked (a run writing it? set "
                          "HDF5_USE_FILE_LOCKING=FALSE to read it meanwhile) (HDF5: %s)",
                       path, detail);
    return err_set(e, "%s: %s (HDF5: %s)", path,
                   unreadable ? unreadable : "cannot open HDF5 file (truncated or damaged?)",
                   detail);
}

static int file_open(const char *path, hid_t *f, Err *e)
{
    return file_open_as(path, f, NULL, e);
}

static int file_create(const char *path, hid_t *f, Err *e)
{
    *f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (*f < 0)
        return err_set(e, "%s: cannot create file (check the directory exists and is "
                          "writable)", path);
    return 0;
}

/* group_open: opens group `name` of f, with a clear message when it is missing. */
static int group_open(hid_t f, const char *name, hid_t *g, const char *path, Err *e)
{
    int rc = -1;
    htri_t has;
    H5_CHECK(has = H5Lexists(f, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: group /%s missing (not a complete downhill file)", path, name);
    H5_CHECK(*g = H5Gopen2(f, name, H5P_DEFAULT), name);
    rc = 0;
done:
    return rc;
}

/* ---- attributes ---------------------------------------------------------------------- */

/* attr_write: attribute `name` of n values of type (n = 0: one scalar value). */
static int attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *buf,
                      const char *path, Err *e)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    H5_CHECK(space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL), name);
    H5_CHECK(attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), name);
    H5_CHECK(H5Awrite(attr, type, buf), name);
    rc = 0;
done:
    h5_close(&attr);
    h5_close(&space);
    return rc;
}

/* attr_write_string: a scalar variable-length UTF-8 string (h5py reads it as str). */
static int attr_write_string(hid_t obj, const char *name, const char *value, const char *path,
                             Err *e)
{
    int rc = -1;
    hid_t type = H5I_INVALID_HID;
    H5_CHECK(type = H5Tcopy(H5T_C_S1), name);
    H5_CHECK(H5Tset_size(type, H5T_VARIABLE), name);
    H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), name);
    rc = attr_write(obj, name, type, 0, &value, path, e);
done:
    h5_close(&type);
    return rc;
}

static int attr_read_vlen(hid_t attr, hid_t ftype, const char *name, char **out,
                          const char *path, Err *e)
{
    int rc = -1;
    char *s = NULL;
    hid_t mtype = H5I_INVALID_HID;
    H5_CHECK(mtype = H5Tcopy(H5T_C_S1), name);
    H5_CHECK(H5Tset_size(mtype, H5T_VARIABLE), name);
    H5_CHECK(H5Tset_cset(mtype, H5Tget_cset(ftype)), name);
    H5_CHECK(H5Aread(attr, mtype, &s), name);
    *out = str_copy(s ? s : "", e);
    rc = *out ? 0 : -1;
done:
    if (s)
        H5free_memory(s);
    h5_close(&mtype);
    return rc;
}

static int attr_read_fixed(hid_t attr, hid_t ftype, const char *name, char **out,
                           const char *path, Err *e)
{
    int rc = -1;
    size_t size = H5Tget_size(ftype);
    char *s = size ? alloc_array(size + 1, 1, name, e) : NULL;
    if (!s)
        return size ? -1 : err_set(e, "%s: attribute %s has an invalid string type", path,
                                   name);
    H5_CHECK(H5Aread(attr, ftype, s), name);
    if (H5Tget_strpad(ftype) == H5T_STR_SPACEPAD)
        while (size > 0 && s[size - 1] == ' ')
            s[--size] = '\0';
    *out = s;
    s = NULL;
    rc = 0;
done:
    free(s);
    return rc;
}

/* printable: s (an attribute read from a file) made fit for a one-line message, in place:
 * control and non-ASCII bytes become '?', more than 40 characters end in "...". */
static const char *printable(char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
    if (strlen(s) > 40)
        memcpy(s + 37, "...", 4);
    return s;
}

/* attr_read_string: *out = malloc'ed value of the scalar string attribute `name`, or NULL
 * (and 0 returned) when obj has no such attribute. */
static int attr_read_string(hid_t obj, const char *name, char **out, const char *path, Err *e)
{
    int rc = -1;
    htri_t has, vlen;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hssize_t points;
    *out = NULL;
    H5_CHECK(has = H5Aexists(obj, name), name);
    if (!has)
        return 0;
    H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), name);
    H5_CHECK(ftype = H5Aget_type(attr), name);
    H5_CHECK(space = H5Aget_space(attr), name);
    H5_CHECK(points = H5Sget_simple_extent_npoints(space), name);
    if (H5Tget_class(ftype) != H5T_STRING || points != 1)
        FAIL("%s: attribute %s is not a single string", path, name);
    H5_CHECK(vlen = H5Tis_variable_str(ftype), name);
    rc = vlen ? attr_read_vlen(attr, ftype, name, out, path, e)
              : attr_read_fixed(attr, ftype, name, out, path, e);
done:
    h5_close(&space);
    h5_close(&ftype);
    h5_close(&attr);
    return rc;
}

/* attr_read_nums: reads the attribute `name` of class `want` (integers or floats, 1..max
 * values) converted to mem_type into out; *n = count (n may be NULL when max is 1).
 * Missing is an error. */
static int attr_read_nums(hid_t obj, const char *name, H5T_class_t want, hid_t mem_type,
                          void *out, int max, int *n, const char *path, Err *e)
{
    int rc = -1;
    htri_t has;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hssize_t points;
    H5_CHECK(has = H5Aexists(obj, name), name);
    if (!has)
        FAIL("%s: attribute %s missing", path, name);
    H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), name);
    H5_CHECK(ftype = H5Aget_type(attr), name);
    H5_CHECK(space = H5Aget_space(attr), name);
    H5_CHECK(points = H5Sget_simple_extent_npoints(space), name);
    if (H5Tget_class(ftype) != want)
        FAIL("%s: attribute %s holds %s, expected %s", path, name,
             class_name(H5Tget_class(ftype)), class_name(want));
    if (points < 1 || points > max)
        FAIL("%s: attribute %s has %lld values, expected 1..%d", path, name,
             (long long)points, max);
    H5_CHECK(H5Aread(attr, mem_type, out), name);
    if (n)
        *n = (int)points;
    rc = 0;
done:
    h5_close(&space);
    h5_close(&ftype);
    h5_close(&attr);
    return rc;
}

/* attr_read_ints: attr_read_nums for integer attributes. */
static int attr_read_ints(hid_t obj, const char *name, hid_t mem_type, void *out, int max,
                          int *n, const char *path, Err *e)
{
    return attr_read_nums(obj, name, H5T_INTEGER, mem_type, out, max, n, path, e);
}

static int attr_read_int(hid_t obj, const char *name, int *out, const char *path, Err *e)
{
    return attr_read_ints(obj, name, H5T_NATIVE_INT, out, 1, NULL, path, e);
}

/* check_format: format == want (kind names the file type in messages) and format_version
 * == version; *present = 0 and no error when the format attribute is absent. */
static int check_format(hid_t f, const char *want, int version, int *present, const char *path,
                        Err *e)
{
    char *fmt = NULL;
    int v, rc = -1;
    if (attr_read_string(f, "format", &fmt, path, e) != 0)
        return -1;
    *present = fmt != NULL;
    if (!fmt)
        return 0;
    if (strcmp(fmt, want) != 0)
        err_set(e, "%s: not a %s file (attribute format is \"%s\")", path, want,
                printable(fmt));
    else if (attr_read_int(f, "format_version", &v, path, e) != 0)
        ; /* message set */
    else if (v != version)
        err_set(e, "%s: format_version %d of %s files, this downhill reads version %d "
                   "(use the downhill that wrote it)", path, v, want, version);
    else
        rc = 0;
    free(fmt);
    return rc;
}

/* ---- datasets ------------------------------------------------------------------------ */

/* ds_create: an empty dataset; maxdims NULL = fixed size, else chunked by `chunk` rows. */
static int ds_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                     const hsize_t *maxdims, const char *path, Err *e)
{
    int rc = -1;
    hsize_t chunk[1] = {HISTORY_CHUNK};
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    H5_CHECK(space = H5Screate_simple(rank, dims, maxdims), name);
    H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), name);
    if (maxdims)
        H5_CHECK(H5Pset_chunk(dcpl, 1, chunk), name);
    H5_CHECK(ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), name);
    rc = 0;
done:
    h5_close(&ds);
    h5_close(&dcpl);
    h5_close(&space);
    return rc;
}

/* ds_write_all: writes the whole dataset `name` of loc from buf. */
static int ds_write_all(hid_t loc, const char *name, hid_t type, const void *buf,
                        const char *path, Err *e)
{
    int rc = -1;
    hid_t ds = H5I_INVALID_HID;
    H5_CHECK(ds = H5Dopen2(loc, name, H5P_DEFAULT), name);
    H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name);
    rc = 0;
done:
    h5_close(&ds);
    return rc;
}

/* ds_shape: rank and dims (up to 4) of an open dataset. */
static int ds_shape(hid_t ds, const char *name, int *rank, hsize_t dims[4], const char *path,
                    Err *e)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID;
    H5_CHECK(space = H5Dget_space(ds), name);
    H5_CHECK(*rank = H5Sget_simple_extent_ndims(space), name);
    if (*rank > 4)
        FAIL("%s: %s has rank %d, more than downhill handles", path, name, *rank);
    H5_CHECK(H5Sget_simple_extent_dims(space, dims, NULL), name);
    rc = 0;
done:
    h5_close(&space);
    return rc;
}

/* ds_type: class and size of an open dataset's values. */
static int ds_type(hid_t ds, const char *name, H5T_class_t *cls, size_t *size,
                   const char *path, Err *e)
{
    int rc = -1;
    hid_t type = H5I_INVALID_HID;
    H5_CHECK(type = H5Dget_type(ds), name);
    *cls = H5Tget_class(type);
    *size = H5Tget_size(type);
    rc = 0;
done:
    h5_close(&type);
    return rc;
}

/* ---- run files: writing -------------------------------------------------------------- */

/* header_write: the root attributes run files and checkpoints share. */
static int header_write(hid_t f, const char *format, int version, const char *config,
                        const Layout *lay, const char *path, Err *e)
{
    if (attr_write_string(f, "format", format, path, e) ||
        attr_write(f, "format_version", H5T_NATIVE_INT, 0, &version, path, e) ||
        attr_write_string(f, "downhill_version", DOWNHILL_VERSION, path, e) ||
        attr_write_string(f, "config", config ? config : "", path, e) ||
        attr_write_string(f, "precision", REAL_NAME, path, e) ||
        attr_write(f, "layers", H5T_NATIVE_INT, (hsize_t)lay->n_layers, lay->n, path, e))
        return -1;
    return 0;
}

static int run_write_attrs(hid_t f, const RunAttrs *a, const Layout *lay, const char *path,
                           Err *e)
{
    if (header_write(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, a->config_text, lay, path, e) ||
        attr_write(f, "ranks", H5T_NATIVE_INT, 0, &a->ranks, path, e) ||
        attr_write(f, "threads", H5T_NATIVE_INT, 0, &a->threads, path, e) ||
        attr_write(f, "seed", H5T_NATIVE_UINT64, 0, &a->seed, path, e))
        return -1;
    return 0;
}

static hid_t history_type(int column)
{
    return column ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
}

/* model_create: group /model with datasets W1.. b1.. (unwritten) for the layout. */
static int model_create(hid_t f, const Layout *lay, const char *path, Err *e)
{
    int rc = -1;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    H5_CHECK(model = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/model");
    for (int l = 1; l < lay->n_layers; l++) {
        hsize_t w[2] = {(hsize_t)lay->n[l], (hsize_t)lay->n[l - 1]};
        snprintf(name, sizeof name, "W%d", l);
        if (ds_create(model, name, real_type(), 2, w, NULL, path, e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (ds_create(model, name, real_type(), 1, w, NULL, path, e))
            goto done;
    }
    rc = 0;
done:
    h5_close(&model);
    return rc;
}

/* model_write: writes /model/W1.. and /model/b1.. bit-exactly from params (W1 row-major). */
static int model_write(hid_t f, const Layout *lay, const Real *params, const char *path,
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
        if (ds_write_all(model, name, real_type(), l == 1 ? w1 : params + lay->w_off[l], path,
                         e))
            goto done;
        snprintf(name, sizeof name, "b%d", l);
        if (ds_write_all(model, name, real_type(), params + lay->b_off[l], path, e))
            goto done;
    }
    rc = 0;
done:
    h5_close(&model);
    free(w1);
    return rc;
}

/* run_create_groups: /model/W1.. /model/b1.. (unwritten) and empty extendible /history. */
static int run_create_groups(hid_t f, const Layout *lay, const char *path, Err *e)
{
    int rc = -1;
    hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED};
    hid_t hist = H5I_INVALID_HID;
    if (model_create(f, lay, path, e))
        return -1;
    H5_CHECK(hist = H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             "/history");
    for (int c = 0; c < HISTORY_COLUMNS; c++)
        if (ds_create(hist, history_names[c], history_type(c), 1, zero, unlimited, path, e))
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
    if (!(r->path = str_copy(path, e)) || file_create(path, &r->file, e) ||
        run_write_attrs(r->file, attrs, lay, path, e) ||
        run_create_groups(r->file, lay, path, e)) {
        run_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static int run_flush(H5Run *r, Err *e)
{
    const char *path = r->path;
    H5_CHECK(H5Fflush(r->file, H5F_SCOPE_GLOBAL), "/");
    return 0;
done:
    return -1;
}

int h5run_write_model(H5Run *r, const Real *params, Err *e)
{
    h5_quiet();
    if (model_write(r->file, &r->lay, params, r->path, e))
        return -1;
    return run_flush(r, e);
}

/* column_append: extends the 1-D dataset `name` by one value and writes it there. */
static int column_append(hid_t hist, const char *name, hid_t type, const void *value,
                         const char *path, Err *e)
{
    int rc = -1, rank;
    hsize_t dims[4], one = 1;
    hid_t ds = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    H5_CHECK(ds = H5Dopen2(hist, name, H5P_DEFAULT), name);
    if (ds_shape(ds, name, &rank, dims, path, e))
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
        if (column_append(hist, history_names[c], history_type(c), values[c], path, e))
            goto done;
    rc = run_flush(r, e);
done:
    h5_close(&hist);
    return rc;
}

/* timing_group: /timing, created on first use. */
static int timing_group(hid_t f, hid_t *g, const char *path, Err *e)
{
    htri_t exists = H5Lexists(f, "timing", H5P_DEFAULT);
    if (exists > 0)
        return group_open(f, "timing", g, path, e);
    if ((*g = H5Gcreate2(f, "timing", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        h5_fail(e, path, "/timing", "H5Gcreate2", __LINE__);
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
            ds_create(g, names[i], H5T_NATIVE_DOUBLE, 1, zero, unlimited, path, e))
            goto done;
        if (column_append(g, names[i], H5T_NATIVE_DOUBLE, &values[i], path, e))
            goto done;
    }
    rc = run_flush(r, e);
done:
    h5_close(&g);
    return rc;
}

int h5run_close(H5Run *r, Err *e)
{
    if (!r)
        return 0;
    h5_quiet();
    int rc = 0;
    if (H5Fclose(r->file) < 0)
        rc = err_set(e, "%s: cannot close file (disk full or removed?)", r->path);
    r->file = H5I_INVALID_HID;
    run_free(r);
    return rc;
}

/* ---- run files: reading -------------------------------------------------------------- */

/* check_precision: the file's weights are in the compute precision of this build. */
static int check_precision(hid_t f, const char *path, Err *e)
{
    int rc = -1;
    char *precision = NULL;
    if (attr_read_string(f, "precision", &precision, path, e))
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

static int run_check_header(hid_t f, const char *path, Err *e)
{
    int present;
    if (check_format(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, &present, path, e))
        return -1;
    if (!present)
        return err_set(e, "%s: not a downhill run file (attribute format missing)", path);
    return check_precision(f, path, e);
}

static int run_read_layout(hid_t f, Layout *lay, const char *path, Err *e)
{
    int sizes[MODEL_MAX_LAYERS], n;
    Err sub;
    if (attr_read_ints(f, "layers", H5T_NATIVE_INT, sizes, MODEL_MAX_LAYERS, &n, path, e))
        return -1;
    if (layout_init(lay, sizes, n, &sub))
        return err_set(e, "%s: attribute layers: %s", path, sub.msg);
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
    if (ds_shape(ds, name, &got_rank, dims, path, e) || ds_type(ds, name, &cls, &size, path, e))
        goto done;
    if (got_rank != rank || dims[0] != want[0] || (rank == 2 && dims[1] != want[1]))
        FAIL("%s: /model/%s has shape %s, expected %s (from attribute layers)", path, name,
             fmt_shape(s1, sizeof s1, got_rank, dims), fmt_shape(s2, sizeof s2, rank, want));
    if (cls != H5T_FLOAT || size != sizeof(Real))
        FAIL("%s: /model/%s holds %zu-byte %s, expected %s", path, name, size,
             class_name(cls), REAL_NAME);
    H5_CHECK(H5Dread(ds, real_type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name);
    rc = 0;
done:
    h5_close(&ds);
    return rc;
}

static int run_read_params(hid_t f, const Layout *lay, Real *params, const char *path, Err *e)
{
    int rc = -1;
    char name[NAME_LEN];
    hid_t model = H5I_INVALID_HID;
    Real *w1 = alloc_array(lay->b_off[1], sizeof(Real), "W1 in file order", e);
    if (!w1 || group_open(f, "model", &model, path, e)) {
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
    if (file_open(path, &f, e) || run_check_header(f, path, e) ||
        run_read_layout(f, lay, path, e))
        goto done;
    if (!(p = alloc_array(lay->n_params, sizeof(Real), "run file parameters", e)) ||
        run_read_params(f, lay, p, path, e))
        goto done;
    if (config_text && attr_read_string(f, "config", &cfg, path, e))
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

/* ---- checkpoints --------------------------------------------------------------------- */

#define CKPT_UNREADABLE "not a readable HDF5 file (truncated or damaged?)"
#define STATE_FIELDS 12
#define HISTORY_VALUE_SIZE sizeof(double)
_Static_assert(sizeof(int64_t) == sizeof(double), "history columns share one value size");

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

static int ckpt_write_state(hid_t f, const CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    CkptState copy = *s; /* state_fields points into a writable state */
    StateField fields[STATE_FIELDS];
    hid_t state = H5I_INVALID_HID;
    state_fields(&copy, fields);
    H5_CHECK(state = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/state");
    for (int i = 0; i < STATE_FIELDS; i++)
        if (attr_write(state, fields[i].name, fields[i].type, 0, fields[i].value, path, e))
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
        if (ds_create(hist, history_names[c], history_type(c), 1, &n, NULL, path, e) ||
            (n > 0 && ds_write_all(hist, history_names[c], history_type(c), buf, path, e)))
            goto done;
    }
    rc = 0;
done:
    h5_close(&hist);
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
    if (file_create(path, &f, e) ||
        header_write(f, CKPT_FORMAT_NAME, CKPT_FORMAT_VERSION, s->config_text, lay, path, e) ||
        attr_write(f, "params_hash", H5T_NATIVE_UINT64, 0, &hash, path, e) ||
        model_create(f, lay, path, e) || model_write(f, lay, params, path, e) ||
        ckpt_write_state(f, s, path, e) || ckpt_write_history(f, s, path, e))
        goto done;
    rc = H5Fclose(f) < 0 ? err_set(e, "%s: cannot close file (disk full?)", path) : 0;
    f = H5I_INVALID_HID;
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

/* ckpt_check_header: format is downhill-checkpoint, of the version this build reads. */
static int ckpt_check_header(hid_t f, const char *path, Err *e)
{
    char *fmt = NULL;
    int present, rc;
    if (attr_read_string(f, "format", &fmt, path, e))
        return -1;
    if (!fmt)
        rc = err_set(e, "%s: not a downhill checkpoint (attribute format missing)", path);
    else if (strcmp(fmt, CKPT_FORMAT_NAME) != 0)
        rc = err_set(e, "%s: not a downhill checkpoint (format \"%s\")", path, printable(fmt));
    else
        rc = check_format(f, CKPT_FORMAT_NAME, CKPT_FORMAT_VERSION, &present, path, e);
    free(fmt);
    return rc;
}

/* ckpt_open: opens path read-only and checks its header; the caller closes *f. */
static int ckpt_open(const char *path, hid_t *f, Err *e)
{
    if (file_open_as(path, f, CKPT_UNREADABLE, e))
        return -1;
    return ckpt_check_header(*f, path, e);
}

/* ckpt_read_state: every /state attribute into s (each must be present). */
static int ckpt_read_state(hid_t f, CkptState *s, const char *path, Err *e)
{
    int rc = -1;
    htri_t has;
    StateField fields[STATE_FIELDS];
    hid_t state = H5I_INVALID_HID;
    state_fields(s, fields);
    if (group_open(f, "state", &state, path, e))
        return -1;
    for (int i = 0; i < STATE_FIELDS; i++) {
        const char *name = fields[i].name;
        H5_CHECK(has = H5Aexists(state, name), name);
        if (!has)
            FAIL("%s: attribute /state/%s missing (not a complete downhill checkpoint)", path,
                 name);
        if (attr_read_nums(state, name, fields[i].cls, fields[i].type, fields[i].value, 1,
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
    const char *name = history_names[c];
    int rank;
    hsize_t dims[4];
    htri_t has;
    H5T_class_t cls, want = c ? H5T_FLOAT : H5T_INTEGER;
    size_t size;
    H5_CHECK(has = H5Lexists(hist, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: dataset /history/%s missing", path, name);
    H5_CHECK(*ds = H5Dopen2(hist, name, H5P_DEFAULT), name);
    if (ds_shape(*ds, name, &rank, dims, path, e) || ds_type(*ds, name, &cls, &size, path, e))
        return -1;
    if (rank != 1 || cls != want)
        FAIL("%s: /history/%s holds rank-%d %s, expected 1-D %s", path, name, rank,
             class_name(cls), class_name(want));
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
    if (group_open(f, "history", &hist, path, e))
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
            FAIL("%s: /history/%s has %llu rows, /history/epoch %llu", path, history_names[c],
                 (unsigned long long)len, (unsigned long long)n);
        if (n > 0)
            H5_CHECK(H5Dread(ds, history_type(c), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                     history_names[c]);
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

int h5ckpt_read(const char *path, Layout *lay, Real **params, CkptState *s, Err *e)
{
    int rc = -1;
    uint64_t stored;
    CkptState got = {0};
    Real *p = NULL; /* (n_params) */
    hid_t f = H5I_INVALID_HID;
    h5_quiet();
    *params = NULL;
    if (ckpt_open(path, &f, e) || check_precision(f, path, e) ||
        run_read_layout(f, lay, path, e) ||
        attr_read_ints(f, "params_hash", H5T_NATIVE_UINT64, &stored, 1, NULL, path, e))
        goto done;
    if (!(p = alloc_array(lay->n_params, sizeof(Real), "checkpoint parameters", e)) ||
        run_read_params(f, lay, p, path, e))
        goto done;
    if (params_hash(lay, p) != stored)
        FAIL("%s: the weights do not match their stored hash: the file is corrupted (use an "
             "older checkpoint)", path);
    if (ckpt_read_state(f, &got, path, e) || ckpt_read_history(f, &got, path, e) ||
        attr_read_string(f, "config", &got.config_text, path, e))
        goto done;
    if (!got.config_text)
        FAIL("%s: attribute config missing", path);
    *s = got;
    *params = p;
    p = NULL;
    rc = 0;
done:
    if (rc) {
        free(got.history);
        free(got.config_text);
        s->history = NULL;
        s->config_text = NULL;
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
    if (ckpt_open(path, &f, e) || group_open(f, "state", &state, path, e) ||
        attr_read_ints(state, "step", H5T_NATIVE_INT64, &step, 1, NULL, path, e))
        step = -1;
    else if (step < 0)
        step = err_set(e, "%s: /state holds step %lld: invalid", path, (long long)step);
    h5_close(&state);
    h5_close(&f);
    return step;
}

/* ---- input files --------------------------------------------------------------------- */

static int input_check_header(hid_t f, const char *path, Err *e)
{
    char *fmt = NULL;
    int present;
    if (attr_read_string(f, "format", &fmt, path, e))
        return -1;
    if (fmt && strcmp(fmt, RUN_FORMAT_NAME) == 0) {
        free(fmt);
        return err_set(e, "%s: this is a downhill run file, not an input file", path);
    }
    free(fmt);
    return check_format(f, INPUT_FORMAT_NAME, INPUT_FORMAT_VERSION, &present, path, e);
}

/* input_open: opens the file and /images or /labels, checking rank and uint8 values;
 * dims = its shape. The caller closes *f and *ds. */
static int input_open(const char *path, int images, hid_t *f, hid_t *ds, hsize_t dims[4],
                      Err *e)
{
    const char *name = images ? "images" : "labels";
    int rank, want = images ? 2 : 1;
    htri_t has;
    H5T_class_t cls;
    size_t size;
    if (file_open(path, f, e) || input_check_header(*f, path, e))
        return -1;
    H5_CHECK(has = H5Lexists(*f, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: dataset /%s missing (an input file holds /images (N, pixels) and /labels "
             "(N), uint8)", path, name);
    H5_CHECK(*ds = H5Dopen2(*f, name, H5P_DEFAULT), name);
    if (ds_shape(*ds, name, &rank, dims, path, e) || ds_type(*ds, name, &cls, &size, path, e))
        return -1;
    if (rank != want)
        FAIL("%s: /%s has rank %d, expected %d %s", path, name, rank, want,
             images ? "(N, pixels)" : "(N)");
    if (cls != H5T_INTEGER || size != 1)
        FAIL("%s: /%s holds %zu-byte %s, expected uint8 (write it with dtype uint8)", path,
             name, size, class_name(cls));
    return 0;
done:
    return -1;
}

/* input_image_shape: rows x cols from the attributes, or pixels x 1 when they are absent. */
static int input_image_shape(hid_t f, hsize_t pixels, int *rows, int *cols, const char *path,
                             Err *e)
{
    htri_t has_r, has_c;
    H5_CHECK(has_r = H5Aexists(f, "image_rows"), "image_rows");
    H5_CHECK(has_c = H5Aexists(f, "image_cols"), "image_cols");
    if (pixels > INT_MAX)
        return err_set(e, "%s: /images has %llu pixels per example, too many", path,
                       (unsigned long long)pixels);
    *rows = (int)pixels;
    *cols = 1;
    if (has_r && has_c &&
        (attr_read_int(f, "image_rows", rows, path, e) ||
         attr_read_int(f, "image_cols", cols, path, e)))
        return -1;
    if (*rows < 1 || *cols < 1 || (hsize_t)*rows * (hsize_t)*cols != pixels)
        return err_set(e, "%s: attributes image_rows x image_cols = %d x %d do not match the "
                          "%llu pixels per example of /images", path, *rows, *cols,
                       (unsigned long long)pixels);
    return 0;
done:
    return -1;
}

int h5in_probe(const char *path, int images, int64_t *count, int *img_rows, int *img_cols,
               Err *e)
{
    int rc = -1, rows, cols;
    hsize_t dims[4];
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    h5_quiet();
    if (input_open(path, images, &f, &ds, dims, e))
        goto done;
    if (images && input_image_shape(f, dims[1], &rows, &cols, path, e))
        goto done;
    *count = (int64_t)dims[0];
    if (images && img_rows)
        *img_rows = rows;
    if (images && img_cols)
        *img_cols = cols;
    rc = 0;
done:
    h5_close(&ds);
    h5_close(&f);
    return rc;
}

/* select_shard: the shard's examples in a (N, dim) or (N) file space: the full rounds as
 * one strided hyperslab, OR the partial tail round (see shard.h). */
static int select_shard(hid_t space, const Shard *s, hsize_t dim, const char *path,
                        const char *name, Err *e)
{
    int64_t k = shard_full_rounds(s), base = k * s->stride;
    int64_t tail_end = s->n - base < s->lane1 ? s->n - base : s->lane1;
    H5_CHECK(H5Sselect_none(space), name);
    if (k > 0) {
        hsize_t start[2] = {(hsize_t)s->lane0, 0}, stride[2] = {(hsize_t)s->stride, 1};
        hsize_t count[2] = {(hsize_t)k, 1}, block[2] = {(hsize_t)(s->lane1 - s->lane0), dim};
        H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, stride, count, block),
                 name);
    }
    if (tail_end > s->lane0) {
        hsize_t start[2] = {(hsize_t)(base + s->lane0), 0}, one[2] = {1, 1};
        hsize_t block[2] = {(hsize_t)(tail_end - s->lane0), dim};
        H5_CHECK(H5Sselect_hyperslab(space, k > 0 ? H5S_SELECT_OR : H5S_SELECT_SET, start,
                                     NULL, one, block),
                 name);
    }
    return 0;
done:
    return -1;
}

static int check_shard(const Shard *s, hsize_t count, const char *name, const char *path,
                       Err *e)
{
    if (s->n < 0 || s->stride < 1 || s->lane0 < 0 || s->lane0 > s->lane1 ||
        s->lane1 > s->stride)
        return err_set(e, "%s: invalid shard (n %lld, lanes [%lld, %lld) of %lld)", path,
                       (long long)s->n, (long long)s->lane0, (long long)s->lane1,
                       (long long)s->stride);
    if ((hsize_t)s->n > count)
        return err_set(e, "%s: /%s holds %llu examples, fewer than the %lld asked for", path,
                       name, (unsigned long long)count, (long long)s->n);
    return 0;
}

int h5in_read(const char *path, int images, const Shard *s, int dim, uint8_t *out, Err *e)
{
    int rc = -1;
    const char *name = images ? "images" : "labels";
    hsize_t dims[4], rows, width = images ? (hsize_t)dim : 1;
    hssize_t selected;
    uint8_t dummy;
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    h5_quiet();
    if (input_open(path, images, &f, &ds, dims, e) || check_shard(s, dims[0], name, path, e))
        goto done;
    if (images && dims[1] != width)
        FAIL("%s: /images has %llu pixels per example, expected %d", path,
             (unsigned long long)dims[1], dim);
    rows = (hsize_t)shard_rows(s);
    hsize_t mdims[2] = {rows ? rows : 1, width};
    H5_CHECK(fspace = H5Dget_space(ds), name);
    if (select_shard(fspace, s, width, path, name, e))
        goto done;
    H5_CHECK(selected = H5Sget_select_npoints(fspace), name);
    if ((hsize_t)selected != rows * width)
        FAIL("%s: /%s: internal error: selected %lld values for %llu rows", path, name,
             (long long)selected, (unsigned long long)rows);
    H5_CHECK(mspace = H5Screate_simple(images ? 2 : 1, mdims, NULL), name);
    if (rows == 0)
        H5_CHECK(H5Sselect_none(mspace), name);
    H5_CHECK(H5Dread(ds, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, rows ? out : &dummy),
             name);
    rc = 0;
done:
    h5_close(&mspace);
    h5_close(&fspace);
    h5_close(&ds);
    h5_close(&f);
    return rc;
}

static int write_u8(hid_t f, const char *name, int rank, const hsize_t *dims,
                    const uint8_t *buf, const char *path, Err *e)
{
    if (ds_create(f, name, H5T_STD_U8LE, rank, dims, NULL, path, e))
        return -1;
    if (dims[0] == 0)
        return 0;
    return ds_write_all(f, name, H5T_NATIVE_UINT8, buf, path, e);
}

int h5in_write(const char *path, const uint8_t *images, const uint8_t *labels, int64_t n,
               int img_rows, int img_cols, Err *e)
{
    int rc = -1, version = INPUT_FORMAT_VERSION;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)img_rows * (hsize_t)img_cols};
    hid_t f = H5I_INVALID_HID;
    h5_quiet();
    if (n < 0 || img_rows < 1 || img_cols < 1)
        return err_set(e, "%s: invalid input shape (%lld examples of %d x %d)", path,
                       (long long)n, img_rows, img_cols);
    if (file_create(path, &f, e) ||
        attr_write_string(f, "format", INPUT_FORMAT_NAME, path, e) ||
        attr_write(f, "format_version", H5T_NATIVE_INT, 0, &version, path, e) ||
        attr_write(f, "image_rows", H5T_NATIVE_INT, 0, &img_rows, path, e) ||
        attr_write(f, "image_cols", H5T_NATIVE_INT, 0, &img_cols, path, e) ||
        write_u8(f, "images", 2, dims, images, path, e) ||
        write_u8(f, "labels", 1, dims, labels, path, e))
        goto done;
    rc = H5Fclose(f) < 0 ? err_set(e, "%s: cannot close file (disk full?)", path) : 0;
    f = H5I_INVALID_HID;
done:
    h5_close(&f);
    return rc;
}

/* ---- info ---------------------------------------------------------------------------- */

static int info_string(hid_t f, const char *name, FILE *out, const char *path, Err *e)
{
    char *s = NULL;
    if (attr_read_string(f, name, &s, path, e))
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
    if (attr_read_int(f, name, &v, path, e))
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
    if (ds_shape(ds, name, &rank, dims, path, e) || ds_type(ds, name, &cls, &size, path, e))
        goto done;
    if (cls != H5T_FLOAT || (size != 4 && size != 8))
        FAIL("%s: /model/%s holds %zu-byte %s, expected float32 or float64", path, name,
             size, class_name(cls));
    for (int i = 0; i < rank; i++)
        points *= dims[i];
    fprintf(out, "/model/%s: %s float%zu\n", name, fmt_shape(shape, sizeof shape, rank, dims),
            size * 8);
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
    if (attr_read_ints(f, "layers", H5T_NATIVE_INT, sizes, MODEL_MAX_LAYERS, &n, path, e))
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
    if (group_open(f, "model", &model, path, e))
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
    if (ds_shape(ds, name, &rank, dims, path, e))
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
    if (group_open(f, "history", &hist, path, e))
        return -1;
    if (read_last(hist, history_names[0], H5T_NATIVE_INT64, &epoch, &len, path, e))
        goto done;
    for (int c = 1; c < HISTORY_COLUMNS; c++)
        if (read_last(hist, history_names[c], H5T_NATIVE_DOUBLE, &v[c], &len_c, path, e))
            goto done;
        else if (len_c != len)
            FAIL("%s: /history/%s has %llu rows, /history/epoch %llu", path,
                 history_names[c], (unsigned long long)len_c, (unsigned long long)len);
    fprintf(out, "history_length: %llu\n", (unsigned long long)len);
    if (len > 0) {
        fprintf(out, "last_epoch: %" PRId64 "\n", epoch);
        for (int c = 1; c < HISTORY_COLUMNS; c++)
            fprintf(out, "last_%s: %.9g\n", history_names[c], v[c]);
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
    if (attr_read_string(f, "config", &cfg, path, e))
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

static int info_run(hid_t f, FILE *out, const char *path, Err *e)
{
    int present;
    uint64_t seed, hash;
    if (check_format(f, RUN_FORMAT_NAME, RUN_FORMAT_VERSION, &present, path, e))
        return -1;
    fprintf(out, "file: %s\nformat: %s\nformat_version: %d\n", path, RUN_FORMAT_NAME,
            RUN_FORMAT_VERSION);
    if (info_string(f, "downhill_version", out, path, e) ||
        info_string(f, "precision", out, path, e) || info_ints(f, "ranks", out, path, e) ||
        info_ints(f, "threads", out, path, e) ||
        attr_read_ints(f, "seed", H5T_NATIVE_UINT64, &seed, 1, NULL, path, e))
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
    if (info_string(f, "downhill_version", out, path, e) ||
        info_string(f, "precision", out, path, e) || info_model(f, out, &hash, path, e) ||
        attr_read_ints(f, "params_hash", H5T_NATIVE_UINT64, &stored, 1, NULL, path, e))
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
    if (file_open(path, &f, e) || attr_read_string(f, "format", &fmt, path, e))
        goto done;
    if (fmt && strcmp(fmt, RUN_FORMAT_NAME) == 0) {
        rc = info_run(f, out, path, e);
    } else if (fmt && strcmp(fmt, CKPT_FORMAT_NAME) == 0) {
        rc = info_ckpt(f, out, path, e);
    } else if (fmt && strcmp(fmt, INPUT_FORMAT_NAME) == 0) {
        rc = info_input(path, 1, out, e);
    } else if (fmt) {
        FAIL("%s: unknown format \"%s\" (expected %s, %s or %s)", path, printable(fmt),
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
