/* test_kernels: the fast kernels against their plain definitions. This build's network
 * kernels (dot products, sigmoid, hidden deltas, outer products) give the plain-C kernels'
 * bits; its exact outer products give the plain kernel's integers, groups of one example
 * or several, with sums beyond every fast path's range; its rounding of the exact path's
 * deltas and wide activations gives the plain C's integers and bad counts (random bits,
 * ties, zeros, denormals, infinities, NaN, values at the bound, the clamp, every tail).
 * Input bytes become exactly (float)b / 255; the first layer's exact weight gradient
 * (AMX, int16-pair kernel) gives the same integers as plain int64 loops for odd sizes, long
 * batches, large and bad deltas; column ranges of it land in two regions, or are spent on
 * weights as exact_descend would; model_gradient_exact, read back in its units, equals the
 * float gradient; the sigmoid is within 4 ulp of the exact one (NaN kept). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exact/exact_input.h"
#include "exact/exact_wide.h"
#include "kernels/kernels.h"
#include "net/model.h"
#include "core/hash.h"
#include "core/rng.h"

#include "check.h"

static int fails;

/* CHECK(ok, fmt, ...): check.h's check, also counted in fails (main's verdict) */
#undef CHECK
#define CHECK(ok, ...) (fails += !check_at(!!(ok), __FILE__, __LINE__, __VA_ARGS__))

/* bytes_scaled: every byte value through model_load_inputs is (Real)b / 255. */
static void bytes_scaled(void)
{
    const int sizes[] = {256, 1};
    Layout lay;
    Workspace w;
    Err e;
    uint8_t row[256];
    for (int b = 0; b < 256; b++)
        row[b] = (uint8_t)b;
    const uint8_t *rows[1] = {row};
    if (layout_init(&lay, sizes, 2, &e) != 0 || workspace_init(&w, &lay, 1, &e) != 0) {
        CHECK(0, "bytes_scaled setup: %s", e.msg);
        return;
    }
    model_load_inputs(&lay, &w, rows, 1);
    for (int b = 0; b < 256; b++)
        CHECK(w.x[b] == (Real)b / (Real)255, "byte %d scaled to %.9g, want %.9g", b,
              (double)w.x[b], (double)((Real)b / (Real)255));
    workspace_free(&w);
}

/* delta: a random delta of magnitude about 2^-scale_bits; some special values. */
static Real delta(Rng *r, int kind)
{
    double u = rng_uniform(r) * 2 - 1;
    switch (kind) {
    case 1: return (Real)(u * 0.6);               /* around the int16-halves limit, 0.5 */
    case 2: return (Real)(u * 40);                /* far beyond it: reference path */
    case 3: return rng_uniform(r) < 0.01 ? (Real)NAN : (Real)(u * 1e-3); /* bad values */
    case 4: return (Real)ldexp(-2147385344.0, -32); /* halves -32766, -32768: largest sums */
    case 5: return (Real)(u * 0.25); /* within the AMX digits' range: the sums can be spent */
    case 6: return (Real)(u * 2040); /* near exact_input_round's limit: eight AMX digits */
    default: return (Real)(u * ldexp(1.0, -(int)(rng_uniform(r) * 30)));
    }
}

/* outer_case: exact_input_outer against exact_input_outer_ref for one shape; amx 0 keeps
 * the vector path even where AMX tiles are usable. */
static void outer_case(int n, int n_out, int n_in, int kind, uint64_t seed, int amx)
{
    Rng r;
    rng_init(&r, seed);
    uint8_t *img = malloc((size_t)n * n_in);
    const uint8_t **rows = malloc(sizeof *rows * (size_t)n);
    Real *d = malloc(sizeof *d * (size_t)n * n_out);
    size_t cells = (size_t)n_out * n_in;
    int64_t *got = calloc(cells, sizeof *got), *want = calloc(cells, sizeof *want);
    ExactInput s;
    Err e;
    if (!img || !rows || !d || !got || !want || exact_input_init(&s, n, n_in, n_out, &e) != 0) {
        CHECK(0, "outer_case setup");
        exit(1);
    }
    s.amx.ready &= amx;
    for (size_t i = 0; i < (size_t)n * n_in; i++)
        img[i] = kind == 4 ? 255 : rng_uniform(&r) < 0.3 ? 0 : (uint8_t)(rng_next(&r) & 255);
    for (int i = 0; i < n; i++)
        rows[i] = img + (size_t)i * n_in;
    size_t nans = 0;
    for (size_t i = 0; i < (size_t)n * n_out; i++) {
        d[i] = delta(&r, kind);
        nans += isnan(d[i]);
    }
    for (size_t i = 0; i < cells; i++) /* start from a non-zero sum */
        got[i] = want[i] = (int64_t)(rng_next(&r) >> 20) - (1LL << 43);
    Fixed f = exact_fixed(n);
    size_t bad_got = exact_input_outer(got, d, rows, n, n_out, n_in, &f, &s);
    size_t bad_want = exact_input_outer_ref(want, d, rows, n, n_out, n_in, &f);
    size_t diff = 0;
    for (size_t i = 0; i < cells; i++)
        diff += got[i] != want[i];
    CHECK(diff == 0 && bad_got == bad_want,
          "exact_input_outer n=%d n_out=%d n_in=%d kind %d amx %d: %zu of %zu sums differ, "
          "bad %zu vs %zu", n, n_out, n_in, kind, s.amx.ready, diff, cells, bad_got, bad_want);
    CHECK(bad_want == nans, "n=%d kind %d: %zu NaN deltas, %zu counted bad", n, kind,
          nans, bad_want);
    exact_input_free(&s);
    free(img);
    free(rows);
    free(d);
    free(got);
    free(want);
}

/* wide_activation: a wide layer's random activation of kind: 0 sigmoid-like [0, 1), 1
 * tanh-like (-1, 1), 2 relu (zeros, and values up to 2^10: some terms beyond the limit), 3
 * one example's row all zero, 4 each row's largest value just below a power of two (A
 * rounds to 2^15: the clamp), 5 a NaN in row 3. */
static Real wide_activation(Rng *r, int kind, int i, int k)
{
    double u = rng_uniform(r);
    switch (kind) {
    case 1: return (Real)(2 * u - 1);
    case 2: return u < 0.5 ? 0 : (Real)ldexp(u, (int)(rng_uniform(r) * 21) - 10);
    case 3: return i == 3 ? 0 : (Real)u;
    case 4: return k == 7 ? (Real)(1 - ldexp(1.0, -20)) : (Real)(-u);
    case 5: return i == 3 && k == 5 ? (Real)NAN : (Real)u;
    default: return (Real)u;
    }
}

/* wide_case: exact_wide_outer against exact_wide_outer_ref for one shape: activations of
 * kind ak (wide_activation), deltas of kind dk (delta); amx 0 keeps the plain path. */
static void wide_case(int n, int n_out, int n_in, int ak, int dk, uint64_t seed, int amx)
{
    Rng r;
    rng_init(&r, seed);
    Real *a = malloc(sizeof *a * (size_t)n * n_in), *d = malloc(sizeof *d * (size_t)n * n_out);
    size_t cells = (size_t)n_out * n_in;
    int64_t *got = calloc(cells, sizeof *got), *want = calloc(cells, sizeof *want);
    ExactWide s;
    Err e;
    if (!a || !d || !got || !want || exact_wide_init(&s, n, n_in, n_out, &e) != 0) {
        CHECK(0, "wide_case setup");
        exit(1);
    }
    s.sc.amx.ready &= amx;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_in; k++)
            a[(size_t)i * n_in + k] = wide_activation(&r, ak, i, k);
    for (size_t i = 0; i < (size_t)n * n_out; i++)
        d[i] = delta(&r, dk);
    for (size_t i = 0; i < cells; i++) /* start from a non-zero sum */
        got[i] = want[i] = (int64_t)(rng_next(&r) >> 20) - (1LL << 43);
    Fixed f = exact_fixed(n);
    size_t bad_got = exact_wide_outer(got, a, d, n, n_in, n_out, &f, &s);
    size_t bad_want = exact_wide_outer_ref(want, a, d, n, n_in, n_out, &f);
    size_t diff = 0;
    for (size_t i = 0; i < cells; i++)
        diff += got[i] != want[i];
    CHECK(diff == 0 && bad_got == bad_want,
          "exact_wide_outer n=%d n_out=%d n_in=%d kinds %d %d amx %d: %zu of %zu sums differ, "
          "bad %zu vs %zu", n, n_out, n_in, ak, dk, s.sc.amx.ready, diff, cells, bad_got, bad_want);
    CHECK((ak == 5 && n > 3) == (bad_want > 0) || ak == 2 || dk == 2 || dk == 3 || dk == 6,
          "exact_wide_outer n=%d kinds %d %d: %zu bad values", n, ak, dk, bad_want);
    exact_wide_free(&s);
    free(a);
    free(d);
    free(got);
    free(want);
}

/* wide_rounding: the rounding of exact_wide.h on chosen values: e from the row's largest
 * |a|, A = round(a 2^(15 - e)) clamped to 2^15 - 1, D = round(d 2^(32 + e)). */
static void wide_rounding(void)
{
    const Real a[4] = {0.75f, -0.5f, 0.999999f, 0.25f}; /* max 0.999999 < 2^0: e = 0 */
    const Real d[2] = {0.5f, -ldexp(1.0f, -40)};
    int16_t A[4];
    int64_t D[2];
    Fixed f = exact_fixed(64);
    CHECK(exact_wide_round(A, 4, D, 1, a, d, 1, 4, 2, &f) == 0, "wide_rounding: bad values");
    CHECK(A[0] == 24576 && A[1] == -16384 && A[2] == 32767 && A[3] == 8192,
          "wide_rounding: A = %d %d %d %d", A[0], A[1], A[2], A[3]);
    CHECK(D[0] == (1LL << 31) && D[1] == 0, "wide_rounding: D = %lld %lld", (long long)D[0],
          (long long)D[1]);
    const Real b[2] = {3.0f, 1.0f}; /* max 3 < 2^2: e = 2 */
    CHECK(exact_wide_round(A, 2, D, 1, b, d, 1, 2, 2, &f) == 0 && A[0] == 24576 &&
              A[1] == 8192 && D[0] == (1LL << 33),
          "wide_rounding: e = 2 gives A = %d %d, D = %lld", A[0], A[1], (long long)D[0]);
}

/* cols_case: exact_input_cols for columns [c0, c1) into two regions split at `split` (with
 * padded rows), against exact_input_outer_ref; with spend, the sums spent on weights must
 * equal exact_descend of the reference sums, bit for bit, when the call says it spent them
 * (AMX, at most EXACT_AMX_WHOLE examples, none on the reference path). pack 1: the inputs
 * laid out ahead by exact_input_pack; 2: laid out for other columns, which the call must
 * not take. */
static void cols_case(int n, int n_out, int n_in, int c0, int split, int c1, int kind,
                      uint64_t seed, int amx, int spend, int pack)
{
    Rng r;
    rng_init(&r, seed);
    int w[2] = {split - c0 + 3, c1 - split + 5}; /* padded rows */
    size_t cells = (size_t)n_out * n_in, size[2] = {(size_t)n_out * w[0], (size_t)n_out * w[1]};
    uint8_t *img = malloc((size_t)n * n_in);
    const uint8_t **rows = malloc(sizeof *rows * (size_t)n);
    Real *d = malloc(sizeof *d * (size_t)n * n_out), *theta[2], *start[2];
    int ld = n + 3; /* the deltas' rows, padded */
    int64_t *D = malloc(sizeof *D * (size_t)ld * n_out), *ref = calloc(cells, sizeof *ref), *acc[2];
    ExactInput s;
    Err e;
    for (int q = 0; q < 2; q++) {
        acc[q] = calloc(size[q], sizeof *acc[q]);
        theta[q] = malloc(sizeof(Real) * size[q]);
        start[q] = malloc(sizeof(Real) * size[q]);
    }
    if (!img || !rows || !d || !D || !ref || !acc[0] || !acc[1] || !theta[0] || !theta[1] ||
        !start[0] || !start[1] || exact_input_init(&s, n, n_in, n_out, &e) != 0) {
        CHECK(0, "cols_case setup");
        exit(1);
    }
    s.amx.ready &= amx;
    for (size_t i = 0; i < (size_t)n * n_in; i++)
        img[i] = rng_uniform(&r) < 0.3 ? 0 : (uint8_t)(rng_next(&r) & 255);
    for (int i = 0; i < n; i++)
        rows[i] = img + (size_t)i * n_in;
    for (size_t i = 0; i < (size_t)n * n_out; i++)
        d[i] = delta(&r, kind);
    for (int q = 0; q < 2; q++)
        for (size_t i = 0; i < size[q]; i++)
            theta[q][i] = start[q][i] = (Real)(rng_uniform(&r) - 0.5);
    Fixed f = exact_fixed(n);
    (void)exact_input_outer_ref(ref, d, rows, n, n_out, n_in, &f);
    (void)exact_input_round(D, ld, d, n, n_out, &f);
    double step = 0.37 / n / EXACT_INPUT_DIV;
    ColSums dst = {.acc = {acc[0], acc[1]}, .stride = {w[0], w[1]}, .split = split,
                   .theta = {spend ? theta[0] : NULL, spend ? theta[1] : NULL}, .step = step,
                   .inv = f.inv_scale};
    if (pack)
        exact_input_pack(&s, rows, n, pack == 1 ? c0 : c0 + 16, c1);
    int spent = exact_input_cols(&dst, D, ld, rows, n, n_out, c0, c1, &s);
    size_t diff = 0, stray = 0;
    for (int j = 0; j < n_out; j++)
        for (int q = 0; q < 2; q++)
            for (int k = 0; k < w[q]; k++) {
                int col = (q ? split : c0) + k, inside = col < (q ? c1 : split);
                size_t at = (size_t)j * w[q] + k;
                int64_t want = inside ? ref[(size_t)j * n_in + col] : 0;
                Real t = start[q][at];
                if (spent && inside) /* the weight as exact_descend leaves it; no sum kept */
                    exact_descend(&t, &want, 1, step, &f);
                diff += acc[q][at] != (spent ? 0 : want) || memcmp(&theta[q][at], &t, sizeof t);
                stray += !inside && acc[q][at] != 0;
            }
    int wide = 0; /* deltas beyond the int16 halves (the AMX tiles take them all) */
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n; i++) {
            int64_t v = D[(size_t)j * ld + i];
            wide |= v > 2147418112LL || v < -2147418112LL;
        }
    int on_amx = s.amx.ready && n >= 32;
    int expect = spend && (on_amx ? n <= EXACT_AMX_WHOLE
                                  : exact_input_vector_spends() && n <= 240 && !wide);
    CHECK(diff == 0 && stray == 0 && spent == expect,
          "exact_input_cols n=%d n_out=%d cols [%d, %d | %d, %d) kind %d amx %d spend %d pack "
          "%d: %zu values differ, %zu written outside, spent %d (expected %d)", n, n_out, c0,
          split, split, c1, kind, s.amx.ready, spend, pack, diff, stray, spent, expect);
    exact_input_free(&s);
    for (int q = 0; q < 2; q++) {
        free(acc[q]);
        free(theta[q]);
        free(start[q]);
    }
    free(img);
    free(rows);
    free(d);
    free(D);
    free(ref);
}

/* w1_layout: W1 in its two column blocks: layout_w1_export gives the row-major matrix whose
 * entry (j, k) model_init drew from stream j n0 + k, import undoes it, and layout_hash is the
 * FNV-1a of the parameters in that (the files') order. */
static void w1_layout(void)
{
    const int sizes[] = {784, 16, 16, 10};
    Model m;
    Err e;
    if (model_init(&m, sizes, 4, 11, &e) != 0) {
        CHECK(0, "w1_layout setup: %s", e.msg);
        return;
    }
    const Layout *lay = &m.layout;
    size_t w1 = lay->b_off[1];
    Real *rows = malloc(sizeof *rows * lay->n_params), *back = malloc(sizeof *back * lay->n_params);
    if (!rows || !back)
        exit(1);
    layout_w1_export(lay, m.params, rows);
    memcpy(rows + w1, m.params + w1, sizeof *rows * (lay->n_params - w1));
    size_t wrong = 0;
    for (size_t i = 0; i < w1; i++) {
        Rng r;
        rng_init(&r, rng_mix(11, 0x77656967687473ULL, i));
        wrong += rows[i] != (Real)(1.0 / sqrt(784.0) * rng_normal(&r)); /* as model_init */
    }
    memcpy(back, m.params, sizeof *back * lay->n_params);
    memset(back, 0, sizeof *back * w1);
    layout_w1_import(lay, rows, back);
    uint64_t h = hash_fnv1a(HASH_FNV_BASIS, rows, lay->n_params * sizeof(Real));
    CHECK(wrong == 0 && lay->split == 400, "w1_layout: %zu of %zu weights not at their row-major "
          "place (split %d)", wrong, w1, lay->split);
    CHECK(memcmp(back, m.params, sizeof *back * lay->n_params) == 0, "w1_layout: import(export) "
          "differs from the parameters");
    CHECK(layout_hash(lay, m.params) == h, "w1_layout: layout_hash is not the hash of the "
          "files' order");
    free(rows);
    free(back);
    model_free(&m);
}

/* gradient_units: model_gradient_exact read back in its units equals model_gradient. */
static void gradient_units(void)
{
    const int sizes[] = {784, 16, 16, 10}, n = 37;
    Model m;
    Workspace w;
    Err e;
    if (model_init(&m, sizes, 4, 3, &e) != 0 || workspace_init(&w, &m.layout, n, &e) != 0) {
        CHECK(0, "gradient_units setup: %s", e.msg);
        return;
    }
    Rng r;
    rng_init(&r, 11);
    uint8_t *img = malloc((size_t)n * 784), labels[37];
    const uint8_t *rows[37];
    for (int i = 0; i < n * 784; i++)
        img[i] = (uint8_t)(rng_next(&r) & 255);
    for (int i = 0; i < n; i++) {
        rows[i] = img + (size_t)i * 784;
        labels[i] = (uint8_t)(i % 10);
    }
    size_t np = m.layout.n_params, w1 = 784 * 16;
    Real *grad = calloc(np, sizeof *grad);
    int64_t *acc = calloc(np, sizeof *acc);
    int start[2] = {0, n};
    Fixed f = exact_fixed(n);
    model_load_inputs(&m.layout, &w, rows, n);
    model_forward(&m, &w, n);
    model_deltas(&m, &w, labels, n);
    model_gradient(&m, &w, n, grad);
    CHECK(model_gradient_exact(&m, &w, start, 1, acc, &f) == 0, "gradient_units: bad values");
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        double v = exact_value(acc[i], &f) / (i < w1 ? EXACT_INPUT_DIV : 1);
        double err = fabs(v - (double)grad[i]) / (1e-6 + fabs((double)grad[i]));
        worst = err > worst ? err : worst;
    }
    CHECK(worst < 1e-3, "exact gradient differs from the float gradient by %.3g (relative)",
          worst);
    free(img);
    free(grad);
    free(acc);
    workspace_free(&w);
    model_free(&m);
}

/* sigmoid_accuracy: a network whose outputs are sigmoid(bias) (zero weights) against
 * 1 / (1 + e^-z) in long double, for z from -100 to 100 and NaN: within 4 ulp, or
 * FLT_MIN absolute below FLT_MIN. */
static void sigmoid_accuracy(void)
{
    enum { N = 4001 };
    const int sizes[] = {1, N};
    Model m;
    Workspace w;
    Err e;
    if (model_init(&m, sizes, 2, 1, &e) != 0 || workspace_init(&w, &m.layout, 1, &e) != 0) {
        CHECK(0, "sigmoid_accuracy setup: %s", e.msg);
        return;
    }
    Real *W = m.params + m.layout.w_off[1], *b = m.params + m.layout.b_off[1];
    for (int j = 0; j < N; j++) {
        W[j] = 0;
        b[j] = (Real)(-100.0 + 0.05 * j);
    }
    b[17] = (Real)NAN;
    uint8_t pixel = 200;
    const uint8_t *rows[1] = {&pixel};
    model_load_inputs(&m.layout, &w, rows, 1);
    model_forward(&m, &w, 1);
    double worst = 0;
    for (int j = 0; j < N; j++) {
        double a = (double)w.a[1][j];
        if (j == 17) {
            CHECK(isnan(a), "sigmoid(NaN) = %g, want NaN", a);
            continue;
        }
        long double want = 1.0L / (1.0L + expl(-(long double)b[j]));
        double ulp = (double)nextafterf((float)want, INFINITY) - (double)(float)want;
        /* below FLT_MIN (z < -87) only the absolute error counts: e^-z is clamped */
        double err = want < 0x1p-126L ? fabs(a - (double)want) / 0x1p-126 * 4
                                      : fabs(a - (double)want) / ulp;
        worst = err > worst ? err : worst;
    }
    CHECK(worst <= 4, "sigmoid: %.2f ulp from the exact value (at most 4)", worst);
    workspace_free(&w);
    model_free(&m);
}

/* chunk_grouping: model_gradient_exact over one chunk of groups (some empty: the short
 * lanes of an epoch's last batch) equals one call per group. */
static void chunk_grouping(const int *start, int groups)
{
    const int sizes[] = {784, 16, 16, 10}, n = start[groups];
    Model m;
    Workspace w;
    Err e;
    if (model_init(&m, sizes, 4, 5, &e) != 0 || workspace_init(&w, &m.layout, n, &e) != 0) {
        CHECK(0, "chunk_grouping setup: %s", e.msg);
        return;
    }
    Rng r;
    rng_init(&r, 21);
    uint8_t img[9 * 784], labels[9];
    const uint8_t *rows[9];
    for (int i = 0; i < n * 784; i++)
        img[i] = (uint8_t)(rng_next(&r) & 255);
    for (int i = 0; i < n; i++) {
        rows[i] = img + (size_t)i * 784;
        labels[i] = (uint8_t)((i * 7) % 10);
    }
    size_t np = m.layout.n_params;
    int64_t *whole = calloc(np, sizeof *whole), *parts = calloc(np, sizeof *parts);
    Fixed f = exact_fixed(64);
    model_load_inputs(&m.layout, &w, rows, n);
    model_forward(&m, &w, n);
    model_deltas(&m, &w, labels, n);
    model_gradient_exact(&m, &w, start, groups, whole, &f);
    for (int g = 0; g < groups; g++) {
        int one[2] = {0, start[g + 1] - start[g]};
        if (one[1] == 0)
            continue;
        model_load_inputs(&m.layout, &w, rows + start[g], one[1]);
        model_forward(&m, &w, one[1]);
        model_deltas(&m, &w, labels + start[g], one[1]);
        model_gradient_exact(&m, &w, one, 1, parts, &f);
    }
    size_t diff = 0;
    for (size_t i = 0; i < np; i++)
        diff += whole[i] != parts[i];
    CHECK(diff == 0, "chunk_grouping: %zu of %zu sums depend on how groups share a chunk", diff,
          np);
    free(whole);
    free(parts);
    workspace_free(&w);
    model_free(&m);
}

/* random_reals: n values uniform in (-scale, scale), from r (exits when out of memory). */
static Real *random_reals(Rng *r, size_t n, double scale)
{
    Real *v = malloc(sizeof *v * (n ? n : 1));
    if (!v) {
        fprintf(stderr, "random_reals: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (Real)((rng_uniform(r) * 2 - 1) * scale);
    return v;
}

/* same_bits: 1 if the n values of a and b are bitwise equal. */
static int same_bits(const Real *a, const Real *b, size_t n)
{
    return memcmp(a, b, sizeof *a * n) == 0;
}

/* net_dot_rows: kernels_dot_rows against net_plain_dot_rows, padded rows, every tail. */
static void net_dot_rows(int n, int n_out, int len, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    int ws = len + 3, xs = len + 5;
    Real *W = random_reals(&r, (size_t)n_out * ws, 1), *in = random_reals(&r, (size_t)n * xs, 1);
    Real *got = random_reals(&r, (size_t)n * n_out, 1);
    Real *want = random_reals(&r, (size_t)n * n_out, 1);
    kernels_dot_rows(W, ws, in, xs, len, got, n, n_out);
    net_plain_dot_rows(W, ws, in, xs, len, want, n, n_out);
    CHECK(same_bits(got, want, (size_t)n * n_out), "kernels_dot_rows n=%d n_out=%d len=%d "
          "differs from the plain kernel", n, n_out, len);
    free(W);
    free(in);
    free(got);
    free(want);
}

/* net_hidden: kernels_hidden_deltas against net_plain_hidden_deltas for activation act
 * (activations in (-1, 1): relu's derivative sees both sides). */
static void net_hidden(int n, int n_in, int n_out, Activation act, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    size_t cells = (size_t)n * n_in;
    Real *W = random_reals(&r, (size_t)n_out * n_in, 1), *a = random_reals(&r, cells, 1);
    Real *d = random_reals(&r, (size_t)n * n_out, 1);
    Rng same = r; /* got and want start equal */
    Real *got = random_reals(&r, cells, 1), *want = random_reals(&same, cells, 1);
    kernels_hidden_deltas(W, d, a, got, n, n_in, n_out, act);
    net_plain_hidden_deltas(W, d, a, want, n, n_in, n_out, act);
    CHECK(same_bits(got, want, cells), "kernels_hidden_deltas n=%d n_in=%d n_out=%d act=%s "
          "differs from the plain kernel", n, n_in, n_out, kind_activation_name(act));
    free(W);
    free(d);
    free(a);
    free(got);
    free(want);
}

/* net_outer: kernels_outer_add against net_plain_outer_add, from the same non-zero sums. */
static void net_outer(int n, int n_out, int cols, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    int gs = cols + 2, xs = cols + 4;
    size_t cells = (size_t)n_out * gs;
    Real *d = random_reals(&r, (size_t)n * n_out, 1), *x = random_reals(&r, (size_t)n * xs, 1);
    Rng same = r; /* got and want start equal */
    Real *got = random_reals(&r, cells, 1), *want = random_reals(&same, cells, 1);
    kernels_outer_add(got, gs, d, x, xs, cols, n, n_out);
    net_plain_outer_add(want, gs, d, x, xs, cols, n, n_out);
    CHECK(same_bits(got, want, cells), "kernels_outer_add n=%d n_out=%d cols=%d differs from "
          "the plain kernel", n, n_out, cols);
    free(d);
    free(x);
    free(got);
    free(want);
}

/* net_sigmoid: kernels_sigmoid gives net_plain_sigmoid's bits (both the reference's Cephes
 * expf in float), z from -100 to 100, around the clamps at +-88 (subnormal e^-z, subnormal
 * sigmoids), random bit patterns, odd counts (vector tails); NaN kept. */
static void net_sigmoid(void)
{
    enum { N = 12001 };
    Rng r;
    rng_init(&r, 1);
    Real *got = random_reals(&r, N, 1), *want = random_reals(&r, N, 1);
    for (int k = 0; k < N; k++) {
        uint32_t bits = (uint32_t)rng_next(&r);
        float f;
        memcpy(&f, &bits, sizeof f);
        got[k] = k < 4001 ? (Real)(-100.0 + 0.05 * k)          /* the whole range */
                 : k < 8001 ? (Real)((k % 2 ? 85.0 : -85.0) * (1.0 + 0.00002 * (k - 4001)))
                 : isfinite(f) ? (Real)f : (Real)1;             /* any float */
        want[k] = got[k];
    }
    got[5] = want[5] = (Real)NAN;
    kernels_sigmoid(got, N);
    net_plain_sigmoid(want, N);
    int differ = 0;
    for (int k = 0; k < N; k++) {
        if (k == 5) {
            CHECK(isnan((double)got[k]), "kernels_sigmoid(NaN) = %g", (double)got[k]);
            continue;
        }
        if (!same_bits(got + k, want + k, 1) && differ++ < 3)
            CHECK(0, "kernels_sigmoid: %a, the plain kernel %a (case %d)", (double)got[k],
                  (double)want[k], k);
    }
    free(got);
    free(want);
}

/* exact_case: kernels_exact_outer against exact_plain_outer for groups of the given sizes;
 * deltas of magnitude up to 2^big (beyond the int32 windows and the limit: the fast paths
 * hand those sums on) and, with nan 1, a NaN delta; with nan 2, also an infinite and a NaN
 * input (rows the fast paths must leave alone). */
static void exact_case(const int *sizes, int groups, int n_out, int n_in, int big, int nan,
                       uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    int start[65] = {0};
    for (int g = 0; g < groups; g++)
        start[g + 1] = start[g] + sizes[g];
    int n = start[groups];
    size_t cells = (size_t)n_out * n_in;
    Real *d = random_reals(&r, (size_t)n * n_out, 0.05), *x = random_reals(&r, (size_t)n * n_in, 1);
    for (int i = 0; big && i < n * n_out; i += 7)
        d[i] = (Real)ldexp(rng_uniform(&r) - 0.5, (int)rng_below(&r, (uint64_t)big + 1));
    if (nan && n > 0)
        d[(size_t)(n - 1) * n_out] = (Real)NAN;
    if (nan == 2 && n > 2) {
        x[(size_t)1 * n_in + n_in / 2] = (Real)INFINITY;
        x[(size_t)2 * n_in] = (Real)NAN;
    }
    int64_t *got = calloc(cells, sizeof *got), *want = calloc(cells, sizeof *want);
    double *bound = calloc((size_t)n_out * (groups ? groups : 1), sizeof *bound);
    if (!got || !want || !bound)
        exit(1);
    for (size_t i = 0; i < cells; i++)
        got[i] = want[i] = (int64_t)(rng_next(&r) >> 24);
    Fixed f = exact_fixed(64);
    size_t bad_got = kernels_exact_outer(got, d, x, start, groups, n_out, n_in, &f, bound);
    size_t bad_want = exact_plain_outer(want, d, x, start, groups, n_out, n_in, &f);
    size_t diff = 0;
    for (size_t i = 0; i < cells; i++)
        diff += got[i] != want[i];
    CHECK(diff == 0 && bad_got == bad_want, "kernels_exact_outer n=%d groups=%d n_out=%d "
          "n_in=%d big %d nan %d: %zu of %zu sums differ, bad %zu vs %zu", n, groups, n_out,
          n_in, big, nan, diff, cells, bad_got, bad_want);
    free(d);
    free(x);
    free(got);
    free(want);
    free(bound);
}

/* float_bits: the float of the 32 bits b. */
static float float_bits(uint32_t b)
{
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* edge_delta: a delta for the rounding kernels, of kind: 0 random normal-range values, 1 any
 * 32 random bits (NaNs, infinities, denormals), 2 an edge value (zeros, denormals,
 * infinities, NaN, ties of half a unit of 2^-32 and of 2^-(32 + e), FLT_MAX), 3 around the
 * bound `at` (within a few ulp either side, and either sign), 4 a mix of them all. */
static Real edge_delta(Rng *r, int kind, float at)
{
    if (kind == 4)
        kind = (int)rng_below(r, 4);
    if (kind == 0)
        return (Real)ldexp(rng_uniform(r) * 2 - 1, (int)rng_below(r, 40) - 30);
    if (kind == 1)
        return (Real)float_bits((uint32_t)rng_next(r));
    if (kind == 3) {
        float v = at;
        for (int u = (int)rng_below(r, 9) - 4; u != 0; u += u > 0 ? -1 : 1)
            v = nextafterf(v, u > 0 ? INFINITY : 0);
        return (Real)(rng_below(r, 2) ? -v : v);
    }
    const float edges[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f, 0x1p-126f,
                           INFINITY, -INFINITY, NAN, -NAN, 0x1.fffffep127f, -0x1.fffffep127f,
                           0x1p-33f, -0x1p-33f, 0x1.8p-32f, -0x1.8p-32f, 0x1.4p-31f, -0x1.4p-31f,
                           0x1.000004p-11f, 0x1.00000cp-11f, 0x1.8p-48f, 0x1.4p-47f, 1.0f, -1.0f};
    int k = (int)rng_below(r, sizeof edges / sizeof *edges + 2);
    if (k < (int)(sizeof edges / sizeof *edges))
        return (Real)edges[k];
    /* a tie at a random unit 2^-(32 + s): (m + 1/2) 2^-(32 + s), s in [-10, 20) */
    double m = (double)rng_below(r, 1u << 16) + 0.5;
    return (Real)ldexp(rng_below(r, 2) ? -m : m, -32 - ((int)rng_below(r, 30) - 10));
}

/* round_fixed: exact_fixed(terms), or for terms 0 one with the limit 255 2^40, which float
 * deltas can meet exactly (|d| 2^32 255 = limit at d = 256). */
static Fixed round_fixed(int64_t terms)
{
    Fixed f = exact_fixed(terms ? terms : 64);
    if (!terms)
        f.limit = EXACT_INPUT_DIV * 0x1p40;
    return f;
}

/* round_input_case: exact_input_round (this build's kernel) against exact_input_round_plain
 * on n x n_out deltas of kind (edge_delta), into padded rows: every int64 (the padding
 * included, which neither may write) and the bad count must be equal. */
static void round_input_case(int n, int n_out, int kind, int64_t terms, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    int ld = n + 5;
    Fixed f = round_fixed(terms);
    float at = (float)(f.limit / EXACT_INPUT_DIV * f.inv_scale); /* |d| 2^32 255 = limit */
    Real *d = malloc(sizeof *d * (size_t)n * n_out);
    size_t cells = (size_t)ld * n_out;
    int64_t *got = malloc(sizeof *got * cells), *want = malloc(sizeof *want * cells);
    if (!d || !got || !want)
        exit(1);
    for (size_t i = 0; i < (size_t)n * n_out; i++)
        d[i] = edge_delta(&r, kind, at);
    for (size_t i = 0; i < cells; i++)
        got[i] = want[i] = (int64_t)rng_next(&r);
    size_t bad_got = exact_input_round(got, ld, d, n, n_out, &f);
    size_t bad_want = exact_input_round_plain(want, ld, d, n, n_out, &f);
    size_t diff = 0, first = cells;
    for (size_t i = 0; i < cells; i++)
        if (got[i] != want[i])
            first = diff++ ? first : i;
    CHECK(diff == 0 && bad_got == bad_want, "exact_input_round n=%d n_out=%d kind %d terms %lld: "
          "%zu of %zu values differ (first at %zu: %lld, plain %lld), bad %zu vs %zu", n, n_out,
          kind, (long long)terms, diff, cells, first, diff ? (long long)got[first] : 0LL,
          diff ? (long long)want[first] : 0LL, bad_got, bad_want);
    free(d);
    free(got);
    free(want);
}

/* edge_row: example i's activations (n_in) of kind: 0 random in (-1, 1), 1 each row's
 * largest |a| 2^e' (0.75, 1 - 2^-24: A clamps, or a power of two) at e' in [-140, 127], the
 * rest ties of its units 2^(e' - 15), denormals, zeros, 2 edge_delta's any bits or edges (NaN
 * and infinities: the row adds nothing), 3 all zero, 4 a mix by example. */
static void edge_row(Rng *r, Real *a, int n_in, int kind, int i)
{
    if (kind == 4)
        kind = i % 4;
    int ex = (int)rng_below(r, 268) - 140;
    const float tops[] = {0.75f, 0x1.fffffep-1f, 0.5f, -0x1.fffffep-1f};
    for (int k = 0; k < n_in; k++) {
        double u = rng_uniform(r) * 2 - 1;
        switch (kind) {
        case 0: a[k] = (Real)u; break;
        case 1: {
            int t = (int)rng_below(r, 4);
            double m = (double)rng_below(r, 1u << 14) + (t == 0 ? 0.5 : u);
            a[k] = t == 3 ? (Real)0x1p-149f : (Real)ldexp(m, ex - 15); /* ties, units */
            break;
        }
        case 2: a[k] = edge_delta(r, rng_below(r, 8) ? 2 : 1, 1); break;
        default: a[k] = 0; break;
        }
    }
    if (kind == 1)
        a[rng_below(r, (uint64_t)n_in)] = (Real)ldexpf(tops[rng_below(r, 4)], ex);
}

/* round_wide_case: exact_wide_round (this build's kernel) against exact_wide_round_plain:
 * n examples of n_in activations (edge_row of kind ak) and n_out deltas (edge_delta of kind
 * dk, kind 3 around the bound of the example's row when its e is 0), into padded rows; every
 * int16, int64 (padding included) and the bad count must be equal. */
static void round_wide_case(int n, int n_in, int n_out, int ak, int dk, int64_t terms,
                            uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    int lda = n_in + 3, ld = n + 5;
    Fixed f = round_fixed(terms);
    float at = (float)ldexp(f.limit / (1 << EXACT_WIDE_ABITS), -f.delta_bits); /* e = 0 */
    Real *a = malloc(sizeof *a * (size_t)n * n_in), *d = malloc(sizeof *d * (size_t)n * n_out);
    size_t acells = (size_t)n * lda, dcells = (size_t)ld * n_out;
    int16_t *A1 = malloc(sizeof *A1 * acells), *A2 = malloc(sizeof *A2 * acells);
    int64_t *D1 = malloc(sizeof *D1 * dcells), *D2 = malloc(sizeof *D2 * dcells);
    if (!a || !d || !A1 || !A2 || !D1 || !D2)
        exit(1);
    for (int i = 0; i < n; i++)
        edge_row(&r, a + (size_t)i * n_in, n_in, ak, i);
    for (size_t i = 0; i < (size_t)n * n_out; i++)
        d[i] = edge_delta(&r, dk, at);
    for (size_t i = 0; i < acells; i++)
        A1[i] = A2[i] = (int16_t)rng_next(&r);
    for (size_t i = 0; i < dcells; i++)
        D1[i] = D2[i] = (int64_t)rng_next(&r);
    size_t bad_got = exact_wide_round(A1, lda, D1, ld, a, d, n, n_in, n_out, &f);
    size_t bad_want = exact_wide_round_plain(A2, lda, D2, ld, a, d, n, n_in, n_out, &f);
    size_t da = 0, dd = 0;
    for (size_t i = 0; i < acells; i++)
        da += A1[i] != A2[i];
    for (size_t i = 0; i < dcells; i++)
        dd += D1[i] != D2[i];
    CHECK(da == 0 && dd == 0 && bad_got == bad_want, "exact_wide_round n=%d n_in=%d n_out=%d "
          "kinds %d %d terms %lld: %zu activations and %zu deltas differ, bad %zu vs %zu", n,
          n_in, n_out, ak, dk, (long long)terms, da, dd, bad_got, bad_want);
    free(a);
    free(d);
    free(A1);
    free(A2);
    free(D1);
    free(D2);
}

/* round_against_plain: the rounding kernels against the plain C on every tail of eight
 * examples and eight neurons, every kind of value, three formats (limit 2^51; a sum of
 * 2^20 terms: limit 2^42, F = 23; round_fixed(0)); returns the cases. */
static int round_against_plain(void)
{
    const int ns[] = {1, 3, 8, 9, 15, 64, 67}, outs[] = {1, 5, 8, 10, 17, 64};
    const int ins[] = {1, 7, 8, 17, 64, 100};
    const int64_t terms[] = {64, 1 << 20, 0};
    int cases = 0;
    uint64_t seed = 7000;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
            for (int kind = 0; kind < 5; kind++)
                for (int t = 0; t < 3; t++, cases++)
                    round_input_case(ns[a], outs[b], kind, terms[t], seed++);
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
            for (int ak = 0; ak < 5; ak++)
                for (int t = 0; t < 3; t++, cases++)
                    round_wide_case(ns[a], ins[b], outs[(a + b) % 6], ak, (ak + (int)b) % 5,
                                    terms[t], seed++);
    for (int dk = 0; dk < 5; dk++, cases += 2) { /* the real shapes */
        round_input_case(64, 512, dk, 64, seed++);
        round_wide_case(64, 512, 512, 4, dk, 64, seed++);
    }
    return cases;
}

/* kernels_against_plain: every kernel of this build against its plain-C kernel. */
static int kernels_against_plain(void)
{
    const int ns[] = {1, 3, 4, 5, 8, 9, 13}, outs[] = {1, 3, 4, 10, 16, 17};
    const int lens[] = {1, 7, 15, 16, 17, 33, 64, 65, 100, 384, 400, 784};
    int cases = 0;
    uint64_t seed = 5000;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
            for (size_t c = 0; c < sizeof lens / sizeof *lens; c++, cases += 2) {
                net_dot_rows(ns[a], outs[b], lens[c], seed++);
                net_outer(ns[a], outs[b], lens[c], seed++);
            }
    const int dot_ns[] = {8, 13, 17, 64}, dot_outs[] = {48, 50, 130, 512};
    const int dot_lens[] = {17, 400, 784}; /* wide layers: panels, blocks of 8 x 3, tails */
    for (size_t a = 0; a < sizeof dot_ns / sizeof *dot_ns; a++)
        for (size_t b = 0; b < sizeof dot_outs / sizeof *dot_outs; b++)
            for (size_t c = 0; c < sizeof dot_lens / sizeof *dot_lens; c++, cases++)
                net_dot_rows(dot_ns[a], dot_outs[b], dot_lens[c], seed++);
    const int hidden_ins[] = {1, 10, 15, 16, 17, 40, 64, 130, 512}; /* blocks of 6 x 64, rests */
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof hidden_ins / sizeof *hidden_ins; b++)
            for (size_t c = 0; c < sizeof outs / sizeof *outs; c++)
                for (int act = ACT_SIGMOID; act <= ACT_RELU; act++, cases++)
                    net_hidden(ns[a] * 3, hidden_ins[b], outs[c], (Activation)act, seed++);
    net_sigmoid();
    int singles[64], mixed[] = {4, 1, 0, 7, 2, 16, 3}, wide[] = {40, 24};
    for (int g = 0; g < 64; g++)
        singles[g] = 1;
    const int exact_ins[] = {1, 7, 8, 16, 31, 32, 33, 100, 784}, exact_outs[] = {1, 10, 16};
    const int bigs[] = {0, 20, 40};
    for (size_t a = 0; a < sizeof exact_ins / sizeof *exact_ins; a++)
        for (size_t b = 0; b < sizeof exact_outs / sizeof *exact_outs; b++)
            for (size_t c = 0; c < sizeof bigs / sizeof *bigs; c++) {
                int nan = (int)(a + b + c) % 2, o = exact_outs[b], i = exact_ins[a];
                exact_case(singles, 64, o, i, bigs[c], nan, seed++);
                exact_case(singles, 5, o, i, bigs[c], nan, seed++);
                exact_case(mixed, 7, o, i, bigs[c], nan, seed++);
                exact_case(wide, 2, o, i, bigs[c], nan, seed++);
                cases += 4;
            }
    const int wide_outs[] = {5, 67, 130}, wide_ins[] = {48, 100, 513};
    for (size_t a = 0; a < 3; a++) /* wide layers: several row and column blocks, tails */
        for (int nan = 0; nan < 3; nan++, cases += 2) {
            exact_case(singles, 64, wide_outs[a], wide_ins[a], nan ? 20 : 0, nan, seed++);
            exact_case(mixed, 7, wide_outs[a], wide_ins[a], 0, nan, seed++);
        }
    return cases;
}

int main(void)
{
    int n_plain = kernels_against_plain() + round_against_plain();
    const int mixed[] = {0, 4, 5, 5, 8, 8, 9}, four_then_empty[] = {0, 4, 4, 4, 4};
    chunk_grouping(mixed, 6);
    chunk_grouping(four_then_empty, 4); /* 4 examples in 4 groups, yet not one per group */
    sigmoid_accuracy();
    bytes_scaled();
    const int ns[] = {1, 2, 3, 10, 64, 255, 300};
    const int outs[] = {1, 4, 10, 16, 17};
    const int ins[] = {1, 15, 16, 47, 48, 49, 784};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
            for (size_t c = 0; c < sizeof ins / sizeof *ins; c++)
                for (int amx = 0; amx < 2; amx++)
                    outer_case(ns[a], outs[b], ins[c], (int)(seed % 7), seed, amx), seed++;
    for (int kind = 0; kind < 7; kind++) /* every kind of delta on the real shape */
        for (int amx = 0; amx < 2; amx++)
            outer_case(64, 16, 784, kind, 1000 + (uint64_t)kind, amx);
    for (int amx = 0; amx < 2; amx++) /* int32 sums at their bound, several windows */
        outer_case(600, 16, 784, 4, 2000, amx);
    const int shapes[][7] = {/* n, n_out, n_in, c0, split, c1, kind */
                             {64, 16, 784, 0, 400, 784, 5},   {64, 16, 784, 400, 784, 784, 5},
                             {64, 16, 784, 0, 400, 400, 1},   {100, 10, 784, 16, 400, 700, 5},
                             {256, 16, 784, 0, 400, 784, 5},  {300, 16, 784, 0, 400, 784, 5},
                             {64, 16, 784, 0, 400, 784, 2},   {10, 16, 784, 0, 400, 784, 5},
                             {33, 17, 49, 5, 21, 49, 3},      {64, 16, 784, 384, 400, 784, 0},
                             {300, 17, 784, 0, 400, 784, 6},  {64, 16, 784, 16, 400, 700, 6}};
    int n_cols = 0;
    for (size_t a = 0; a < sizeof shapes / sizeof *shapes; a++)
        for (int amx = 0; amx < 2; amx++)
            for (int spend = 0; spend < 2; spend++)
                for (int pack = 0; pack < 3; pack++, n_cols++) {
                    const int *h = shapes[a];
                    cols_case(h[0], h[1], h[2], h[3], h[4], h[5], h[6], 3000 + (uint64_t)a, amx,
                              spend, pack);
                }
    int n_wide = 0;
    const int wide_shapes[][3] = {/* n, n_out, n_in */
                                  {64, 16, 64}, {1, 10, 512}, {10, 17, 67}, {37, 130, 96},
                                  {64, 64, 128}, {300, 20, 80}, {256, 16, 64}};
    for (size_t a = 0; a < sizeof wide_shapes / sizeof *wide_shapes; a++)
        for (int ak = 0; ak < 6; ak++)
            for (int amx = 0; amx < 2; amx++, n_wide++) {
                const int *h = wide_shapes[a];
                int dk = (int)((a + (size_t)ak) % 7);
                wide_case(h[0], h[1], h[2], ak, dk, 4000 + a * 16 + (uint64_t)ak, amx);
            }
    for (int dk = 0; dk < 7; dk++) /* every kind of delta on a real shape */
        for (int amx = 0; amx < 2; amx++, n_wide++)
            wide_case(64, 32, 512, 1, dk, 5000 + (uint64_t)dk, amx);
    wide_rounding();
    gradient_units();
    w1_layout();
    if (fails) {
        fprintf(stderr, "test_kernels: %d failure(s)\n", fails);
        return 1;
    }
    printf("test_kernels: ok (%s: %d cases against the plain kernels; bytes, sigmoid, "
           "grouping, %zu exact first-layer cases, %d column cases, %d wide-layer cases, "
           "gradient units, W1 layout)\n",
           kernels_describe(), n_plain,
           sizeof ns / sizeof *ns * sizeof outs / sizeof *outs * sizeof ins / sizeof *ins * 2 + 16,
           n_cols, n_wide);
    return 0;
}
