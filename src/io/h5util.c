/* h5util.c: the HDF5 helpers of src/io/ (see h5util.h): error capture, handles, files,
 * attributes and datasets. Serial API, default property lists. */
#include "h5util.h"

#include <stdlib.h>
#include <string.h>

#include "fileseal.h"

#define EXTENDIBLE_CHUNK_ROWS 64 /* chunk of the extendible /history and /timing columns */
#define CHUNK_TARGET_BYTES (256u << 10) /* fixed-size datasets: chunks of at most ~this */
#define MEMORY_FILE_INCREMENT (1u << 20) /* a file built in memory grows by this */

/* ---- error reporting and handles ----------------------------------------------------- */

void h5_quiet(void)
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

/* os_reason: HDF5's file drivers describe a failed system call as "WHAT: time = ...,
 * errno = N, error message = 'REASON', ..."; shortens such a description in place to
 * "WHAT: REASON" (the operating system's reason, as strerror says it). */
static void os_reason(char *buf)
{
    const char *key = "error message = '";
    char *reason = strstr(buf, key), *colon = strchr(buf, ':');
    if (!reason || !colon || colon > reason)
        return;
    reason += strlen(key);
    size_t n = strcspn(reason, "'");
    memmove(colon + 2, reason, n);
    colon[1] = ' ';
    colon[2 + n] = '\0';
}

/* h5_detail: the innermost (most specific) message of HDF5's current error stack ("" if
 * none), with an operating-system failure shortened to "WHAT: REASON". */
void h5_detail(char *buf, size_t len)
{
    char full[4096]; /* the whole description: it names the file before the reason */
    Detail d = {.buf = full, .len = sizeof full};
    full[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_walk, &d);
    os_reason(full);
    for (char *c = full; *c; c++)
        if (*c == '\n')
            *c = ' '; /* messages are one line */
    snprintf(buf, len, "%s", full);
}

/* advice: what to do about an HDF5 failure, from its innermost message. */
static const char *advice(const char *detail)
{
    if (strstr(detail, "No space left") || strstr(detail, "File too large") ||
        strstr(detail, "quota"))
        return "; free disk space or choose another directory";
    if (strstr(detail, "checksum") || strstr(detail, "Fletcher32"))
        return "; the file is damaged: use an older copy (checkpoint) or write it again";
    return "";
}

void h5_fail(Err *e, const char *path, const char *obj, const char *call, const char *file,
             int line)
{
    const char *base = strrchr(file, '/');
    char detail[512];
    h5_detail(detail, sizeof detail);
    err_set(e, "%s: %s: %s failed (%s:%d)%s%s%s%s", path, obj, call, base ? base + 1 : file,
            line, detail[0] ? " (HDF5: " : "", detail, detail[0] ? ")" : "", advice(detail));
}

/* h5_close: closes any kind of handle src/io/ opens (ignored if already invalid). */
void h5_close(hid_t *id)
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

char *h5_str_copy(const char *s, Err *e)
{
    size_t n = strlen(s) + 1;
    char *c = alloc_array(n, 1, "string copy", e);
    if (c)
        memcpy(c, s, n);
    return c;
}

hid_t h5_real_type(void)
{
    return sizeof(Real) == sizeof(double) ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

/* h5_fmt_shape: "(d0, d1, ...)" into buf. */
const char *h5_fmt_shape(char *buf, size_t len, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
    return buf;
}

const char *h5_class_name(H5T_class_t c)
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

/* h5_file_open_as: verifies the integrity block (fileseal.h) before HDF5 reads a byte,
 * then opens the file read-only, saying clearly when it is missing, not HDF5, damaged or
 * locked by a writer; `unreadable` (if not NULL) replaces both the "not HDF5" and the
 * "damaged" messages of HDF5, `hint` says what to do when the checksum fails. */
int h5_file_open_as(const char *path, hid_t *f, const char *unreadable, const char *hint,
                    Err *e)
{
    char detail[512];
    FilesealStatus seal;
    if (fileseal_verify(path, hint, &seal, e) != 0)
        return -1;
    htri_t is = H5Fis_hdf5(path);
    if (is < 0) {
        h5_detail(detail, sizeof detail);
        return err_set(e, "%s: cannot open file (HDF5: %s)", path, detail);
    }
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

int h5_file_open(const char *path, hid_t *f, Err *e)
{
    return h5_file_open_as(path, f, NULL, NULL, e);
}

/* create_plists: the property lists of every file downhill writes: built in memory (the
 * core driver without backing store: HDF5 never writes the file itself, see
 * h5_file_commit), a FILESEAL_SIZE user block for the integrity block, and the HDF5 1.10
 * file format (libver bounds V110), whose superblock (v3), object headers (v2), chunk
 * indexes (single chunk, fixed and extensible arrays) and fractal heaps all carry
 * checksums. */
static int create_plists(hid_t *fcpl, hid_t *fapl, const char *path, Err *e)
{
    H5_CHECK(*fcpl = H5Pcreate(H5P_FILE_CREATE), "/");
    H5_CHECK(H5Pset_userblock(*fcpl, FILESEAL_SIZE), "/");
    H5_CHECK(*fapl = H5Pcreate(H5P_FILE_ACCESS), "/");
    H5_CHECK(H5Pset_fapl_core(*fapl, MEMORY_FILE_INCREMENT, 0), "/");
    H5_CHECK(H5Pset_libver_bounds(*fapl, H5F_LIBVER_V110, H5F_LIBVER_V110), "/");
    return 0;
done:
    return -1;
}

int h5_file_create(const char *path, hid_t *f, Err *e)
{
    char detail[512];
    hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
    int rc = create_plists(&fcpl, &fapl, path, e);
    if (rc == 0 && (*f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        h5_detail(detail, sizeof detail);
        rc = err_set(e, "%s: cannot create file (HDF5: %s)", path, detail);
    }
    h5_close(&fcpl);
    h5_close(&fapl);
    return rc;
}

/* h5_file_commit: the memory file f as it is now, sealed, atomically to path. */
int h5_file_commit(hid_t f, const char *path, int sync, Err *e)
{
    int rc = -1;
    ssize_t size;
    unsigned char *image = NULL;
    H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL), "/");
    H5_CHECK(size = H5Fget_file_image(f, NULL, 0), "/");
    /* the image starts at the superblock: the user block goes before it */
    if (!(image = alloc_array((size_t)size + FILESEAL_SIZE, 1, "file image", e)))
        goto done;
    memset(image, 0, FILESEAL_SIZE);
    H5_CHECK(H5Fget_file_image(f, image + FILESEAL_SIZE, (size_t)size), "/");
    fileseal_fix_superblock(image + FILESEAL_SIZE, (size_t)size);
    rc = fileseal_write_image(path, image, (size_t)size + FILESEAL_SIZE, sync, e);
done:
    free(image);
    return rc;
}

/* h5_file_close_sealed: commits f to path, then closes it (closed in any case). */
int h5_file_close_sealed(hid_t *f, const char *path, int sync, Err *e)
{
    int rc = h5_file_commit(*f, path, sync, e);
    h5_close(f);
    return rc;
}

/* h5_group_open: opens group `name` of f, with a clear message when it is missing. */
int h5_group_open(hid_t f, const char *name, hid_t *g, const char *path, Err *e)
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

/* h5_attr_write: attribute `name` of n values of type (n = 0: one scalar value). */
int h5_attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *buf,
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

/* h5_attr_write_string: a scalar variable-length UTF-8 string (h5py reads it as str). */
int h5_attr_write_string(hid_t obj, const char *name, const char *value, const char *path,
                         Err *e)
{
    int rc = -1;
    hid_t type = H5I_INVALID_HID;
    H5_CHECK(type = H5Tcopy(H5T_C_S1), name);
    H5_CHECK(H5Tset_size(type, H5T_VARIABLE), name);
    H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), name);
    rc = h5_attr_write(obj, name, type, 0, &value, path, e);
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
    *out = h5_str_copy(s ? s : "", e);
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

/* h5_printable: s (an attribute read from a file) made fit for a one-line message, in place:
 * control and non-ASCII bytes become '?', more than 40 characters end in "...". */
const char *h5_printable(char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
    if (strlen(s) > 40)
        memcpy(s + 37, "...", 4);
    return s;
}

/* h5_attr_read_string: *out = malloc'ed value of the scalar string attribute `name`, or NULL
 * (and 0 returned) when obj has no such attribute. */
int h5_attr_read_string(hid_t obj, const char *name, char **out, const char *path, Err *e)
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

/* h5_attr_read_nums: reads the attribute `name` of class `want` (integers or floats, 1..max
 * values) converted to mem_type into out; *n = count (n may be NULL when max is 1).
 * Missing is an error. */
int h5_attr_read_nums(hid_t obj, const char *name, H5T_class_t want, hid_t mem_type,
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
             h5_class_name(H5Tget_class(ftype)), h5_class_name(want));
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

/* h5_attr_read_ints: h5_attr_read_nums for integer attributes. */
int h5_attr_read_ints(hid_t obj, const char *name, hid_t mem_type, void *out, int max,
                      int *n, const char *path, Err *e)
{
    return h5_attr_read_nums(obj, name, H5T_INTEGER, mem_type, out, max, n, path, e);
}

int h5_attr_read_int(hid_t obj, const char *name, int *out, const char *path, Err *e)
{
    return h5_attr_read_ints(obj, name, H5T_NATIVE_INT, out, 1, NULL, path, e);
}

/* h5_check_format: format == want (kind names the file type in messages) and format_version
 * == version; *present = 0 and no error when the format attribute is absent. */
int h5_check_format(hid_t f, const char *want, int version, int *present, const char *path,
                    Err *e)
{
    char *fmt = NULL;
    int v, rc = -1;
    if (h5_attr_read_string(f, "format", &fmt, path, e) != 0)
        return -1;
    *present = fmt != NULL;
    if (!fmt)
        return 0;
    if (strcmp(fmt, want) != 0)
        err_set(e, "%s: not a %s file (attribute format is \"%s\")", path, want,
                h5_printable(fmt));
    else if (h5_attr_read_int(f, "format_version", &v, path, e) != 0)
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

/* chunk_shape: the chunk of a fixed-size dataset: whole rows (the first dimension cut)
 * of at most about CHUNK_TARGET_BYTES, the last dimension cut too when one row is larger. */
static void chunk_shape(int rank, const hsize_t *dims, size_t value_size, hsize_t *chunk)
{
    hsize_t row = value_size, target = CHUNK_TARGET_BYTES;
    for (int i = 1; i < rank; i++) {
        chunk[i] = dims[i];
        row *= dims[i];
    }
    if (row > target && rank > 1) {
        hsize_t last = target / (row / dims[rank - 1]);
        chunk[rank - 1] = last > 0 ? last : 1;
        row = target;
    }
    hsize_t rows = target / row;
    chunk[0] = rows < 1 ? 1 : rows < dims[0] ? rows : dims[0];
}

/* h5_ds_create: an empty dataset, chunked and with the Fletcher32 checksum filter (HDF5
 * verifies every chunk it reads); maxdims NULL = fixed size, else extendible by chunks of
 * EXTENDIBLE_CHUNK_ROWS rows. A fixed-size dataset holding no values stays contiguous. */
int h5_ds_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                 const hsize_t *maxdims, const char *path, Err *e)
{
    int rc = -1, empty = 0;
    hsize_t chunk[4] = {EXTENDIBLE_CHUNK_ROWS, 1, 1, 1};
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    if (rank < 1 || rank > 4)
        return err_set(e, "%s: %s: rank %d not supported", path, name, rank);
    for (int i = 0; i < rank; i++)
        empty |= dims[i] == 0;
    H5_CHECK(space = H5Screate_simple(rank, dims, maxdims), name);
    H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), name);
    if (!maxdims && !empty)
        chunk_shape(rank, dims, H5Tget_size(type), chunk);
    if (maxdims || !empty) {
        H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), name);
        H5_CHECK(H5Pset_fletcher32(dcpl), name);
    }
    H5_CHECK(ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), name);
    rc = 0;
done:
    h5_close(&ds);
    h5_close(&dcpl);
    h5_close(&space);
    return rc;
}

/* h5_ds_write_all: writes the whole dataset `name` of loc from buf. */
int h5_ds_write_all(hid_t loc, const char *name, hid_t type, const void *buf,
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

/* h5_ds_shape: rank and dims (up to 4) of an open dataset. */
int h5_ds_shape(hid_t ds, const char *name, int *rank, hsize_t dims[4], const char *path,
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

/* h5_ds_type: class and size of an open dataset's values. */
int h5_ds_type(hid_t ds, const char *name, H5T_class_t *cls, size_t *size,
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

