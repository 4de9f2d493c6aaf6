/* test_h5io.c: run files (write, read back bit-exactly, refuse bad files), checkpoints
 * (round trip, atomic replace, corruption and damage detected), input files (lane and
 * block shards read with one hyperslab), h5_info, and third-party readers (h5dump, h5py)
 * when installed. Fixtures live in a mkdtemp directory, removed at the end. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/ckptfile.h"
#include "io/data.h"
#include "io/info.h"
#include "io/inputfile.h"
#include "io/runfile.h"
#include "core/hash.h"
#include "../../src/io/fileseal.h" /* to reseal files the tests edit */

#include "check.h"

#define PATH_LEN 512
#define CONFIG_TEXT "[model]\nlayers = 5 4 3\n\n[train]\nseed = 42\n"

typedef struct {
    int checks, failures;
    const char *dir;
    int base_types, base_plists; /* library-held ids before the tests */
} Tally;

/* CHECK(t, cond, fmt, ...): check.h's check, also counted in the tally t (main's verdict) */
#undef CHECK
#define CHECK(t, cond, ...)                                                                \
    ((t)->checks++, (t)->failures += !check_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__))

static void fixture(const Tally *t, const char *name, char *path)
{
    snprintf(path, PATH_LEN, "%s/%s", t->dir, name);
}

/* ids_open: HDF5 identifiers alive beyond those the library holds itself (0 = no leaks). */
static int id_count(H5I_type_t kind)
{
    hsize_t n = 0;
    return H5Inmembers(kind, &n) >= 0 ? (int)n : 0;
}

static int ids_open(const Tally *t)
{
    return id_count(H5I_FILE) + id_count(H5I_GROUP) + id_count(H5I_DATASET) +
           id_count(H5I_DATASPACE) + id_count(H5I_ATTR) +
           (id_count(H5I_DATATYPE) - t->base_types) +
           (id_count(H5I_GENPROP_LST) - t->base_plists);
}

static void check_no_leaks(Tally *t, const char *after)
{
    CHECK(t, ids_open(t) == 0, "%d HDF5 handles left open after %s", ids_open(t), after);
}

static void make_layout(Layout *lay, const int *sizes, int n)
{
    size_t off = 0;
    memset(lay, 0, sizeof *lay);
    lay->n_layers = n;
    for (int l = 0; l < n; l++) {
        lay->n[l] = sizes[l];
        lay->max_width = sizes[l] > lay->max_width ? sizes[l] : lay->max_width;
        if (l == 0)
            continue;
        lay->w_off[l] = off;
        off += (size_t)sizes[l] * (size_t)sizes[l - 1];
        lay->b_off[l] = off;
        off += (size_t)sizes[l];
    }
    lay->n_params = off;
}

static uint64_t fnv1a(const void *buf, size_t n)
{
    return hash_fnv1a(HASH_FNV_BASIS, buf, n);
}

/* copy_file: copies the first `limit` bytes of src (all when limit < 0); returns its size. */
static long copy_file(const char *src, const char *dst, long limit)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    long n = 0;
    int c;
    while (in && out && (limit < 0 || n < limit) && (c = fgetc(in)) != EOF) {
        fputc(c, out);
        n++;
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    return n;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (f)
        fclose(f);
    return n;
}

/* ---- small HDF5 writers for fixtures (plain API: the library links no HDF5 high-level) */

static void put_int_attr(hid_t f, const char *name, int v)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(space);
}

static void put_str_attr(hid_t f, const char *name, const char *v)
{
    hid_t space = H5Screate(H5S_SCALAR), type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(v)); /* fixed-length, to exercise that reading path too */
    hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, v);
    H5Aclose(a);
    H5Tclose(type);
    H5Sclose(space);
}

static void put_dataset(hid_t f, const char *name, int rank, const hsize_t *dims, hid_t type,
                        const void *buf)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(ds);
    H5Sclose(space);
}

/* ---- run files ----------------------------------------------------------------------- */

static void fill_params(Real *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (Real)((double)((i * 37) % 101) - 50.0) / (Real)7.0;
    p[1] = (Real)-0.0;
    p[2] = (Real)1e-40; /* subnormal in float32 */
}

static int write_run(const char *path, const Layout *lay, const Real *params, int rows, Err *e)
{
    RunAttrs a = {CONFIG_TEXT, 4, 2, 0xfedcba9876543210ULL};
    H5Run *r;
    if (h5run_create(path, &a, lay, &r, e))
        return -1;
    int rc = h5run_write_model(r, params, e);
    for (int i = 0; i < rows && rc == 0; i++) {
        HistoryRow row = {i, 1.0 / (i + 1), 2.0 / (i + 1), 0.1 * i, 0.5 + i, 1000.0 * i};
        rc = h5run_append_history(r, &row, e);
    }
    if (rc == 0)
        rc = h5run_commit(r, e);
    return h5run_close(r, e) || rc;
}

static void check_history(Tally *t, hid_t f)
{
    const char *cols[] = {"epoch", "train_cost", "test_cost", "test_accuracy", "seconds",
                          "samples_per_second"};
    for (int c = 0; c < 6; c++) {
        char name[64];
        hsize_t dims[1] = {0}, maxdims[1] = {0};
        snprintf(name, sizeof name, "/history/%s", cols[c]);
        hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), space = H5Dget_space(ds);
        H5Sget_simple_extent_dims(space, dims, maxdims);
        CHECK(t, dims[0] == 3 && maxdims[0] == H5S_UNLIMITED, "%s: length %llu", name,
              (unsigned long long)dims[0]);
        double v[3] = {0};
        int64_t ep[3] = {0};
        H5Dread(ds, c ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                c ? (void *)v : (void *)ep);
        if (c == 0)
            CHECK(t, ep[0] == 0 && ep[1] == 1 && ep[2] == 2, "epochs %lld %lld %lld",
                  (long long)ep[0], (long long)ep[1], (long long)ep[2]);
        if (c == 1)
            CHECK(t, v[0] == 1.0 && v[1] == 0.5 && v[2] == 1.0 / 3, "train_cost values");
        H5Sclose(space);
        H5Dclose(ds);
    }
}

static void check_string_attr(Tally *t, hid_t f, const char *name, const char *want)
{
    char *s = NULL;
    hid_t attr = H5Aopen(f, name, H5P_DEFAULT), type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Aread(attr, type, &s);
    CHECK(t, s && strcmp(s, want) == 0, "attribute %s = \"%s\", want \"%s\"", name,
          s ? s : "(null)", want);
    if (s)
        H5free_memory(s);
    H5Tclose(type);
    H5Aclose(attr);
}

static void check_attrs(Tally *t, hid_t f, const Layout *lay)
{
    int version = 0, ranks = 0, threads = 0, layers[MODEL_MAX_LAYERS] = {0};
    uint64_t seed = 0;
    check_string_attr(t, f, "format", "downhill-run");
    check_string_attr(t, f, "precision", REAL_NAME);
    check_string_attr(t, f, "downhill_version", DOWNHILL_VERSION);
    check_string_attr(t, f, "config", CONFIG_TEXT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &version);
    H5Aclose(a);
    a = H5Aopen(f, "ranks", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &ranks);
    H5Aclose(a);
    a = H5Aopen(f, "threads", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &threads);
    H5Aclose(a);
    a = H5Aopen(f, "seed", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &seed);
    H5Aclose(a);
    a = H5Aopen(f, "layers", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, layers);
    H5Aclose(a);
    CHECK(t, version == 1 && ranks == 4 && threads == 2, "version/ranks/threads %d %d %d",
          version, ranks, threads);
    CHECK(t, seed == 0xfedcba9876543210ULL, "seed %llx", (unsigned long long)seed);
    CHECK(t, memcmp(layers, lay->n, sizeof(int) * (size_t)lay->n_layers) == 0, "layers attr");
}

static void check_w1(Tally *t, hid_t f)
{
    hid_t ds = H5Dopen2(f, "/model/W1", H5P_DEFAULT), space = H5Dget_space(ds);
    hid_t type = H5Dget_type(ds);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    CHECK(t, rank == 2 && dims[0] == 4 && dims[1] == 5, "W1 shape rank %d (%llu, %llu)", rank,
          (unsigned long long)dims[0], (unsigned long long)dims[1]);
    CHECK(t, H5Tequal(type, sizeof(Real) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT) > 0,
          "W1 datatype is not the native %s", REAL_NAME);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
}

static void test_run_roundtrip(Tally *t, const char *path, const Layout *lay,
                               const Real *params)
{
    Err e = {""};
    Layout got;
    Real *back = NULL;
    char *cfg = NULL;
    CHECK(t, write_run(path, lay, params, 3, &e) == 0, "write run: %s", e.msg);
    CHECK(t, h5run_read_model(path, &got, &back, &cfg, &e) == 0, "read run: %s", e.msg);
    check_no_leaks(t, "run file write and read");
    if (!back)
        return;
    int same = got.n_layers == lay->n_layers && got.n_params == lay->n_params;
    for (int l = 0; same && l < lay->n_layers; l++)
        same = got.n[l] == lay->n[l] &&
               (l == 0 || (got.w_off[l] == lay->w_off[l] && got.b_off[l] == lay->b_off[l]));
    CHECK(t, same, "layout read back differs");
    CHECK(t, memcmp(back, params, lay->n_params * sizeof(Real)) == 0,
          "parameters not bit-identical");
    CHECK(t, cfg && strcmp(cfg, CONFIG_TEXT) == 0, "config text \"%s\"", cfg ? cfg : "");
    free(back);
    free(cfg);
    back = NULL;
    CHECK(t, h5run_read_model(path, &got, &back, NULL, &e) == 0 && back,
          "read without config: %s", e.msg);
    free(back);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(t, f >= 0, "reopen %s with HDF5", path);
    if (f < 0)
        return;
    check_history(t, f);
    check_attrs(t, f, lay);
    check_w1(t, f);
    H5Fclose(f);
    check_no_leaks(t, "test's own reads");
}

/* expect_read_error: h5run_read_model fails on path with a message holding `want`. */
static void expect_read_error(Tally *t, const char *path, const char *want)
{
    Err e = {""};
    Layout lay;
    Real *p = (Real *)&lay;
    char *cfg = (char *)&lay;
    int rc = h5run_read_model(path, &lay, &p, &cfg, &e);
    CHECK(t, rc != 0 && p == NULL && cfg == NULL, "%s: read should fail", path);
    CHECK(t, strstr(e.msg, path) && strstr(e.msg, want) && !strchr(e.msg, '\n'),
          "%s: message \"%s\" lacks \"%s\"", path, e.msg, want);
    check_no_leaks(t, want);
    free(rc == 0 ? p : NULL);
    free(rc == 0 ? cfg : NULL);
}

/* edit_copy: copies the good run file to dst and applies one edit with the HDF5 API. */
static void edit_copy(const char *good, const char *dst, const char *what)
{
    copy_file(good, dst, -1);
    hid_t f = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
    if (strcmp(what, "version") == 0) {
        H5Adelete(f, "format_version");
        put_int_attr(f, "format_version", 2);
    } else if (strcmp(what, "precision") == 0) {
        H5Adelete(f, "precision");
        put_str_attr(f, "precision", sizeof(Real) == 4 ? "float64" : "float32");
    } else if (strcmp(what, "dataset") == 0) {
        H5Ldelete(f, "/model/b2", H5P_DEFAULT);
    }
    H5Fclose(f);
    fileseal_write(dst, NULL); /* a valid checksum: the edit itself must be caught */
}

static void test_run_errors(Tally *t, const char *good, const Layout *lay)
{
    char path[PATH_LEN];
    Err e = {""};
    H5Run *r = (H5Run *)&e;
    RunAttrs a = {"", 1, 1, 1};

    fixture(t, "no-such-dir/run.h5", path);
    CHECK(t, h5run_create(path, &a, lay, &r, &e) != 0 && r == NULL, "create in missing dir");
    CHECK(t, strstr(e.msg, "cannot create it (No such file or directory)"), "create message: %s",
          e.msg);
    check_no_leaks(t, "failed create");
    CHECK(t, h5run_close(NULL, &e) == 0, "close(NULL)");

    fixture(t, "missing.h5", path);
    expect_read_error(t, path, "cannot open it (No such file or directory)");
    fixture(t, "text.h5", path);
    FILE *f = fopen(path, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    expect_read_error(t, path, "not an HDF5 file");

    fixture(t, "empty.h5", path);
    H5Fclose(H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    expect_read_error(t, path, "not a downhill run file (attribute format missing)");

    fixture(t, "version.h5", path);
    edit_copy(good, path, "version");
    expect_read_error(t, path, "format_version 2 of downhill-run files");
    fixture(t, "precision.h5", path);
    edit_copy(good, path, "precision");
    expect_read_error(t, path, sizeof(Real) == 4 ? "holds float64 weights" : "holds float32");
    fixture(t, "nob2.h5", path);
    edit_copy(good, path, "dataset");
    expect_read_error(t, path, "/model/b2 missing");

    fixture(t, "truncated.h5", path);
    copy_file(good, path, file_size(good) / 2);
    expect_read_error(t, path, "bytes long (truncated)");
}

/* ---- input files --------------------------------------------------------------------- */

#define IN_N 37
#define IN_ROWS 2
#define IN_COLS 3
#define IN_DIM (IN_ROWS * IN_COLS)

static void check_shard(Tally *t, const char *path, Shard s, const uint8_t *images,
                        const uint8_t *labels)
{
    Err e = {""};
    int64_t rows = shard_rows(&s);
    uint8_t img[IN_N * IN_DIM + 1], lab[IN_N + 1];
    memset(img, 0xee, sizeof img);
    memset(lab, 0xee, sizeof lab);
    CHECK(t, h5in_read(path, 1, &s, IN_DIM, img, &e) == 0, "images shard: %s", e.msg);
    CHECK(t, h5in_read(path, 0, &s, IN_DIM, lab, &e) == 0, "labels shard: %s", e.msg);
    int bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t g = shard_global(&s, r);
        bad += g < 0 || g >= s.n || memcmp(img + r * IN_DIM, images + g * IN_DIM, IN_DIM) ||
               lab[r] != labels[g];
    }
    bad += img[rows * IN_DIM] != 0xee || lab[rows] != 0xee; /* nothing written past the end */
    CHECK(t, bad == 0, "shard n %lld stride %lld lanes [%lld, %lld): %d bad rows",
          (long long)s.n, (long long)s.stride, (long long)s.lane0, (long long)s.lane1, bad);
}

static void test_input_shards(Tally *t, const char *path, const uint8_t *images,
                              const uint8_t *labels)
{
    Err e = {""};
    int64_t count = 0;
    int rows = 0, cols = 0;
    CHECK(t, h5in_write(path, images, labels, IN_N, IN_ROWS, IN_COLS, &e) == 0, "write: %s",
          e.msg);
    CHECK(t, data_is_hdf5(path, &e) == 1, "a sealed input file is seen as HDF5 (user block)");
    CHECK(t, h5in_probe(path, 1, &count, &rows, &cols, &e) == 0 && count == IN_N &&
                 rows == IN_ROWS && cols == IN_COLS,
          "probe images: %lld %d x %d %s", (long long)count, rows, cols, e.msg);
    count = 0;
    CHECK(t, h5in_probe(path, 0, &count, NULL, NULL, &e) == 0 && count == IN_N,
          "probe labels: %lld %s", (long long)count, e.msg);
    Shard shards[] = {shard_lanes(37, 8, 0, 4), shard_lanes(37, 8, 4, 8),
                      shard_lanes(37, 8, 3, 6), shard_lanes(20, 8, 0, 4),
                      shard_lanes(20, 8, 4, 8), shard_lanes(6, 8, 4, 8),
                      shard_lanes(3, 8, 4, 8),  shard_lanes(37, 8, 5, 5),
                      shard_lanes(37, 1, 0, 1), shard_block(37, 0, 3),
                      shard_block(37, 1, 3),    shard_block(37, 2, 3),
                      shard_block(20, 1, 4),    shard_block(2, 0, 3),
                      shard_block(0, 0, 1)};
    for (size_t i = 0; i < sizeof shards / sizeof shards[0]; i++)
        check_shard(t, path, shards[i], images, labels);
    CHECK(t, shard_rows(&shards[0]) + shard_rows(&shards[1]) == 37, "lanes cover the set");
    check_no_leaks(t, "input reads");
}

/* write_plain: an input-like file without attributes, as h5py users would make it. */
static void write_plain(const char *path, int img_rank, hid_t label_type, int with_labels)
{
    hsize_t dims[3] = {4, 5, 2};
    uint8_t zeros[40] = {0};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put_dataset(f, "images", img_rank, dims, H5T_NATIVE_UINT8, zeros);
    if (with_labels)
        put_dataset(f, "labels", 1, dims, label_type, zeros);
    H5Fclose(f);
}

static void expect_input_error(Tally *t, const char *path, int images, const char *want)
{
    Err e = {""};
    int64_t count;
    int rows, cols;
    CHECK(t, h5in_probe(path, images, &count, &rows, &cols, &e) != 0, "%s: probe should fail",
          path);
    CHECK(t, strstr(e.msg, path) && strstr(e.msg, want), "%s: message \"%s\" lacks \"%s\"",
          path, e.msg, want);
    check_no_leaks(t, want);
}

static void test_input_errors(Tally *t, const char *good_input, const char *run)
{
    char path[PATH_LEN];
    Err e = {""};
    int64_t count = 0;
    int rows = 0, cols = 0;
    uint8_t buf[64 * IN_DIM];
    Shard too_many = shard_lanes(40, 8, 0, 4);
    CHECK(t, h5in_read(good_input, 1, &too_many, IN_DIM, buf, &e) != 0 &&
                 strstr(e.msg, "holds 37 examples"),
          "shard beyond the file: %s", e.msg);
    Shard all = shard_lanes(IN_N, 1, 0, 1);
    CHECK(t, h5in_read(good_input, 1, &all, IN_DIM + 1, buf, &e) != 0 &&
                 strstr(e.msg, "pixels per example"),
          "wrong dim: %s", e.msg);

    fixture(t, "plain.h5", path);
    write_plain(path, 2, H5T_NATIVE_UINT8, 1);
    CHECK(t, h5in_probe(path, 1, &count, &rows, &cols, &e) == 0 && count == 4 && rows == 5 &&
                 cols == 1,
          "plain file probe: %lld %d x %d %s", (long long)count, rows, cols, e.msg);
    fixture(t, "rank3.h5", path);
    write_plain(path, 3, H5T_NATIVE_UINT8, 1);
    expect_input_error(t, path, 1, "/images has rank 3, expected 2 (N, pixels)");
    fixture(t, "int32labels.h5", path);
    write_plain(path, 2, H5T_NATIVE_INT32, 1);
    expect_input_error(t, path, 0, "expected uint8");
    fixture(t, "nolabels.h5", path);
    write_plain(path, 2, H5T_NATIVE_UINT8, 0);
    expect_input_error(t, path, 0, "/labels missing");
    expect_input_error(t, run, 1, "run file, not an input file");
}

/* ---- h5_info and third-party readers ------------------------------------------------- */

/* info_text: h5_info's output for path in buf (rc returned). */
static int info_text(const Tally *t, const char *path, char *buf, size_t len, Err *e)
{
    char out_path[PATH_LEN];
    fixture(t, "info.txt", out_path);
    FILE *out = fopen(out_path, "w+");
    int rc = h5_info(path, out, e);
    rewind(out);
    size_t n = fread(buf, 1, len - 1, out);
    buf[n] = '\0';
    fclose(out);
    return rc;
}

static void test_info(Tally *t, const char *run, const char *input, const Real *params,
                      size_t n_params)
{
    char text[8192], want[64], path[PATH_LEN];
    Err e = {""};
    snprintf(want, sizeof want, "params_hash: %016llx\n",
             (unsigned long long)fnv1a(params, n_params * sizeof(Real)));
    CHECK(t, info_text(t, run, text, sizeof text, &e) == 0, "info run: %s", e.msg);
    CHECK(t, strstr(text, want), "info lacks \"%s\":\n%s", want, text);
    CHECK(t, strstr(text, "format: downhill-run\n") && strstr(text, "history_length: 3\n") &&
                 strstr(text, "last_epoch: 2\n") && strstr(text, "layers: 5 4 3\n") &&
                 strstr(text, "parameters: 39\n") && strstr(text, "/model/W2: (3, 4)") &&
                 strstr(text, "  layers = 5 4 3\n") && strstr(text, "seed: 18364758544493064720"),
          "info run text:\n%s", text);
    CHECK(t, info_text(t, input, text, sizeof text, &e) == 0 && strstr(text, "count: 37\n") &&
                 strstr(text, "image_rows: 2\n") && strstr(text, "format: downhill-input\n"),
          "info input: %s\n%s", e.msg, text);
    fixture(t, "text.h5", path);
    CHECK(t, info_text(t, path, text, sizeof text, &e) != 0 && strstr(e.msg, "not an HDF5"),
          "info on text: %s", e.msg);
    fixture(t, "empty.h5", path);
    CHECK(t, info_text(t, path, text, sizeof text, &e) != 0 && strstr(e.msg, "not a downhill"),
          "info on empty HDF5: %s", e.msg);
    check_no_leaks(t, "h5_info");
}

/* ---- checkpoints --------------------------------------------------------------------- */

#define CKPT_STEP 1234
#define CKPT_MARKER ((Real)1234.5)

static CkptState make_state(HistoryRow *rows, int n_rows)
{
    for (int i = 0; i < n_rows; i++) {
        HistoryRow row = {i, 1.0 / (i + 1), 2.0 / (i + 3), 0.1 * i, 0.5 + i, 1e3 * i + 0.25};
        rows[i] = row;
    }
    CkptState s = {.step = CKPT_STEP, .steps_per_epoch = 100, .lanes = 64, .n_train = 6400,
                   .exact_group = 8, .reduction = 2, .seed = 0xfedcba9876543210ULL,
                   .data_fingerprint = 0x0123456789abcdefULL, .epoch_cost = 3.0 / 7.0,
                   .epoch_count = 2345, .lr_scale = 0.25, .rollbacks = 3, .n_history = n_rows,
                   .history = rows, .config_text = CONFIG_TEXT, .numerics = DOWNHILL_NUMERICS};
    return s;
}

static int same_state(const CkptState *a, const CkptState *b)
{
    return a->step == b->step && a->steps_per_epoch == b->steps_per_epoch &&
           a->lanes == b->lanes && a->n_train == b->n_train &&
           a->exact_group == b->exact_group &&
           a->reduction == b->reduction && a->seed == b->seed &&
           a->data_fingerprint == b->data_fingerprint && a->epoch_cost == b->epoch_cost &&
           a->epoch_count == b->epoch_count && a->n_history == b->n_history &&
           a->lr_scale == b->lr_scale && a->rollbacks == b->rollbacks &&
           a->numerics == b->numerics;
}

static int same_layout(const Layout *a, const Layout *b)
{
    int same = a->n_layers == b->n_layers && a->n_params == b->n_params;
    for (int l = 0; same && l < a->n_layers; l++)
        same = a->n[l] == b->n[l] &&
               (l == 0 || (a->w_off[l] == b->w_off[l] && a->b_off[l] == b->b_off[l]));
    return same;
}

/* check_ckpt_read: path reads back as exactly (lay, params, want). */
static void check_ckpt_read(Tally *t, const char *path, const Layout *lay, const Real *params,
                            const CkptState *want)
{
    Err e = {""};
    Layout got_lay;
    Real *back = NULL;
    CkptState got;
    memset(&got, 0, sizeof got);
    CHECK(t, h5ckpt_read(path, &got_lay, &back, &got, &e) == 0, "read ckpt: %s", e.msg);
    check_no_leaks(t, "checkpoint read");
    if (!back)
        return;
    CHECK(t, same_layout(&got_lay, lay), "checkpoint layout differs");
    CHECK(t, memcmp(back, params, lay->n_params * sizeof(Real)) == 0,
          "checkpoint parameters not bit-identical");
    CHECK(t, same_state(&got, want), "checkpoint state differs (step %lld, n_history %lld)",
          (long long)got.step, (long long)got.n_history);
    CHECK(t, got.history && (want->n_history == 0 ||
                             memcmp(got.history, want->history,
                                    (size_t)want->n_history * sizeof(HistoryRow)) == 0),
          "checkpoint history rows differ");
    CHECK(t, got.config_text && strcmp(got.config_text, want->config_text) == 0,
          "checkpoint config \"%s\"", got.config_text ? got.config_text : "(null)");
    CHECK(t, want->velocity ? got.velocity && memcmp(got.velocity, want->velocity,
                                                     lay->n_params * sizeof(Real)) == 0
                            : got.velocity == NULL,
          "checkpoint velocity %s", want->velocity ? "differs" : "read back from none");
    free(back);
    free(got.history);
    free(got.config_text);
    free(got.velocity);
}

static void test_ckpt_roundtrip(Tally *t, const char *path, const Layout *lay,
                                const Real *params)
{
    Err e = {""};
    char tmp[PATH_LEN + 8];
    HistoryRow rows[3];
    CkptState s = make_state(rows, 3);
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) == 0, "write ckpt: %s", e.msg);
    check_no_leaks(t, "checkpoint write");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(t, access(tmp, F_OK) != 0, "%s left behind", tmp);
    check_ckpt_read(t, path, lay, params, &s);
    CHECK(t, h5ckpt_step(path, &e) == CKPT_STEP, "h5ckpt_step: %s", e.msg);

    Real other[39];
    for (size_t i = 0; i < lay->n_params; i++)
        other[i] = params[i] * (Real)2 + (Real)1;
    s.step = CKPT_STEP + 100;
    s.n_history = 2;
    s.config_text = "";
    CHECK(t, h5ckpt_write(path, lay, other, &s, &e) == 0, "rewrite ckpt: %s", e.msg);
    CHECK(t, access(tmp, F_OK) != 0, "%s left behind after rewrite", tmp);
    CHECK(t, h5ckpt_step(path, &e) == CKPT_STEP + 100, "step after rewrite: %s", e.msg);
    check_ckpt_read(t, path, lay, other, &s);

    Real velocity[39]; /* the momentum's velocity: distinct values, read back bit for bit */
    for (size_t i = 0; i < lay->n_params; i++)
        velocity[i] = (Real)0.25 - (Real)i;
    s.velocity = velocity;
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) == 0, "write ckpt, velocity: %s", e.msg);
    check_ckpt_read(t, path, lay, params, &s);
    s.velocity = NULL;

    s.n_history = 0;
    s.history = NULL;
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) == 0, "write ckpt, no history: %s",
          e.msg);
    check_ckpt_read(t, path, lay, params, &s);
    s = make_state(rows, 3);
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) == 0, "write ckpt again: %s", e.msg);
    check_no_leaks(t, "checkpoint rewrites");
}

/* expect_ckpt_error: h5ckpt_read (and h5ckpt_step if `step` is set) fail on path with a
 * one-line message naming it and holding `want`; nothing is left allocated. */
static void expect_ckpt_error(Tally *t, const char *path, const char *want, int step)
{
    Err e = {""};
    Layout lay;
    Real *p = (Real *)&lay;
    CkptState s;
    memset(&s, 0, sizeof s);
    s.history = (HistoryRow *)&lay;
    s.config_text = (char *)&lay;
    int rc = h5ckpt_read(path, &lay, &p, &s, &e);
    CHECK(t, rc != 0 && p == NULL && s.history == NULL && s.config_text == NULL,
          "%s: checkpoint read should fail", path);
    CHECK(t, strstr(e.msg, path) && strstr(e.msg, want) && !strchr(e.msg, '\n'),
          "%s: message \"%s\" lacks \"%s\"", path, e.msg, want);
    if (step) {
        e.msg[0] = '\0';
        CHECK(t, h5ckpt_step(path, &e) == -1 && strstr(e.msg, want),
              "%s: h5ckpt_step message \"%s\" lacks \"%s\"", path, e.msg, want);
    }
    check_no_leaks(t, want);
    if (rc == 0) {
        free(p);
        free(s.history);
        free(s.config_text);
    }
}

/* ckpt_edit_copy: copies the good checkpoint to dst and applies one edit with the HDF5 API. */
static void ckpt_edit_copy(const char *good, const char *dst, const char *what)
{
    copy_file(good, dst, -1);
    hid_t f = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
    if (strcmp(what, "version") == 0) {
        H5Adelete(f, "format_version");
        put_int_attr(f, "format_version", 2);
    } else if (strcmp(what, "lanes") == 0) {
        hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
        H5Adelete(g, "lanes");
        H5Gclose(g);
    } else if (strcmp(what, "history") == 0) {
        hsize_t one = 1;
        double v = 0;
        H5Ldelete(f, "/history/seconds", H5P_DEFAULT);
        put_dataset(f, "/history/seconds", 1, &one, H5T_NATIVE_DOUBLE, &v);
    }
    H5Fclose(f);
    fileseal_write(dst, NULL); /* a valid checksum: the edit itself must be caught */
}

/* corrupt_marker: replaces the one occurrence of `marker`'s bytes in the file by another
 * value; returns the number of occurrences found. */
static int corrupt_marker(const char *path, Real marker)
{
    long size = file_size(path);
    unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
    Real other = marker + (Real)1;
    int found = 0;
    long at = -1;
    FILE *f = fopen(path, "r+b");
    if (!f || !bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size)
        size = 0;
    for (long i = 0; i + (long)sizeof(Real) <= size; i++)
        if (memcmp(bytes + i, &marker, sizeof(Real)) == 0) {
            found++;
            at = i;
        }
    if (found == 1 && fseek(f, at, SEEK_SET) == 0)
        fwrite(&other, sizeof(Real), 1, f);
    if (f)
        fclose(f);
    free(bytes);
    return found;
}

/* test_ckpt_without_block: the checkpoint without its user block (the layout of files of
 * older downhill versions: superblock at offset 0) still loads, with HDF5's checks only;
 * its user block zeroed instead is refused as not downhill's. */
static void test_ckpt_without_block(Tally *t, const char *good, const Layout *lay)
{
    char path[PATH_LEN];
    long size = file_size(good);
    unsigned char *bytes = malloc((size_t)size);
    FILE *in = fopen(good, "rb");
    int ok = bytes && in && fread(bytes, 1, (size_t)size, in) == (size_t)size;
    if (in)
        fclose(in);
    fixture(t, "ckpt-noblock.h5", path);
    FILE *out = fopen(path, "wb");
    ok = ok && out && fwrite(bytes + 512, 1, (size_t)size - 512, out) == (size_t)size - 512;
    if (out)
        fclose(out);
    CHECK(t, ok, "write %s", path);
    Layout got;
    Real *p = NULL;
    CkptState s;
    Err e = {""};
    memset(&s, 0, sizeof s);
    CHECK(t, h5ckpt_read(path, &got, &p, &s, &e) == 0 && got.n_params == lay->n_params,
          "ckpt without user block: %s", e.msg);
    free(p);
    free(s.history);
    free(s.config_text);
    fixture(t, "ckpt-zeroblock.h5", path);
    memset(bytes, 0, 512);
    out = fopen(path, "wb");
    if (out) {
        fwrite(bytes, 1, (size_t)size, out);
        fclose(out);
    }
    expect_ckpt_error(t, path, "user block is not the integrity block", 1);
    free(bytes);
}

static void test_ckpt_errors(Tally *t, const char *good, const char *run, const Layout *lay)
{
    char path[PATH_LEN], text[8192];
    Err e = {""};
    HistoryRow rows[3];
    CkptState s = make_state(rows, 3);
    Real params[39];

    expect_ckpt_error(t, run, "not a downhill checkpoint (format \"downhill-run\")", 1);
    fixture(t, "text.h5", path);
    expect_ckpt_error(t, path, "not a readable HDF5 file (truncated or damaged?)", 1);
    fixture(t, "ckpt-truncated.h5", path);
    copy_file(good, path, file_size(good) / 2);
    expect_ckpt_error(t, path, "(truncated); downhill does not read it (use an older "
                               "checkpoint", 1);
    fixture(t, "empty.h5", path);
    expect_ckpt_error(t, path, "not a downhill checkpoint (attribute format missing)", 1);
    fixture(t, "ckpt-version.h5", path);
    ckpt_edit_copy(good, path, "version");
    expect_ckpt_error(t, path, "format_version 2 of downhill-checkpoint files", 1);
    fixture(t, "ckpt-nolanes.h5", path);
    ckpt_edit_copy(good, path, "lanes");
    expect_ckpt_error(t, path, "attribute /state/lanes missing", 0);
    fixture(t, "ckpt-history.h5", path);
    ckpt_edit_copy(good, path, "history");
    expect_ckpt_error(t, path, "/history/seconds has 1 rows, /history/epoch 3", 0);

    for (size_t i = 0; i < lay->n_params; i++)
        params[i] = (Real)0.25;
    params[lay->w_off[1] + 7] = CKPT_MARKER;
    fixture(t, "ckpt-corrupt.h5", path);
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) == 0, "write marked ckpt: %s", e.msg);
    CHECK(t, corrupt_marker(path, CKPT_MARKER) == 1, "marker not found once in %s", path);
    expect_ckpt_error(t, path, "damaged: its checksum does not match its bytes", 1);
    CHECK(t, info_text(t, path, text, sizeof text, &e) != 0 &&
                 strstr(e.msg, "checksum does not match"),
          "info on corrupted ckpt: %s", e.msg);
    fileseal_write(path, NULL); /* the whole-file checksum passes: Fletcher32 must catch it */
    expect_ckpt_error(t, path, "Fletcher32", 0);
    CHECK(t, h5ckpt_step(path, &e) == CKPT_STEP, "step of a corrupted ckpt: %s", e.msg);
    CHECK(t, info_text(t, path, text, sizeof text, &e) != 0 && strstr(e.msg, "damaged"),
          "info on corrupted ckpt: %s", e.msg);

    test_ckpt_without_block(t, good, lay);
    fixture(t, "no-such-dir/ckpt.h5", path);
    CHECK(t, h5ckpt_write(path, lay, params, &s, &e) != 0 &&
                 strstr(e.msg, "no-such-dir/ckpt.h5.tmp.part: cannot create") &&
                 strstr(e.msg, "No such file or directory"),
          "ckpt in missing dir: %s", e.msg);
    check_no_leaks(t, "checkpoint errors");
}

static void test_ckpt_info(Tally *t, const char *ckpt, const Real *params, size_t n_params)
{
    char text[8192], want[64];
    Err e = {""};
    snprintf(want, sizeof want, "params_hash: %016llx\n",
             (unsigned long long)fnv1a(params, n_params * sizeof(Real)));
    CHECK(t, info_text(t, ckpt, text, sizeof text, &e) == 0, "info ckpt: %s", e.msg);
    CHECK(t, strstr(text, want) && !strstr(text, "MISMATCH"), "info lacks \"%s\":\n%s", want,
          text);
    CHECK(t, strstr(text, "format: downhill-checkpoint\n") && strstr(text, "step: 1234\n") &&
                 strstr(text, "steps_per_epoch: 100\n") && strstr(text, "epoch: 12\n") &&
                 strstr(text, "position: 34\n") && strstr(text, "lanes: 64\n") &&
                 strstr(text, "reduction: 2\n") &&
                 strstr(text, "data_fingerprint: 0123456789abcdef\n") &&
                 strstr(text, "epoch_count: 2345\n") && strstr(text, "history_length: 3\n") &&
                 strstr(text, "layers: 5 4 3\n") && strstr(text, "  layers = 5 4 3\n"),
          "info ckpt text:\n%s", text);
    check_no_leaks(t, "h5_info on a checkpoint");
}

static int run_command(const char *cmd)
{
    int status = system(cmd);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_external(Tally *t, const char *run, const char *ckpt)
{
    char cmd[2 * PATH_LEN + 512];
    if (access("/usr/bin/h5dump", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/h5dump '%s' > /dev/null 2>&1", run);
        CHECK(t, run_command(cmd) == 0, "h5dump failed on %s", run);
        snprintf(cmd, sizeof cmd, "/usr/bin/h5dump '%s' > /dev/null 2>&1", ckpt);
        CHECK(t, run_command(cmd) == 0, "h5dump failed on %s", ckpt);
    } else {
        printf("skip: /usr/bin/h5dump not installed\n");
    }
    if (run_command("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") != 0) {
        printf("skip: h5py not importable by /usr/bin/python3\n");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys, h5py\n"
             "f = h5py.File(sys.argv[1], \"r\")\n"
             "c = f.attrs[\"config\"]\n"
             "ok = f[\"model/W1\"].shape == (4, 5) and isinstance(c, str) "
             "and c.startswith(\"[model]\") and f.attrs[\"format\"] == \"downhill-run\" "
             "and f[\"history/epoch\"].shape == (3,)\n"
             "sys.exit(0 if ok else 1)' '%s'",
             run);
    CHECK(t, run_command(cmd) == 0, "h5py check failed on %s", run);
}

/* ---- main ---------------------------------------------------------------------------- */

static void remove_dir(const char *dir)
{
    char path[PATH_LEN];
    DIR *d = opendir(dir);
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    char dir[] = "/tmp/test_h5io.XXXXXX", run[PATH_LEN], input[PATH_LEN], ckpt[PATH_LEN];
    Tally t = {0, 0, mkdtemp(dir), 0, 0};
    if (!t.dir || H5open() < 0) {
        printf("FAIL: cannot make a fixture directory in /tmp or start HDF5\n");
        return 1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    t.base_types = id_count(H5I_DATATYPE);
    t.base_plists = id_count(H5I_GENPROP_LST);

    const int sizes[] = {5, 4, 3};
    Layout lay;
    make_layout(&lay, sizes, 3);
    Real params[39];
    fill_params(params, lay.n_params);
    uint8_t images[IN_N * IN_DIM], labels[IN_N];
    for (int i = 0; i < IN_N * IN_DIM; i++)
        images[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < IN_N; i++)
        labels[i] = (uint8_t)(i * 3 % 10);

    fixture(&t, "run.h5", run);
    fixture(&t, "input.h5", input);
    fixture(&t, "ckpt.h5", ckpt);
    test_run_roundtrip(&t, run, &lay, params);
    test_run_errors(&t, run, &lay);
    test_input_shards(&t, input, images, labels);
    test_input_errors(&t, input, run);
    test_info(&t, run, input, params, lay.n_params);
    test_ckpt_roundtrip(&t, ckpt, &lay, params);
    test_ckpt_errors(&t, ckpt, run, &lay);
    test_ckpt_info(&t, ckpt, params, lay.n_params);
    test_external(&t, run, ckpt);
    remove_dir(t.dir);
    printf("test_h5io: %d checks, %d failures\n", t.checks, t.failures);
    return t.failures != 0;
}
