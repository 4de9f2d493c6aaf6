/* predfile.c: the predictions file (see predfile.h): CSV through stdio, HDF5 through the
 * helpers of h5util. */
#include "io/predfile.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"

#ifdef DOWNHILL_DOUBLE
#define REAL_FMT "%.17g" /* enough digits to read back the same value */
#else
#define REAL_FMT "%.9g"
#endif

/* ends_with: 1 when s ends in suffix, ignoring case. */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* folder_of: the folder part of path into buf ("." for a bare name). */
static const char *folder_of(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s", path);
    return dirname(buf);
}

/* same_file: 1 when a and b name one existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int predfile_check(const char *path, const char *keep, Err *e)
{
    char buf[4096];
    struct stat st;
    if (!ends_with(path, ".csv") && !ends_with(path, ".h5"))
        return err_set(e, "--predictions %s: the file name must end in .csv (text) or .h5 "
                          "(HDF5)", path);
    if (same_file(path, keep))
        return err_set(e, "--predictions %s is the run file being evaluated: not replacing "
                          "it; choose another file name", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(e, "--predictions %s is a folder: give a file name", path);
    if (stat(path, &st) == 0 && access(path, W_OK) != 0)
        return err_set(e, "--predictions %s: cannot write the file (%s)", path,
                       strerror(errno));
    const char *folder = folder_of(path, buf, sizeof buf);
    if (access(folder, W_OK) != 0)
        return err_set(e, "--predictions %s: cannot write to folder %s (%s): create it or "
                          "choose another path", path, folder, strerror(errno));
    return 0;
}

/* write_csv_rows: the header and one line per example. */
static int write_csv_rows(FILE *out, const Predictions *p)
{
    fprintf(out, "index,label,predicted");
    for (int j = 0; j < p->classes; j++)
        fprintf(out, ",prob_%d", j);
    fputc('\n', out);
    for (int64_t i = 0; i < p->count; i++) {
        fprintf(out, "%lld,%d,%d", (long long)i, p->labels[i], (int)p->predicted[i]);
        const Real *a = p->outputs + (size_t)i * p->classes;
        for (int j = 0; j < p->classes; j++)
            fprintf(out, "," REAL_FMT, (double)a[j]);
        if (fputc('\n', out) == EOF)
            return -1;
    }
    return ferror(out) ? -1 : 0;
}

static int write_csv(const char *path, const Predictions *p, Err *e)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return err_set(e, "--predictions %s: cannot create the file (%s)", path,
                       strerror(errno));
    int failed = write_csv_rows(out, p);
    int saved = errno;
    if (fclose(out) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed && remove(path) == 0) /* no half-written file */
        return err_set(e, "--predictions %s: write failed (%s), file removed",
                       path, strerror(saved));
    if (failed)
        return err_set(e, "--predictions %s: write failed (%s)", path,
                       strerror(saved));
    return 0;
}

/* write_ds: a fixed-size dataset `name` of rank 1 or 2 from buf. */
static int write_ds(hid_t f, const char *name, hid_t type, int rank, hsize_t d0, hsize_t d1,
                    const void *buf, const char *path, Err *e)
{
    hsize_t dims[2] = {d0, d1};
    return h5_ds_create(f, name, type, rank, dims, NULL, path, e) ||
                   h5_ds_write_all(f, name, type, buf, path, e)
               ? -1
               : 0;
}

/* write_attrs: the root attributes. */
static int write_attrs(hid_t f, const Predictions *p, const char *path, Err *e)
{
    int version = PRED_FORMAT_VERSION;
    return h5_attr_write_string(f, "format", PRED_FORMAT_NAME, path, e) ||
                   h5_attr_write(f, "format_version", H5T_NATIVE_INT, 0, &version, path, e) ||
                   h5_attr_write_string(f, "model", p->model, path, e) ||
                   h5_attr_write_string(f, "data", p->data, path, e) ||
                   h5_attr_write_string(f, "precision", REAL_NAME, path, e) ||
                   h5_attr_write(f, "classes", H5T_NATIVE_INT, 0, &p->classes, path, e)
               ? -1
               : 0;
}

static int write_h5(const char *path, const Predictions *p, Err *e)
{
    int rc = -1;
    hsize_t n = (hsize_t)p->count, c = (hsize_t)p->classes;
    hid_t f = H5I_INVALID_HID;
    int64_t *index = alloc_array((size_t)p->count, sizeof *index, "prediction indices", e);
    if (!index)
        return -1;
    for (int64_t i = 0; i < p->count; i++)
        index[i] = i;
    h5_quiet();
    if (h5_file_create(path, &f, e)) {
        free(index);
        return -1;
    }
    if (write_attrs(f, p, path, e) ||
        write_ds(f, "index", H5T_NATIVE_INT64, 1, n, 0, index, path, e) ||
        write_ds(f, "label", H5T_NATIVE_UINT8, 1, n, 0, p->labels, path, e) ||
        write_ds(f, "predicted", H5T_NATIVE_INT32, 1, n, 0, p->predicted, path, e) ||
        write_ds(f, "probabilities", h5_real_type(), 2, n, c, p->outputs, path, e) ||
        (p->confusion &&
         write_ds(f, "confusion", H5T_NATIVE_INT64, 2, c, c, p->confusion, path, e)))
        goto done;
    rc = h5_file_close_sealed(&f, path, 0, e); /* the memory file reaches the disk here */
done:
    h5_close(&f);
    free(index);
    if (rc != 0)
        remove(path); /* no half-written file */
    return rc;
}

int predfile_write(const char *path, const Predictions *p, Err *e)
{
    return ends_with(path, ".h5") ? write_h5(path, p, e) : write_csv(path, p, e);
}
