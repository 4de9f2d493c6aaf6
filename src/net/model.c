/* model.c: forward pass, cost and backpropagation of a fully-connected sigmoid network.
 * Every floating-point sum runs in an order fixed by the source (no reassociation), so
 * the same examples always give the same bits, whatever thread or rank computes them. */
#include "net/model.h"
#include "core/hash.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && !defined(DOWNHILL_DOUBLE)
#include <immintrin.h>
#define MODEL_AVX2 1
#endif

#define ALIGN 64
#define INLINE static inline __attribute__((always_inline))

int layout_init(Layout *lay, const int *sizes, int n_layers, Err *e)
{
    if (n_layers < 2 || n_layers > MODEL_MAX_LAYERS)
        return err_set(e, "model.layers: %d sizes given, expected 2 to %d (inputs, ..., outputs)",
                       n_layers, MODEL_MAX_LAYERS);
    memset(lay, 0, sizeof *lay);
    lay->n_layers = n_layers;
    size_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        if (sizes[l] < 1 || sizes[l] > (1 << 20))
            return err_set(e, "model.layers: size %d of layer %d is outside 1..%d", sizes[l], l,
                           1 << 20);
        lay->n[l] = sizes[l];
        if (sizes[l] > lay->max_width)
            lay->max_width = sizes[l];
        if (l == 0)
            continue;
        size_t w;
        if (mul_size((size_t)sizes[l], (size_t)sizes[l - 1], &w) != 0 ||
            off > SIZE_MAX / 2 - w - (size_t)sizes[l])
            return err_set(e, "model.layers: layer %d (%d x %d) overflows the parameter count", l,
                           sizes[l], sizes[l - 1]);
        lay->w_off[l] = off;
        lay->b_off[l] = off + w;
        off += w + (size_t)sizes[l];
    }
    lay->n_params = off;
    int h = (lay->n[0] / 2 + 8) / 16 * 16;
    lay->split = h < lay->n[0] ? h : lay->n[0];
    return 0;
}

size_t layout_block(const Layout *lay, int b, int *c0, int *c1)
{
    *c0 = b ? lay->split : 0;
    *c1 = b ? lay->n[0] : lay->split;
    return lay->w_off[1] + (b ? (size_t)lay->n[1] * (size_t)lay->split : 0);
}

size_t layout_weight(const Layout *lay, int l, int j, int k)
{
    if (l != 1)
        return lay->w_off[l] + (size_t)j * (size_t)lay->n[l - 1] + (size_t)k;
    int c0, c1, b = k >= lay->split;
    size_t off = layout_block(lay, b, &c0, &c1);
    return off + (size_t)j * (size_t)(c1 - c0) + (size_t)(k - c0);
}

void layout_w1_export(const Layout *lay, const Real *params, Real *w1)
{
    for (int j = 0; j < lay->n[1]; j++)
        for (int k = 0; k < lay->n[0]; k++)
            w1[(size_t)j * lay->n[0] + k] = params[layout_weight(lay, 1, j, k)];
}

void layout_w1_import(const Layout *lay, const Real *w1, Real *params)
{
    for (int j = 0; j < lay->n[1]; j++)
        for (int k = 0; k < lay->n[0]; k++)
            params[layout_weight(lay, 1, j, k)] = w1[(size_t)j * lay->n[0] + k];
}

uint64_t layout_hash(const Layout *lay, const Real *params)
{
    uint64_t h = HASH_FNV_BASIS;
    for (size_t i = 0; i < lay->n_params; i++) {
        size_t at = i;
        if (i < lay->b_off[1]) /* W1 in the file's row-major order */
            at = layout_weight(lay, 1, (int)(i / (size_t)lay->n[0]), (int)(i % (size_t)lay->n[0]));
        h = hash_fnv1a(h, &params[at], sizeof(Real));
    }
    return h;
}

/* aligned_buffer: n zeroed Reals on a 64-byte boundary, so vector code sees the same
 * alignment on every rank and run; free with free(). */
static Real *aligned_buffer(size_t n, const char *what, Err *e)
{
    size_t bytes;
    if (mul_size(n ? n : 1, sizeof(Real), &bytes) != 0 || bytes > SIZE_MAX - ALIGN) {
        err_set(e, "%s: %zu values overflow the address space", what, n);
        return NULL;
    }
    bytes = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    Real *p = aligned_alloc(ALIGN, bytes);
    if (!p) {
        err_set(e, "%s: out of memory allocating %zu bytes", what, bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

int model_init(Model *m, const int *sizes, int n_layers, uint64_t seed, Err *e)
{
    memset(m, 0, sizeof *m);
    if (layout_init(&m->layout, sizes, n_layers, e) != 0)
        return -1;
    m->params = aligned_buffer(m->layout.n_params, "model parameters", e);
    if (!m->params)
        return -1;
    const Layout *lay = &m->layout;
    for (int l = 1; l < lay->n_layers; l++) {
        double scale = 1.0 / sqrt((double)lay->n[l - 1]);
        for (int j = 0; j < lay->n[l]; j++)
            for (int k = 0; k < lay->n[l - 1]; k++) { /* index: the row-major position */
                size_t index = lay->w_off[l] + (size_t)j * (size_t)lay->n[l - 1] + (size_t)k;
                Rng r;
                rng_init(&r, rng_mix(seed, 0x77656967687473ULL /* "weights" */, index));
                m->params[layout_weight(lay, l, j, k)] = (Real)(scale * rng_normal(&r));
            }
    }
    return 0;
}

void model_free(Model *m)
{
    free(m->params);
    m->params = NULL;
}

int workspace_init(Workspace *w, const Layout *lay, int cap, Err *e)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->x = aligned_buffer((size_t)cap * (size_t)lay->n[0], "workspace inputs", e);
    if (!w->x)
        return -1;
    int widest = 1;
    for (int l = 1; l < lay->n_layers; l++)
        widest = lay->n[l] > widest ? lay->n[l] : widest;
    w->bound = alloc_array((size_t)cap * (size_t)widest, sizeof(double), "workspace bounds", e);
    if (!w->bound || exact_input_init(&w->in, cap, lay->n[0], lay->n[1], e) != 0) {
        workspace_free(w);
        return -1;
    }
    for (int l = 1; l < lay->n_layers; l++) {
        w->a[l] = aligned_buffer((size_t)cap * (size_t)lay->n[l], "workspace activations", e);
        w->d[l] = aligned_buffer((size_t)cap * (size_t)lay->n[l], "workspace deltas", e);
        if (!w->a[l] || !w->d[l]) {
            workspace_free(w);
            return -1;
        }
    }
    return 0;
}

void workspace_free(Workspace *w)
{
    free(w->x);
    free(w->bound);
    exact_input_free(&w->in);
    for (int l = 1; l < MODEL_MAX_LAYERS; l++) {
        free(w->a[l]);
        free(w->d[l]);
    }
    memset(w, 0, sizeof *w);
}

void model_load_columns(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n,
                        int c0, int c1)
{
    int n0 = lay->n[0];
    w->rows = rows;
    for (int i = 0; i < n; i++) {
        Real *restrict x = w->x + (size_t)i * n0;
        const uint8_t *restrict px = rows[i];
        for (int k = c0; i + 1 < n && k < c1; k += 64) /* the rows are scattered: fetch ahead */
            __builtin_prefetch(rows[i + 1] + k);
#ifdef DOWNHILL_DOUBLE
        for (int k = c0; k < c1; k++)
            x[k] = (Real)px[k] / (Real)255;
#else
        /* (float)b / 255 for every byte b: b * fl(1/255), corrected once by its exact
         * residual (checked for all 256 bytes by test_kernels) */
        const float inv = 1.0f / 255.0f;
        for (int k = c0; k < c1; k++) {
            float b = (float)px[k], q = b * inv;
            x[k] = fmaf(fmaf(-q, 255.0f, b), inv, q);
        }
#endif
    }
}

void model_load_inputs(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n)
{
    model_load_columns(lay, w, rows, n, 0, lay->n[0]);
}

/* DOT_LANES partial sums: one per vector lane of the widest vectors of the build. */
#if defined(MODEL_AVX2) && defined(__AVX512F__)
#define DOT_LANES 16
#else
#define DOT_LANES 8
#endif

/* dot: sum_k a[k] b[k] with DOT_LANES partial sums (k mod DOT_LANES), folded in halves to
 * eight (s[u] + s[u + 8]), combined in a fixed tree; the rest added in order. */
static Real dot(const Real *restrict a, const Real *restrict b, int n)
{
    Real s[DOT_LANES] = {0};
    int k = 0;
    for (; k + DOT_LANES <= n; k += DOT_LANES)
        for (int u = 0; u < DOT_LANES; u++)
            s[u] += a[k + u] * b[k + u];
    for (int u = 0; u + 8 < DOT_LANES; u++)
        s[u] += s[u + 8];
    Real t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; k < n; k++)
        t += a[k] * b[k];
    return t;
}

#ifdef DOWNHILL_DOUBLE
#define EXP exp
#else
#define EXP expf
#endif

#if defined(MODEL_AVX2) && DOT_LANES == 16
/* sigmoid16: 1 / (1 + e^-z) on 16 lanes, e^x as Cephes' expf (x = n ln2 + r, a degree-7
 * polynomial in r, times 2^n); within 2 ulp of expf, NaN kept. Every sigmoid of this
 * build goes through it, so a value never depends on its lane or its batch. */
static inline __m512 sigmoid16(__m512 z)
{
    __m512 x = _mm512_sub_ps(_mm512_setzero_ps(), z);
    x = _mm512_max_ps(_mm512_set1_ps(-88.0f), _mm512_min_ps(_mm512_set1_ps(88.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512 e = _mm512_scalef_ps(y, n);
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* sigmoid_all: v[k] <- sigmoid(v[k]) for k < n. */
static void sigmoid_all(float *v, size_t n)
{
    for (size_t k = 0; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        _mm512_mask_storeu_ps(v + k, m, sigmoid16(_mm512_maskz_loadu_ps(m, v + k)));
    }
}
#else
/* sigmoid_all: v[k] <- 1 / (1 + e^-v[k]) for k < n. */
static void sigmoid_all(Real *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        v[k] = (Real)1 / ((Real)1 + EXP(-v[k]));
}
#endif

#ifdef MODEL_AVX2
#if DOT_LANES == 16
typedef __m512 VecF;
#define vf_zero() _mm512_setzero_ps()
#define vf_load(p) _mm512_loadu_ps(p)
#define vf_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define vf_set1(v) _mm512_set1_ps(v)
#define vf_store(p, v) _mm512_storeu_ps((p), (v))
#else
typedef __m256 VecF;
#define vf_zero() _mm256_setzero_ps()
#define vf_load(p) _mm256_loadu_ps(p)
#define vf_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define vf_set1(v) _mm256_set1_ps(v)
#define vf_store(p, v) _mm256_storeu_ps((p), (v))
#endif

/* tree: the partial sums of a vector combined as dot() combines them. */
INLINE float tree(VecF v)
{
#if DOT_LANES == 16
    __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
#else
    __m256 s = v;
#endif
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_hadd_ps(q, q);
    return _mm_cvtss_f32(_mm_hadd_ps(q, q));
}

#if DOT_LANES == 16
/* tree16: z[r][q] = tree(s[r][q]) for a 4 x 4 block, the sixteen trees side by side: each
 * step adds the same pairs as tree() (256-bit halves, 128-bit halves, then pairs twice),
 * several vectors' pairs gathered into one vector by shuffles. */
INLINE void tree16(const __m512 s[4][4], float z[4][4])
{
    __m512 h[8], q[4], p[2];
    for (int a = 0; a < 8; a++) { /* [s_2a | s_2a+1]: lanes u + u + 8 */
        __m512 u = s[a / 2][(a % 2) * 2], v = s[a / 2][(a % 2) * 2 + 1];
        h[a] = _mm512_add_ps(_mm512_shuffle_f32x4(u, v, 0x44), _mm512_shuffle_f32x4(u, v, 0xee));
    }
    for (int a = 0; a < 4; a++) /* [q_4a .. q_4a+3]: lanes u + u + 4 */
        q[a] = _mm512_add_ps(_mm512_shuffle_f32x4(h[2 * a], h[2 * a + 1], 0x88),
                             _mm512_shuffle_f32x4(h[2 * a], h[2 * a + 1], 0xdd));
    for (int a = 0; a < 2; a++) /* per 128-bit lane L: q0 + q1, q2 + q3 of two sums */
        p[a] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * a], q[2 * a + 1], 0x88),
                             _mm512_shuffle_ps(q[2 * a], q[2 * a + 1], 0xdd));
    float t[16]; /* lane 4 L + e holds sum 4 e + L, that is z[e][L] */
    _mm512_storeu_ps(t, _mm512_add_ps(_mm512_shuffle_ps(p[0], p[1], 0x88),
                                      _mm512_shuffle_ps(p[0], p[1], 0xdd)));
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            z[r][c] = t[4 * c + r];
}
#endif

/* dot_block: z[r][q] = dot(W row q, x row r) over len columns (rows of W `ws` apart, of x
 * `xs` apart) for ni rows of x and nj rows of W, the same bits as dot(); the ni x nj
 * accumulators stay in registers. */
INLINE void dot_block(const float *W, int ws, const float *x, int xs, int len, int ni, int nj,
                      float z[4][4])
{
    VecF s[4][4];
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++)
            s[r][q] = vf_zero();
    int k = 0;
    for (; k + DOT_LANES <= len; k += DOT_LANES) {
        VecF xv[4];
        for (int r = 0; r < ni; r++)
            xv[r] = vf_load(x + (size_t)r * xs + k);
        for (int q = 0; q < nj; q++) {
            VecF wv = vf_load(W + (size_t)q * ws + k);
            for (int r = 0; r < ni; r++)
                s[r][q] = vf_fma(wv, xv[r], s[r][q]);
        }
    }
#if DOT_LANES == 16
    if (ni == 4 && nj == 4)
        tree16(s, z);
#endif
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++) {
#if DOT_LANES == 16
            float t = ni == 4 && nj == 4 ? z[r][q] : tree(s[r][q]);
#else
            float t = tree(s[r][q]);
#endif
            for (int kk = k; kk < len; kk++)
                t = fmaf(W[(size_t)q * ws + kk], x[(size_t)r * xs + kk], t);
            z[r][q] = t;
        }
}

/* rows_partial: out rows [i, i + ni) = W in (len columns; W rows ws apart, in rows xs
 * apart), outputs in blocks of 4. */
INLINE void rows_partial(const float *W, int ws, const float *in, int xs, int len, float *out,
                         int i, int ni, int n_out)
{
    float z[4][4];
    int j = 0;
    for (; j + 4 <= n_out; j += 4) {
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 4, z);
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < 4; q++)
                out[(size_t)(i + r) * n_out + j + q] = z[r][q];
    }
    for (; j < n_out; j++) {
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 1, z);
        for (int r = 0; r < ni; r++)
            out[(size_t)(i + r) * n_out + j] = z[r][0];
    }
}
#endif

/* layer_partial: out[i][j] = dot(W row j, in row i) over len columns for n examples (W rows
 * ws apart, in rows xs apart), in dot()'s order. */
static void layer_partial(const Real *W, int ws, const Real *in, int xs, int len, Real *out,
                          int n, int n_out)
{
    int i = 0;
#ifdef MODEL_AVX2
    for (; i + 4 <= n; i += 4) /* four examples share each load of W */
        rows_partial(W, ws, in, xs, len, out, i, 4, n_out);
#endif
    for (; i < n; i++)
        for (int j = 0; j < n_out; j++)
            out[(size_t)i * n_out + j] = dot(W + (size_t)j * ws, in + (size_t)i * xs, len);
}

/* layer_forward: out = sigmoid(b + W in) for n examples; each dot product in dot()'s order. */
static void layer_forward(const Real *W, const Real *b, const Real *in, Real *out, int n,
                          int n_in, int n_out)
{
    layer_partial(W, n_in, in, n_in, n_in, out, n, n_out);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++)
            out[(size_t)i * n_out + j] = b[j] + out[(size_t)i * n_out + j];
    sigmoid_all(out, (size_t)n * (size_t)n_out);
}

/* first_out: out = sigmoid(b + (z0 + z1)) from the first layer's two block sums (out may be z0). */
static void first_out(const Real *b, const Real *z0, const Real *z1, Real *out, int n, int n_out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++) {
            size_t at = (size_t)i * n_out + j;
            out[at] = b[j] + (z0[at] + z1[at]);
        }
    sigmoid_all(out, (size_t)n * (size_t)n_out);
}

void model_first_partial(const Model *m, const Workspace *w, int n, int b, Real *z)
{
    const Layout *lay = &m->layout;
    int c0, c1;
    size_t off = layout_block(lay, b, &c0, &c1);
    layer_partial(m->params + off, c1 - c0, w->x + c0, lay->n[0], c1 - c0, z, n, lay->n[1]);
}

void model_forward_rest(const Model *m, Workspace *w, int n, const Real *z0, const Real *z1)
{
    const Layout *lay = &m->layout;
    first_out(m->params + lay->b_off[1], z0, z1, w->a[1], n, lay->n[1]);
    for (int l = 2; l < lay->n_layers; l++)
        layer_forward(m->params + lay->w_off[l], m->params + lay->b_off[l], w->a[l - 1], w->a[l],
                      n, lay->n[l - 1], lay->n[l]);
}

void model_forward(const Model *m, Workspace *w, int n)
{
    model_first_partial(m, w, n, 0, w->a[1]);
    model_first_partial(m, w, n, 1, w->d[1]); /* d[1] is free until model_deltas */
    model_forward_rest(m, w, n, w->a[1], w->d[1]);
}

double model_cost(const Model *m, const Workspace *w, const uint8_t *labels, int n,
                  int64_t *correct, double *costs)
{
    const Layout *lay = &m->layout;
    int L = lay->n_layers - 1, n_out = lay->n[L];
    double cost = 0;
    int64_t right = 0;
    for (int i = 0; i < n; i++) {
        const Real *a = w->a[L] + (size_t)i * n_out;
        int best = 0;
        double ci = 0;
        for (int j = 0; j < n_out; j++) {
            double diff = (double)a[j] - (j == labels[i] ? 1.0 : 0.0);
            ci += diff * diff;
            if (a[j] > a[best])
                best = j;
        }
        if (costs)
            costs[i] = ci;
        cost += ci;
        right += best == labels[i];
    }
    if (correct)
        *correct = right;
    return cost;
}

/* output_deltas: dC/dz of the last layer, 2 (a - y) a (1 - a). */
static void output_deltas(const Layout *lay, Workspace *w, const uint8_t *labels, int n)
{
    int L = lay->n_layers - 1, n_out = lay->n[L];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++) {
            size_t at = (size_t)i * n_out + j;
            Real a = w->a[L][at], y = j == labels[i] ? (Real)1 : (Real)0;
            w->d[L][at] = (Real)2 * (a - y) * a * ((Real)1 - a);
        }
}

/* hidden_deltas: d[l-1] = (W_l^T d[l]) * a[l-1] (1 - a[l-1]). */
#if defined(MODEL_AVX2) && DOT_LANES == 16
/* hidden_rows: hidden_deltas for examples [i, i + ni) (ni <= 8, n_in <= 16): one vector per
 * example, its sums over j in order (the same fused multiply-adds as the loop below). */
static void hidden_rows(const Real *W, Workspace *w, int l, int i, int ni, int n_in, int n_out)
{
    __mmask16 m = (__mmask16)((1u << n_in) - 1);
    __m512 acc[8];
    const Real *dl = w->d[l] + (size_t)i * n_out;
    for (int r = 0; r < ni; r++)
        acc[r] = _mm512_setzero_ps();
    for (int j = 0; j < n_out; j++) {
        __m512 wv = _mm512_maskz_loadu_ps(m, W + (size_t)j * n_in);
        for (int r = 0; r < ni; r++)
            acc[r] = _mm512_fmadd_ps(wv, _mm512_set1_ps(dl[(size_t)r * n_out + j]), acc[r]);
    }
    for (int r = 0; r < ni; r++) {
        const Real *ap = w->a[l - 1] + (size_t)(i + r) * n_in;
        __m512 a = _mm512_maskz_loadu_ps(m, ap);
        __m512 g = _mm512_mul_ps(a, _mm512_sub_ps(_mm512_set1_ps(1.0f), a));
        _mm512_mask_storeu_ps(w->d[l - 1] + (size_t)(i + r) * n_in, m, _mm512_mul_ps(acc[r], g));
    }
}
#endif

static void hidden_deltas(const Model *m, Workspace *w, int l, int n)
{
    const Layout *lay = &m->layout;
    int n_in = lay->n[l - 1], n_out = lay->n[l];
    const Real *W = m->params + lay->w_off[l];
    int i = 0;
#if defined(MODEL_AVX2) && DOT_LANES == 16
    for (; n_in <= 16 && i < n; i += 8) /* eight examples' sums in flight at once */
        hidden_rows(W, w, l, i, n - i < 8 ? n - i : 8, n_in, n_out);
#endif
    for (; i < n; i++) {
        Real *restrict dp = w->d[l - 1] + (size_t)i * n_in;
        const Real *ap = w->a[l - 1] + (size_t)i * n_in, *dl = w->d[l] + (size_t)i * n_out;
        memset(dp, 0, sizeof(Real) * (size_t)n_in);
        for (int j = 0; j < n_out; j++)
            for (int k = 0; k < n_in; k++)
                dp[k] += W[(size_t)j * n_in + k] * dl[j];
        for (int k = 0; k < n_in; k++)
            dp[k] *= ap[k] * ((Real)1 - ap[k]);
    }
}

#ifdef MODEL_AVX2
/* outer_tile: gW columns [c, c + nv DOT_LANES) of row j (rows gs apart) += sum over the
 * examples of d[i][j] x[i] (rows xs apart; each entry summed in order of i). */
INLINE void outer_tile(float *restrict gW, int gs, const float *d, const float *x, int xs, int n,
                       int n_out, int j, int c, int nv)
{
    float *row = gW + (size_t)j * gs + c;
    VecF v[8];
    for (int q = 0; q < nv; q++)
        v[q] = vf_load(row + DOT_LANES * q);
    for (int i = 0; i < n; i++) {
        VecF dj = vf_set1(d[(size_t)i * n_out + j]);
        for (int q = 0; q < nv; q++)
            v[q] = vf_fma(dj, vf_load(x + (size_t)i * xs + c + DOT_LANES * q), v[q]);
    }
    for (int q = 0; q < nv; q++)
        vf_store(row + DOT_LANES * q, v[q]);
}
#endif

/* outer_add: gW (n_out, cols; rows gs apart) += d^T x (x rows xs apart) over n examples,
 * each entry summed in order of i. */
static void outer_add(Real *restrict gW, int gs, const Real *d, const Real *x, int xs, int cols,
                      int n, int n_out)
{
    int c = 0;
#ifdef MODEL_AVX2
    for (; c + 4 * DOT_LANES <= cols; c += 4 * DOT_LANES) /* the x tile stays in L1 */
        for (int j = 0; j < n_out; j++)
            outer_tile(gW, gs, d, x, xs, n, n_out, j, c, 4);
    for (; c + DOT_LANES <= cols; c += DOT_LANES)
        for (int j = 0; j < n_out; j++)
            outer_tile(gW, gs, d, x, xs, n, n_out, j, c, 1);
#endif
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n; i++) {
            Real dj = d[(size_t)i * n_out + j];
            const Real *xi = x + (size_t)i * xs;
            for (int k = c; k < cols; k++)
                gW[(size_t)j * gs + k] += dj * xi[k];
        }
}

void model_deltas(const Model *m, Workspace *w, const uint8_t *labels, int n)
{
    const Layout *lay = &m->layout;
    output_deltas(lay, w, labels, n);
    for (int l = lay->n_layers - 1; l > 1; l--)
        hidden_deltas(m, w, l, n);
}

void model_gradient(const Model *m, const Workspace *w, int n, Real *grad)
{
    const Layout *lay = &m->layout;
    for (int l = 1; l < lay->n_layers; l++) {
        int n_out = lay->n[l];
        const Real *in = l == 1 ? w->x : w->a[l - 1];
        Real *gb = grad + lay->b_off[l];
        for (int b = 0; l == 1 && b < 2; b++) { /* the first layer's two column blocks */
            int c0, c1;
            size_t off = layout_block(lay, b, &c0, &c1);
            outer_add(grad + off, c1 - c0, w->d[1], in + c0, lay->n[0], c1 - c0, n, n_out);
        }
        if (l > 1)
            outer_add(grad + lay->w_off[l], lay->n[l - 1], w->d[l], in, lay->n[l - 1],
                      lay->n[l - 1], n, n_out);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n_out; j++)
                gb[j] += w->d[l][(size_t)i * n_out + j];
    }
}

/* bias_exact: each group's float sum of d[l] rounded to fixed point into acc (n_out). */
static size_t bias_exact(const Real *d, const int *start, int groups, int n_out, int64_t *acc,
                         const Fixed *f)
{
    if (exact_singles(start, groups)) /* groups of one example: rounded as they are */
        return exact_add_rows(acc, d + (size_t)start[0] * n_out, groups, n_out, f);
    int64_t bad = 0;
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < n_out; j++) {
            Real s = 0;
            for (int i = start[g]; i < start[g + 1]; i++)
                s += d[(size_t)i * n_out + j];
            acc[j] += exact_round((double)s, f, &bad);
        }
    return (size_t)bad;
}

size_t model_gradient_exact_rest(const Model *m, const Workspace *w, const int *start,
                                 int groups, int64_t *acc, int64_t *D, int ld, const Fixed *f)
{
    const Layout *lay = &m->layout;
    size_t bad = exact_input_round(D, ld, w->d[1], start[groups], lay->n[1], f);
    for (int l = 1; l < lay->n_layers; l++) {
        if (l > 1)
            bad += exact_outer(acc + lay->w_off[l], w->d[l], w->a[l - 1], start, groups,
                               lay->n[l], lay->n[l - 1], f, w->bound);
        bad += bias_exact(w->d[l], start, groups, lay->n[l], acc + lay->b_off[l], f);
    }
    return bad;
}

size_t model_gradient_exact(const Model *m, Workspace *w, const int *start, int groups,
                            int64_t *acc, const Fixed *f)
{
    const Layout *lay = &m->layout;
    size_t bad = model_gradient_exact_rest(m, w, start, groups, acc, w->in.D, w->cap, f);
    int c0, c1, d0, d1; /* the first layer's two column blocks */
    size_t off0 = layout_block(lay, 0, &c0, &c1), off1 = layout_block(lay, 1, &d0, &d1);
    ColSums dst = {.acc = {acc + off0, acc + off1}, .stride = {c1 - c0, d1 - d0}, .split = c1};
    exact_input_cols(&dst, w->in.D, w->cap, w->rows, start[groups], lay->n[1], 0, d1, &w->in);
    return bad;
}

void model_backward(const Model *m, Workspace *w, const uint8_t *labels, int n, Real *grad)
{
    model_deltas(m, w, labels, n);
    model_gradient(m, w, n, grad);
}

uint64_t model_hash(const Model *m)
{
    return layout_hash(&m->layout, m->params);
}
