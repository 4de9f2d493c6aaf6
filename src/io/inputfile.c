/* inputfile.c: downhill's HDF5 input files (see inputfile.h): written whole by `downhill
 * convert`; every rank reads only its own shard, with one hyperslab selection. */
#include "io/inputfile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "io/runfile.h"

static int input_check_header(hid_t f, const char *path, Err *e)
{
    char *fmt = NULL;
    int present;
    if (h5_attr_read_string(f, "format", &fmt, path, e))
        return -1;
    if (fmt && strcmp(fmt, RUN_FORMAT_NAME) == 0) {
        free(fmt);
        return err_set(e, "%s: this is a downhill run file, not an input file", path);
    }
    free(fmt);
    return h5_check_format(f, INPUT_FORMAT_NAME, INPUT_FORMAT_VERSION, &present, path, e);
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
    if (h5_file_open_as(path, f, NULL, "convert it again with downhill convert", e) ||
        input_check_header(*f, path, e))
        return -1;
    H5_CHECK(has = H5Lexists(*f, name, H5P_DEFAULT), name);
    if (!has)
        FAIL("%s: dataset /%s missing (an input file holds /images (N, pixels) and /labels "
             "(N), uint8)", path, name);
    H5_CHECK(*ds = H5Dopen2(*f, name, H5P_DEFAULT), name);
    if (h5_ds_shape(*ds, name, &rank, dims, path, e) ||
        h5_ds_type(*ds, name, &cls, &size, path, e))
        return -1;
    if (rank != want)
        FAIL("%s: /%s has rank %d, expected %d %s", path, name, rank, want,
             images ? "(N, pixels)" : "(N)");
    if (cls != H5T_INTEGER || size != 1)
        FAIL("%s: /%s holds %zu-byte %s, expected uint8 (write it with dtype uint8)", path,
             name, size, h5_class_name(cls));
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
        (h5_attr_read_int(f, "image_rows", rows, path, e) ||
         h5_attr_read_int(f, "image_cols", cols, path, e)))
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
    if (h5_ds_create(f, name, H5T_STD_U8LE, rank, dims, NULL, path, e))
        return -1;
    if (dims[0] == 0)
        return 0;
    return h5_ds_write_all(f, name, H5T_NATIVE_UINT8, buf, path, e);
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
    if (h5_file_create(path, &f, e) ||
        h5_attr_write_string(f, "format", INPUT_FORMAT_NAME, path, e) ||
        h5_attr_write(f, "format_version", H5T_NATIVE_INT, 0, &version, path, e) ||
        h5_attr_write(f, "image_rows", H5T_NATIVE_INT, 0, &img_rows, path, e) ||
        h5_attr_write(f, "image_cols", H5T_NATIVE_INT, 0, &img_cols, path, e) ||
        write_u8(f, "images", 2, dims, images, path, e) ||
        write_u8(f, "labels", 1, dims, labels, path, e))
        goto done;
    rc = h5_file_close_sealed(&f, path, 0, e);
done:
    h5_close(&f);
    return rc;
}
