/* h5util.h: the HDF5 helpers every file of src/io/ shares: error capture (H5_CHECK, one-line
 * messages naming the file and the object), handles, files, attributes and datasets.
 * Private to src/io/: the only place besides its .c files that includes <hdf5.h>.
 *
 * Every helper takes the `path` of the file it works on (for messages) and an Err; it
 * returns 0, or -1 with e set. */
#ifndef DOWNHILL_IO_H5UTIL_H
#define DOWNHILL_IO_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include "core/common.h"

/* H5_CHECK: runs an HDF5 call; on a negative result records the call, its file and line,
 * the object `obj` and HDF5's innermost message in `e` (naming the local `path`), then
 * jumps to the function's `done` label, which closes every handle. */
#define H5_CHECK(call, obj)                                                                \
    do {                                                                                   \
        if ((call) < 0) {                                                                  \
            h5_fail(e, path, obj, #call, __FILE__, __LINE__);                              \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

/* FAIL: records a formatted message in `e` and jumps to `done`. */
#define FAIL(...)                                                                          \
    do {                                                                                   \
        err_set(e, __VA_ARGS__);                                                           \
        goto done;                                                                         \
    } while (0)

#define NAME_LEN 32  /* a dataset name such as "W12" */
#define SHAPE_LEN 64 /* a shape printed by h5_fmt_shape */

/* ---- error capture and handles ------------------------------------------------------- */

/* h5_quiet: stops HDF5 printing its error stack; every entry point calls it first. */
void h5_quiet(void);

/* h5_detail: the innermost message of HDF5's current error stack into buf ("" if none). */
void h5_detail(char *buf, size_t len);

/* h5_fail: sets e to "PATH: OBJ: CALL failed (FILE:LINE) (HDF5: detail)"; FILE is the
 * base name of `file` (H5_CHECK passes __FILE__). */
void h5_fail(Err *e, const char *path, const char *obj, const char *call, const char *file,
             int line);

/* h5_close: closes any kind of handle src/io/ opens and sets *id invalid (no-op if invalid). */
void h5_close(hid_t *id);

/* h5_str_copy: a malloc'ed copy of s (the caller frees it), or NULL with e set. */
char *h5_str_copy(const char *s, Err *e);

/* h5_real_type: the HDF5 memory type of Real. */
hid_t h5_real_type(void);

/* h5_fmt_shape: "(d0, d1, ...)" of rank dims into buf; returns buf. */
const char *h5_fmt_shape(char *buf, size_t len, int rank, const hsize_t *dims);

/* h5_class_name: "integers", "floats", ... for messages. */
const char *h5_class_name(H5T_class_t c);

/* h5_printable: s (read from a file) made fit for a one-line message, in place: control
 * and non-ASCII bytes become '?', more than 40 characters end in "..."; returns s. */
const char *h5_printable(char *s);

/* ---- files and groups ---------------------------------------------------------------- */

/* h5_file_open_as: verifies the file's integrity block (whole-file checksum, fileseal.h)
 * before HDF5 reads it, then opens it read-only into *f, saying clearly when it is
 * missing, damaged, not HDF5 or locked by a writer; `unreadable` (if not NULL) replaces
 * HDF5's "not HDF5" and "damaged" messages; `hint` (if not NULL) says what to do when the
 * checksum fails ("use an older checkpoint"). The caller closes *f. */
int h5_file_open_as(const char *path, hid_t *f, const char *unreadable, const char *hint,
                    Err *e);

/* h5_file_open: h5_file_open_as with the default messages. */
int h5_file_open(const char *path, hid_t *f, Err *e);

/* h5_file_create: creates the file for path in memory, in the checksummed format every
 * file downhill writes uses (HDF5 1.10 format, Fletcher32 datasets, a user block for the
 * integrity block); nothing reaches the disk before h5_file_commit or
 * h5_file_close_sealed. The caller closes *f. */
int h5_file_create(const char *path, hid_t *f, Err *e);

/* h5_file_commit: writes the memory file f as it is now to path: its image with the
 * integrity block stamped (length, whole-file checksum) goes to path.part, which is renamed
 * to path (fsynced first when `sync`): path holds the previous or the new content, never a
 * mix; a full disk is reported with the OS reason. f stays open for more changes. */
int h5_file_commit(hid_t f, const char *path, int sync, Err *e);

/* h5_file_close_sealed: h5_file_commit, then closes *f (always; then invalid). */
int h5_file_close_sealed(hid_t *f, const char *path, int sync, Err *e);

/* h5_group_open: opens group `name` of f into *g, with a clear message when it is missing. */
int h5_group_open(hid_t f, const char *name, hid_t *g, const char *path, Err *e);

/* ---- attributes ---------------------------------------------------------------------- */

/* h5_attr_write: attribute `name` of n values of type (n = 0: one scalar value). */
int h5_attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *buf,
                  const char *path, Err *e);

/* h5_attr_write_string: a scalar variable-length UTF-8 string (h5py reads it as str). */
int h5_attr_write_string(hid_t obj, const char *name, const char *value, const char *path,
                         Err *e);

/* h5_attr_read_string: *out = malloc'ed value of the scalar string attribute `name` (the
 * caller frees it), or NULL (and 0 returned) when obj has no such attribute. */
int h5_attr_read_string(hid_t obj, const char *name, char **out, const char *path, Err *e);

/* h5_attr_read_nums: reads the attribute `name` of class `want` (integers or floats,
 * 1..max values) converted to mem_type into out; *n = count (n may be NULL when max is 1).
 * Missing is an error. */
int h5_attr_read_nums(hid_t obj, const char *name, H5T_class_t want, hid_t mem_type,
                      void *out, int max, int *n, const char *path, Err *e);

/* h5_attr_read_ints: h5_attr_read_nums for integer attributes. */
int h5_attr_read_ints(hid_t obj, const char *name, hid_t mem_type, void *out, int max, int *n,
                      const char *path, Err *e);

/* h5_attr_read_int: one int attribute. */
int h5_attr_read_int(hid_t obj, const char *name, int *out, const char *path, Err *e);

/* h5_check_format: attribute format == want and format_version == version; *present = 0
 * and no error when the format attribute is absent. */
int h5_check_format(hid_t f, const char *want, int version, int *present, const char *path,
                    Err *e);

/* ---- datasets ------------------------------------------------------------------------ */

/* h5_ds_create: an empty dataset `name` of loc (rank 1..4), chunked with the Fletcher32
 * checksum filter; maxdims NULL = fixed size, else 1-D and extendible. */
int h5_ds_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                 const hsize_t *maxdims, const char *path, Err *e);

/* h5_ds_write_all: writes the whole dataset `name` of loc from buf. */
int h5_ds_write_all(hid_t loc, const char *name, hid_t type, const void *buf,
                    const char *path, Err *e);

/* h5_ds_shape: rank and dims (up to 4) of an open dataset. */
int h5_ds_shape(hid_t ds, const char *name, int *rank, hsize_t dims[4], const char *path,
                Err *e);

/* h5_ds_type: class and size of an open dataset's values. */
int h5_ds_type(hid_t ds, const char *name, H5T_class_t *cls, size_t *size, const char *path,
               Err *e);

#endif
