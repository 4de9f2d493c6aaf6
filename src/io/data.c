/* data.c: MNIST-format IDX files (plain or gzip, read with zlib) and downhill HDF5 input
 * files (through inputfile.h); each rank streams the file once and keeps only its shard. */
#define _POSIX_C_SOURCE 200809L
#include "io/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/inputfile.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_DIM (1L << 24)        /* pixels per image */
#define IDX_MAX_COUNT (1LL << 31)     /* examples per file */
#define GZ_BUFFER (256u * 1024u)      /* zlib input buffer */
#define READ_CHUNK (256u * 1024u)     /* bytes of examples read per gzread */

/* One IDX file being read: its header once parsed. */
typedef struct {
    const char *path;
    int images;      /* 1: image file (magic 0x803), 0: label file (0x801) */
    gzFile g;
    int64_t count;
    int rows, cols;  /* 1 x 1 for labels */
} IdxFile;

static const char *kind(int images) { return images ? "image" : "label"; }

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* stat_input: the file exists, is not a directory and not empty; *size is its byte
 * count for a regular file, -1 otherwise (pipes, devices). */
static int stat_input(const char *path, int images, int64_t *size, Err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, "cannot open %s file %s: %s (check the data file paths in the "
                          "configuration, e.g. data.train_images / data.train_labels)",
                       kind(images), path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return err_set(e, "%s is a directory, expected an IDX or HDF5 file (%s file)",
                       path, kind(images));
    *size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    if (*size == 0)
        return err_set(e, "%s is empty (%s file)", path, kind(images));
    return 0;
}

static int idx_open(IdxFile *f, Err *e)
{
    errno = 0;
    f->g = gzopen(f->path, "rb");
    if (!f->g)
        return err_set(e, "cannot open %s file %s: %s", kind(f->images), f->path,
                       errno ? strerror(errno) : "out of memory");
    if (gzbuffer(f->g, GZ_BUFFER) != 0) {
        gzclose(f->g);
        f->g = NULL;
        return err_set(e, "%s: cannot set the zlib buffer size", f->path);
    }
    return 0;
}

static void idx_close(IdxFile *f)
{
    if (f->g)
        gzclose(f->g);
    f->g = NULL;
}

/* idx_read: reads up to len bytes into buf; *got is what was read (short at end of
 * file); -1 with a message when the stream is not valid gzip. */
static int idx_read(IdxFile *f, void *buf, size_t len, size_t *got, Err *e)
{
    int n = gzread(f->g, buf, (unsigned)len);
    int errnum = Z_OK;
    const char *msg = gzerror(f->g, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
        size_t plen = strlen(f->path); /* zlib prefixes its message with "PATH: " */
        if (errnum != Z_ERRNO && strncmp(msg, f->path, plen) == 0 && msg[plen] == ':')
            msg += plen + (msg[plen + 1] == ' ' ? 2 : 1);
        return err_set(e, "%s: not a valid gzip/IDX stream: %s", f->path,
                       errnum == Z_ERRNO ? strerror(errno) : msg);
    }
    *got = (size_t)n;
    return 0;
}

static int wrong_magic(const IdxFile *f, uint32_t magic, Err *e)
{
    uint32_t want = f->images ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
    uint32_t other = f->images ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC;
    const char *hint = magic == other
                           ? (f->images ? "this is a label file: are the image and label "
                                          "paths swapped?"
                                        : "this is an image file: are the image and label "
                                          "paths swapped?")
                           : "not an MNIST IDX file (nor an HDF5 input file)";
    return err_set(e, "%s: wrong IDX magic 0x%08x, expected 0x%08x (%ss); %s", f->path,
                   magic, want, kind(f->images), hint);
}

/* idx_header: reads and checks the header (magic, count, rows, cols). */
static int idx_header(IdxFile *f, Err *e)
{
    unsigned char h[16];
    size_t want = f->images ? 16 : 8, got = 0;
    if (idx_read(f, h, want, &got, e) != 0)
        return -1;
    if (got >= 4 && be32(h) != (f->images ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC))
        return wrong_magic(f, be32(h), e);
    if (got < want)
        return err_set(e, "%s: truncated IDX header: expected %zu bytes, file ends after %zu",
                       f->path, want, got);
    if (f->images && (be32(h + 8) > IDX_MAX_DIM || be32(h + 12) > IDX_MAX_DIM))
        return err_set(e, "%s: implausible image size %u x %u in the IDX header", f->path,
                       be32(h + 8), be32(h + 12));
    f->count = be32(h + 4);
    f->rows = f->images ? (int)be32(h + 8) : 1;
    f->cols = f->images ? (int)be32(h + 12) : 1;
    return 0;
}

/* check_shape: count and image size are plausible (for IDX and HDF5 alike). */
static int check_shape(const char *path, int64_t count, int rows, int cols, Err *e)
{
    if (count <= 0 || count > IDX_MAX_COUNT)
        return err_set(e, "%s: implausible example count %lld (expected 1 .. 2^31)", path,
                       (long long)count);
    if (rows <= 0 || cols <= 0 || (int64_t)rows * cols > IDX_MAX_DIM)
        return err_set(e, "%s: implausible image size %d x %d (expected at least 1 x 1 and "
                          "at most 2^24 pixels)", path, rows, cols);
    return 0;
}

/* probe_idx: reads the header and, for an uncompressed file, checks the file is long
 * enough to hold every example (gzip truncation is found while reading). */
static int probe_idx(IdxFile *f, int64_t size, Err *e)
{
    if (idx_open(f, e) != 0)
        return -1;
    int rc = idx_header(f, e);
    if (rc == 0)
        rc = check_shape(f->path, f->count, f->rows, f->cols, e);
    /* only once check_shape passed: count <= 2^31 and rows * cols <= 2^24 cannot overflow */
    int64_t need = rc == 0 ? (f->images ? 16 : 8) + f->count * ((int64_t)f->rows * f->cols) : 0;
    if (rc == 0 && size >= 0 && gzdirect(f->g) && size < need)
        rc = err_set(e, "%s: truncated: the header announces %lld %ss of %d x %d bytes "
                        "(%lld bytes with the header), the file has %lld bytes",
                     f->path, (long long)f->count, kind(f->images), f->rows, f->cols,
                     (long long)need, (long long)size);
    idx_close(f);
    return rc;
}

/* probe_one: count and shape of one file, IDX or HDF5. */
static int probe_one(const char *path, int images, IdxFile *f, Err *e)
{
    int64_t size;
    *f = (IdxFile){.path = path, .images = images, .rows = 1, .cols = 1};
    if (stat_input(path, images, &size, e) != 0)
        return -1;
    int h5 = data_is_hdf5(path, e);
    if (h5 < 0)
        return -1;
    if (!h5)
        return probe_idx(f, size, e);
    if (h5in_probe(path, images, &f->count, &f->rows, &f->cols, e) != 0)
        return -1;
    if (!images)
        f->rows = f->cols = 1;
    return check_shape(path, f->count, f->rows, f->cols, e);
}

int data_probe(const char *images, const char *labels, DataInfo *info, Err *e)
{
    IdxFile fi, fl;
    memset(info, 0, sizeof *info);
    if (probe_one(images, 1, &fi, e) != 0 || probe_one(labels, 0, &fl, e) != 0)
        return -1;
    if (fi.count != fl.count)
        return err_set(e, "images %s has %lld examples but labels %s has %lld", images,
                       (long long)fi.count, labels, (long long)fl.count);
    info->count = fi.count;
    info->img_rows = fi.rows;
    info->img_cols = fi.cols;
    info->dim = fi.rows * fi.cols;
    return 0;
}

int data_is_hdf5(const char *path, Err *e)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    static const char seal[] = "DOWNHILL_SEAL"; /* downhill's integrity block (FORMATS.md) */
    unsigned char head[520]; /* a 512-byte user block and the signature after it */
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return err_set(e, "cannot open %s: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad)
        return err_set(e, "%s: read error", path);
    return (got >= 8 && memcmp(head, sig, sizeof sig) == 0) ||
           (got >= 16 && memcmp(head, seal, sizeof seal - 1) == 0) ||
           (got >= 272 && memcmp(head + 256, seal, sizeof seal - 1) == 0) ||
           (got == sizeof head && memcmp(head + 512, sig, sizeof sig) == 0);
}

/* check_shard: the shard's lanes are valid and it asks for no more than the file holds. */
static int check_shard(const Shard *s, const DataInfo *info, const char *path, Err *e)
{
    if (s->stride < 1 || s->lane0 < 0 || s->lane1 < s->lane0 || s->lane1 > s->stride)
        return err_set(e, "invalid shard: lanes [%lld, %lld) of %lld", (long long)s->lane0,
                       (long long)s->lane1, (long long)s->stride);
    if (s->n < 0 || s->n > info->count)
        return err_set(e, "%s has %lld examples, but %lld were requested (check the "
                          "example limit in the configuration)",
                       path, (long long)info->count, (long long)s->n);
    return 0;
}

/* keep_held: copies the held examples among buf's m examples (global i0 ..) to out. */
static void keep_held(const Shard *s, const uint8_t *buf, int64_t i0, int64_t m,
                      size_t width, uint8_t *out)
{
    for (int64_t j = 0; j < m; j++) {
        int64_t i = i0 + j, lane = i % s->stride;
        if (lane >= s->lane0 && lane < s->lane1)
            memcpy(out + (size_t)shard_row(s, lane, i / s->stride) * width,
                   buf + (size_t)j * width, width);
    }
}

static int truncated(const IdxFile *f, int64_t at, Err *e)
{
    if (f->images)
        return err_set(e, "%s: truncated: expected %lld images of %d x %d bytes, file ends "
                          "in image %lld", f->path, (long long)f->count, f->rows, f->cols,
                       (long long)at);
    return err_set(e, "%s: truncated: expected %lld labels, file ends at label %lld",
                   f->path, (long long)f->count, (long long)at);
}

/* stream_examples: reads examples 0 .. end-1 chunk by chunk, keeping those of s. */
static int stream_examples(IdxFile *f, const Shard *s, int64_t end, size_t width,
                           uint8_t *buf, size_t per_chunk, uint8_t *out, Err *e)
{
    for (int64_t i0 = 0; i0 < end; i0 += (int64_t)per_chunk) {
        int64_t m = end - i0 < (int64_t)per_chunk ? end - i0 : (int64_t)per_chunk;
        size_t got = 0;
        if (idx_read(f, buf, (size_t)m * width, &got, e) != 0)
            return -1;
        if (got < (size_t)m * width)
            return truncated(f, i0 + (int64_t)(got / width), e);
        keep_held(s, buf, i0, m, width, out);
    }
    return 0;
}

/* read_idx_shard: streams an IDX file once, stopping after the last held example. */
static int read_idx_shard(const char *path, int images, const DataInfo *info,
                          const Shard *s, uint8_t *out, Err *e)
{
    IdxFile f = {.path = path, .images = images};
    size_t width = images ? (size_t)info->dim : 1;
    size_t per_chunk = READ_CHUNK / width ? READ_CHUNK / width : 1;
    int64_t rows = shard_rows(s);
    int64_t end = rows ? shard_global(s, rows - 1) + 1 : 0;
    uint8_t *buf = alloc_array(per_chunk, width, "IDX read buffer", e);
    if (!buf)
        return -1;
    int rc = idx_open(&f, e);
    if (rc == 0)
        rc = idx_header(&f, e);
    if (rc == 0 && (f.count != info->count || (images && f.rows * f.cols != info->dim)))
        rc = err_set(e, "%s: header changed since it was first read", path);
    if (rc == 0)
        rc = stream_examples(&f, s, end, width, buf, per_chunk, out, e);
    idx_close(&f);
    free(buf);
    return rc;
}

static int read_part(const char *path, int images, const DataInfo *info, const Shard *s,
                     uint8_t *out, Err *e)
{
    int h5 = data_is_hdf5(path, e);
    if (h5 < 0)
        return -1;
    if (h5)
        return h5in_read(path, images, s, info->dim, out, e);
    return read_idx_shard(path, images, info, s, out, e);
}

static int check_labels(const char *path, const Dataset *d, int n_classes, Err *e)
{
    for (int64_t r = 0; r < d->rows; r++)
        if (d->labels[r] >= n_classes)
            return err_set(e, "%s: label %d of example %lld is not below the number of "
                              "outputs %d (model.layers)", path, d->labels[r],
                           (long long)shard_global(&d->shard, r), n_classes);
    return 0;
}

int data_load(const char *images, const char *labels, const Shard *s, int n_classes,
              Dataset *d, Err *e)
{
    memset(d, 0, sizeof *d);
    if (data_probe(images, labels, &d->info, e) != 0 ||
        check_shard(s, &d->info, images, e) != 0) {
        data_free(d);
        return -1;
    }
    d->shard = *s;
    d->rows = shard_rows(s);
    d->images = alloc_array((size_t)d->rows, (size_t)d->info.dim, "image shard", e);
    d->labels = d->images ? alloc_array((size_t)d->rows, 1, "label shard", e) : NULL;
    if (!d->labels || read_part(images, 1, &d->info, s, d->images, e) != 0 ||
        read_part(labels, 0, &d->info, s, d->labels, e) != 0 ||
        check_labels(labels, d, n_classes, e) != 0) {
        data_free(d);
        return -1;
    }
    return 0;
}

void data_free(Dataset *d)
{
    if (!d)
        return;
    free(d->labels);
    free(d->images);
    memset(d, 0, sizeof *d);
}

int data_read_idx_all(const char *images, const char *labels, DataInfo *info,
                      uint8_t **image_buf, uint8_t **label_buf, Err *e)
{
    Dataset d;
    *image_buf = *label_buf = NULL;
    if (data_probe(images, labels, info, e) != 0)
        return -1;
    const char *paths[2] = {images, labels};
    for (int k = 0; k < 2; k++) {
        int h5 = data_is_hdf5(paths[k], e);
        if (h5 != 0)
            return h5 < 0 ? -1 : err_set(e, "%s is an HDF5 file, expected an IDX file",
                                         paths[k]);
    }
    Shard all = shard_lanes(info->count, 1, 0, 1);
    if (data_load(images, labels, &all, 256, &d, e) != 0)
        return -1;
    *info = d.info;
    *image_buf = d.images;
    *label_buf = d.labels;
    return 0;
}
