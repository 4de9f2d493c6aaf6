/* test_data.c: IDX loading (plain and gzip), lane and block shards, every error message,
 * and, when present, the real Fashion-MNIST files. Exits non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "io/data.h"

#define N 37      /* fixture examples */
#define ROWS 3
#define COLS 4
#define DIM (ROWS * COLS)
#define MAX_FILES 64
#define FASHION "/usr/share/datasets/fashion-mnist"

static char tmpdir[256];
static char created[MAX_FILES][320];
static int n_created;

/* expect_err: rc is -1 and the message contains `fragment`. */
static void expect_err(const char *what, int rc, const Err *e, const char *fragment)
{
    CHECK(rc == -1, "%s: expected failure, got rc %d", what, rc);
    CHECK(rc != -1 || strstr(e->msg, fragment) != NULL,
          "%s: message \"%s\" lacks \"%s\"", what, e->msg, fragment);
}

static uint8_t pixel(int64_t i, int p) { return (uint8_t)(i * 7 + p * 13 + 1); }
static uint8_t label(int64_t i) { return (uint8_t)(i % 10); }

static const char *fixture(const char *name)
{
    if (n_created == MAX_FILES) {
        fprintf(stderr, "too many fixture files\n");
        exit(2);
    }
    snprintf(created[n_created], sizeof created[0], "%s/%s", tmpdir, name);
    return created[n_created++];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* write_bytes: writes len bytes plain or through gzip; exits on failure (not a test). */
static const char *write_bytes(const char *name, const uint8_t *b, size_t len, int gz)
{
    const char *path = fixture(name);
    int ok;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ok = g && (len == 0 || gzwrite(g, b, (unsigned)len) == (int)len);
        ok = g && gzclose(g) == Z_OK && ok;
    } else {
        FILE *f = fopen(path, "wb");
        ok = f && fwrite(b, 1, len, f) == len;
        ok = f && fclose(f) == 0 && ok;
    }
    if (!ok) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(2);
    }
    return path;
}

/* images_idx: an image IDX file announcing `count` examples, holding `bytes` bytes
 * (header included; 0 = all). */
static const char *images_idx(const char *name, uint32_t magic, int64_t count, int rows,
                              size_t bytes, int gz)
{
    static uint8_t b[16 + N * DIM + 64];
    put32(b, magic), put32(b + 4, (uint32_t)count), put32(b + 8, (uint32_t)rows);
    put32(b + 12, COLS);
    for (int64_t i = 0; i < N; i++)
        for (int p = 0; p < DIM; p++)
            b[16 + i * DIM + p] = pixel(i, p);
    size_t full = 16 + (size_t)(count < N ? count : N) * DIM;
    return write_bytes(name, b, bytes ? bytes : full, gz);
}

static const char *labels_idx(const char *name, uint32_t magic, int64_t count, int gz)
{
    static uint8_t b[8 + N];
    put32(b, magic), put32(b + 4, (uint32_t)count);
    for (int64_t i = 0; i < N; i++)
        b[8 + i] = label(i);
    return write_bytes(name, b, 8 + (size_t)count, gz);
}

/* check_shard_data: every local row holds the example shard_global names; count
 * coverage in cover (may be NULL). */
static void check_shard_data(const char *what, const Dataset *d, const Shard *s, int *cover)
{
    CHECK(d->rows == shard_rows(s), "%s: %lld rows, expected %lld", what,
          (long long)d->rows, (long long)shard_rows(s));
    int bad = 0;
    for (int64_t r = 0; r < d->rows; r++) {
        int64_t g = shard_global(s, r);
        int64_t lane = g % s->stride;
        bad += g < 0 || g >= s->n || lane < s->lane0 || lane >= s->lane1;
        if (g < 0 || g >= s->n)
            continue;
        bad += d->labels[r] != label(g);
        for (int p = 0; p < DIM; p++)
            bad += d->images[r * DIM + p] != pixel(g, p);
        if (cover)
            cover[g]++;
    }
    CHECK(bad == 0, "%s: %d wrong bytes or rows", what, bad);
}

static void load_shard(const char *what, const char *img, const char *lab, Shard s,
                       int *cover)
{
    Dataset d;
    Err e = {""};
    int rc = data_load(img, lab, &s, 10, &d, &e);
    CHECK(rc == 0, "%s: load failed: %s", what, e.msg);
    if (rc == 0)
        check_shard_data(what, &d, &s, cover);
    data_free(&d);
}

static void test_good(const char *img, const char *lab, const char *what)
{
    DataInfo info;
    Err e = {""};
    int rc = data_probe(img, lab, &info, &e);
    CHECK(rc == 0, "%s: probe failed: %s", what, e.msg);
    CHECK(rc != 0 || (info.count == N && info.img_rows == ROWS && info.img_cols == COLS &&
                      info.dim == DIM),
          "%s: probe gave %lld x %d x %d", what, (long long)info.count, info.img_rows,
          info.img_cols);
    CHECK(data_is_hdf5(img, &e) == 0, "%s: IDX file taken for HDF5", what);
    load_shard(what, img, lab, shard_lanes(N, 1, 0, 1), NULL);

    uint8_t *ib = NULL, *lb = NULL;
    rc = data_read_idx_all(img, lab, &info, &ib, &lb, &e);
    CHECK(rc == 0, "%s: read_idx_all failed: %s", what, e.msg);
    int bad = 0;
    for (int64_t i = 0; rc == 0 && i < N; i++) {
        bad += lb[i] != label(i);
        for (int p = 0; p < DIM; p++)
            bad += ib[i * DIM + p] != pixel(i, p);
    }
    CHECK(bad == 0 && (rc != 0 || info.count == N), "%s: read_idx_all wrong (%d)", what, bad);
    free(ib);
    free(lb);
}

/* test_partition: the shards of all ranks cover each of the first n examples once. */
static void test_partition(const char *img, const char *lab, const char *what, int64_t n,
                           int64_t stride, int ranks, int blocks)
{
    int cover[N] = {0};
    char name[160];
    for (int r = 0; r < ranks; r++) {
        Shard s = blocks ? shard_block(n, r, ranks)
                         : shard_lanes(n, stride, stride * r / ranks, stride * (r + 1) / ranks);
        snprintf(name, sizeof name, "%s n=%lld %s rank %d/%d", what, (long long)n,
                 blocks ? "blocks" : "lanes", r, ranks);
        load_shard(name, img, lab, s, cover);
    }
    int bad = 0;
    for (int64_t i = 0; i < N; i++)
        bad += cover[i] != (i < n ? 1 : 0);
    CHECK(bad == 0, "%s n=%lld stride %lld ranks %d: %d examples not covered exactly once",
          what, (long long)n, (long long)stride, ranks, bad);
}

static void test_sharding(const char *img, const char *lab, const char *what)
{
    int64_t strides[] = {1, 3, 8, 37, 40};
    for (int k = 0; k < 5; k++)
        for (int ranks = 1; ranks <= 4; ranks++)
            if (ranks <= strides[k]) {
                test_partition(img, lab, what, N, strides[k], ranks, 0);
                test_partition(img, lab, what, 20, strides[k], ranks, 0);
            }
    for (int ranks = 1; ranks <= 5; ranks++) {
        test_partition(img, lab, what, N, N, ranks, 1);
        test_partition(img, lab, what, 20, 20, ranks, 1);
    }
    load_shard("stride 8 lanes [0,4)", img, lab, shard_lanes(N, 8, 0, 4), NULL);
    load_shard("stride 8 lanes [4,8)", img, lab, shard_lanes(N, 8, 4, 8), NULL);
    load_shard("stride 8 lanes [5,6) limit 20", img, lab, shard_lanes(20, 8, 5, 6), NULL);
    load_shard("empty lanes [2,2)", img, lab, shard_lanes(N, 8, 2, 2), NULL);
    load_shard("limit 0", img, lab, shard_lanes(0, 1, 0, 1), NULL);
}

static void expect_probe_err(const char *what, const char *img, const char *lab,
                             const char *fragment)
{
    DataInfo info;
    Err e = {""};
    expect_err(what, data_probe(img, lab, &info, &e), &e, fragment);
}

static void expect_load_err(const char *what, const char *img, const char *lab, Shard s,
                            int n_classes, const char *fragment)
{
    Dataset d;
    Err e = {""};
    memset(&d, 0x5a, sizeof d);
    expect_err(what, data_load(img, lab, &s, n_classes, &d, &e), &e, fragment);
    CHECK(d.images == NULL && d.labels == NULL && d.rows == 0, "%s: dataset not emptied",
          what);
}

static void test_file_errors(const char *img, const char *lab)
{
    char missing[320], dir[320];
    snprintf(missing, sizeof missing, "%s/no-such-file", tmpdir);
    snprintf(dir, sizeof dir, "%s/subdir", tmpdir);
    if (mkdir(dir, 0700) != 0)
        CHECK(0, "cannot create %s", dir);
    expect_probe_err("missing images", missing, lab, "cannot open image file");
    expect_probe_err("missing images errno", missing, lab, "No such file or directory");
    expect_probe_err("missing labels", img, missing, "cannot open label file");
    expect_probe_err("directory", dir, lab, "is a directory, expected an IDX or HDF5 file");
    const char *empty = write_bytes("empty", (const uint8_t *)"", 0, 0);
    expect_probe_err("empty images", empty, lab, "is empty");
    expect_probe_err("empty labels", img, empty, "is empty");
    Err e = {""};
    CHECK(data_is_hdf5(missing, &e) == -1, "data_is_hdf5 on a missing file is not -1");
    rmdir(dir);
}

static void test_format_errors(const char *img, const char *lab)
{
    const char *h = images_idx("short-header", 0x803, N, ROWS, 10, 0);
    expect_probe_err("truncated header", h, lab, "truncated IDX header");
    h = images_idx("short-header.gz", 0x803, N, ROWS, 10, 1);
    expect_probe_err("truncated header gz", h, lab, "truncated IDX header");
    const char *cut = images_idx("cut", 0x803, N, ROWS, 16 + 20 * DIM + 5, 0);
    expect_probe_err("truncated plain", cut, lab, "truncated");
    expect_load_err("truncated plain load", cut, lab, shard_lanes(N, 1, 0, 1), 10,
                    "truncated");
    const char *cutgz = images_idx("cut.gz", 0x803, N, ROWS, 16 + 20 * DIM + 5, 1);
    expect_load_err("truncated gz", cutgz, lab, shard_lanes(N, 1, 0, 1), 10,
                    "truncated: expected 37 images of 3 x 4 bytes, file ends in image 20");
    load_shard("truncated gz, limit before the cut", cutgz, lab, shard_lanes(20, 1, 0, 1),
               NULL);
    const char *magic = images_idx("magic", 0x802, N, ROWS, 0, 0);
    expect_probe_err("wrong magic", magic, lab,
                     "wrong IDX magic 0x00000802, expected 0x00000803");
    expect_probe_err("swapped", lab, img, "swapped");
    expect_probe_err("swapped detail", lab, img, "magic 0x00000801, expected 0x00000803");
    const uint8_t junk[] = {0x1f, 0x8b, 0x77, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                            0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
    const char *garbage = write_bytes("garbage.gz", junk, sizeof junk, 0);
    expect_probe_err("gzip garbage", garbage, lab, "not a valid gzip/IDX stream");
    const char *zero = images_idx("zero-rows", 0x803, N, 0, 0, 0);
    expect_probe_err("zero rows", zero, lab, "implausible image size");
    const char *none = images_idx("no-examples", 0x803, 0, ROWS, 0, 0);
    expect_probe_err("no examples", none, lab, "implausible example count 0");
}

static void test_gzip_cut(const char *good_gz, const char *lab)
{
    FILE *f = fopen(good_gz, "rb");
    uint8_t b[4096];
    size_t len = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    const char *cut = write_bytes("stream-cut.gz", b, len / 2, 0);
    expect_load_err("gzip stream cut", cut, lab, shard_lanes(N, 1, 0, 1), 10, "truncated");
}

static void test_count_and_label_errors(const char *img, const char *lab)
{
    const char *lab36 = labels_idx("labels36", 0x801, N - 1, 0);
    expect_probe_err("counts disagree", img, lab36, "has 37 examples but labels");
    expect_probe_err("counts disagree 36", img, lab36, "has 36");
    expect_load_err("label range", img, lab, shard_lanes(N, 8, 4, 8), 5,
                    "label 5 of example 5 is not below the number of outputs 5 "
                    "(model.layers)");
    expect_load_err("label range gz lanes", img, lab, shard_lanes(N, 8, 0, 1), 8,
                    "label 8 of example 8 is not below");
    load_shard("labels fit when 10 classes", img, lab, shard_lanes(N, 8, 4, 8), NULL);
    expect_load_err("limit beyond count", img, lab, shard_lanes(N + 1, 1, 0, 1), 10,
                    "38 were requested");
    expect_load_err("bad lanes", img, lab, shard_lanes(N, 4, 3, 5), 10, "invalid shard");
}

static void test_hdf5_signature(const char *lab)
{
    const uint8_t sig[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0};
    const char *h5 = write_bytes("fake.h5", sig, sizeof sig, 0);
    const char *tiny = write_bytes("tiny", sig, 4, 0);
    Err e = {""};
    CHECK(data_is_hdf5(h5, &e) == 1, "HDF5 signature not recognised");
    CHECK(data_is_hdf5(tiny, &e) == 0, "4-byte file taken for HDF5");
    DataInfo info;
    CHECK(data_probe(h5, lab, &info, &e) == -1, "fake HDF5 file probed without error");
    uint8_t *ib = (uint8_t *)1, *lb = (uint8_t *)1;
    CHECK(data_read_idx_all(h5, lab, &info, &ib, &lb, &e) == -1 && !ib && !lb,
          "read_idx_all accepted an HDF5 file or left buffers set");
    Dataset d = {0};
    data_free(&d);
}

static void test_fashion(void)
{
    const char *tri = FASHION "/train-images-idx3-ubyte.gz";
    const char *trl = FASHION "/train-labels-idx1-ubyte.gz";
    const char *tei = FASHION "/t10k-images-idx3-ubyte.gz";
    const char *tel = FASHION "/t10k-labels-idx1-ubyte.gz";
    if (access(trl, R_OK) != 0) {
        printf("note: %s absent, skipping the Fashion-MNIST checks\n", trl);
        return;
    }
    DataInfo info;
    Err e = {""};
    int rc = data_probe(tri, trl, &info, &e);
    CHECK(rc == 0 && info.count == 60000 && info.img_rows == 28 && info.img_cols == 28,
          "Fashion train probe: rc %d %lld x %d x %d %s", rc, (long long)info.count,
          info.img_rows, info.img_cols, e.msg);
    rc = data_probe(tei, tel, &info, &e);
    CHECK(rc == 0 && info.count == 10000 && info.dim == 784,
          "Fashion test probe: rc %d count %lld %s", rc, (long long)info.count, e.msg);
    Dataset part, all;
    Shard s = shard_lanes(10000, 16, 3, 5), whole = shard_lanes(10000, 1, 0, 1);
    rc = data_load(tei, tel, &s, 10, &part, &e);
    CHECK(rc == 0 && part.rows == shard_rows(&s), "Fashion test shard: %s", e.msg);
    int rc2 = data_load(tei, tel, &whole, 10, &all, &e);
    CHECK(rc2 == 0, "Fashion test full load: %s", e.msg);
    int bad = 0;
    for (int64_t r = 0; rc == 0 && rc2 == 0 && r < part.rows; r++) {
        int64_t g = shard_global(&s, r);
        bad += part.labels[r] >= 10 || part.labels[r] != all.labels[g];
        bad += memcmp(part.images + r * 784, all.images + g * 784, 784) != 0;
    }
    CHECK(bad == 0, "Fashion test shard differs from the full load in %d rows", bad);
    data_free(&part);
    data_free(&all);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_data.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    const char *img = images_idx("images", 0x803, N, ROWS, 0, 0);
    const char *lab = labels_idx("labels", 0x801, N, 0);
    const char *imggz = images_idx("images.gz", 0x803, N, ROWS, 0, 1);
    const char *labgz = labels_idx("labels.gz", 0x801, N, 1);
    test_good(img, lab, "plain");
    test_good(imggz, labgz, "gzip");
    test_good(imggz, lab, "gzip images, plain labels");
    test_sharding(img, lab, "plain");
    test_sharding(imggz, labgz, "gzip");
    test_file_errors(img, lab);
    test_format_errors(img, lab);
    test_gzip_cut(imggz, lab);
    test_count_and_label_errors(img, lab);
    test_count_and_label_errors(imggz, labgz);
    test_hdf5_signature(lab);
    test_fashion();
    for (int k = 0; k < n_created; k++)
        unlink(created[k]);
    if (rmdir(tmpdir) != 0)
        CHECK(0, "cannot remove %s (files left behind?)", tmpdir);
    return check_report("test_data");
}
