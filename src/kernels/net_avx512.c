/* net_avx512.c: the network's kernels on AVX-512: dot products (sixteen float lanes, each
 * one of net_plain_dot's sixteen partial sums, so every value has the plain kernel's bits),
 * the sigmoid, the hidden deltas and the outer products (wide layers in register blocks of four rows or
 * examples by 64 columns). Compiled only where isa.h picks it
 * (KERNELS_NET_AVX512). */
#include "kernels/kernels.h"

#if KERNELS_NET_AVX512
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#define LANES 16

/* The register blocks of the matrix loops below: ROWS rows (or examples) by BLOCK_COLS
 * columns, four vectors each: sixteen accumulators, each entry's own sum in its own order. */
#define ROWS 4
#define BLOCK_COLS 64

/* col_mask: the mask of the last of nv vectors covering cols columns (cols <= BLOCK_COLS). */
INLINE __mmask16 col_mask(int cols, int nv)
{
    int rest = cols - LANES * (nv - 1);
    return rest == LANES ? (__mmask16)0xffff : (__mmask16)((1u << rest) - 1);
}

/* tree: the partial sums of a vector combined as net_plain_dot combines them. */
INLINE float tree(__m512 v)
{
    __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_hadd_ps(q, q);
    return _mm_cvtss_f32(_mm_hadd_ps(q, q));
}

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

/* dot_block: z[r][q] = net_plain_dot(W row q, x row r) over len columns (rows of W `ws`
 * apart, of x `xs` apart) for ni rows of x and nj rows of W, the same bits; the ni x nj
 * accumulators stay in registers. */
INLINE void dot_block(const float *W, int ws, const float *x, int xs, int len, int ni, int nj,
                      float z[4][4])
{
    __m512 s[4][4];
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++)
            s[r][q] = _mm512_setzero_ps();
    int k = 0;
    for (; k + LANES <= len; k += LANES) {
        __m512 xv[4];
        for (int r = 0; r < ni; r++)
            xv[r] = _mm512_loadu_ps(x + (size_t)r * xs + k);
        for (int q = 0; q < nj; q++) {
            __m512 wv = _mm512_loadu_ps(W + (size_t)q * ws + k);
            for (int r = 0; r < ni; r++)
                s[r][q] = _mm512_fmadd_ps(wv, xv[r], s[r][q]);
        }
    }
    if (ni == 4 && nj == 4)
        tree16(s, z);
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++) {
            float t = ni == 4 && nj == 4 ? z[r][q] : tree(s[r][q]);
            for (int kk = k; kk < len; kk++)
                t = fmaf(W[(size_t)q * ws + kk], x[(size_t)r * xs + kk], t);
            z[r][q] = t;
        }
}

/* tree16v: lane f = tree(s[f]) for sixteen vectors: tree16's additions (the same pairs), its
 * last vector put in the order of f by one permutation instead of through memory. */
INLINE __m512 tree16v(const __m512 s[16])
{
    __m512 h[8], q[4], p[2];
    for (int a = 0; a < 8; a++)
        h[a] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * a], s[2 * a + 1], 0x44),
                             _mm512_shuffle_f32x4(s[2 * a], s[2 * a + 1], 0xee));
    for (int a = 0; a < 4; a++)
        q[a] = _mm512_add_ps(_mm512_shuffle_f32x4(h[2 * a], h[2 * a + 1], 0x88),
                             _mm512_shuffle_f32x4(h[2 * a], h[2 * a + 1], 0xdd));
    for (int a = 0; a < 2; a++)
        p[a] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * a], q[2 * a + 1], 0x88),
                             _mm512_shuffle_ps(q[2 * a], q[2 * a + 1], 0xdd));
    __m512 t = _mm512_add_ps(_mm512_shuffle_ps(p[0], p[1], 0x88),
                             _mm512_shuffle_ps(p[0], p[1], 0xdd));
    /* lane 4 L + e of t holds sum 4 e + L */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, t);
}

/* WIDE_X, WIDE_W: the wide register block of dot_wide: eight rows of x by three rows of W,
 * 24 accumulators; each load of W serves eight examples, so W (read from L2) costs a third
 * of the loads it costs in dot_block. */
#define WIDE_X 8
#define WIDE_W 3

/* wide_sums: s[r WIDE_W + q] = the sixteen partial sums of x row r and W row q over the
 * whole vectors of the rows, for ni <= WIDE_X rows of x and nj <= WIDE_W of W (the other of
 * the 32 stay 0: they feed tree16v only); returns where the rows' tail starts. */
INLINE int wide_sums(const float *W, int ws, const float *x, int xs, int len, int ni, int nj,
                     __m512 s[32])
{
    for (int f = 0; f < 32; f++)
        s[f] = _mm512_setzero_ps();
    int k = 0;
    for (; k + LANES <= len; k += LANES) {
        __m512 wv[WIDE_W];
        for (int q = 0; q < nj; q++)
            wv[q] = _mm512_loadu_ps(W + (size_t)q * ws + k);
        for (int r = 0; r < ni; r++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)r * xs + k);
            for (int q = 0; q < nj; q++)
                s[r * WIDE_W + q] = _mm512_fmadd_ps(wv[q], xv, s[r * WIDE_W + q]);
        }
    }
    return k;
}

/* dot_wide: dot_block for ni <= WIDE_X rows of x and nj <= WIDE_W rows of W: each entry the
 * same sixteen partial sums, tree and tail as net_plain_dot, so the same bits; z[r * WIDE_W
 * + q] (z holds 32). */
INLINE void dot_wide(const float *W, int ws, const float *x, int xs, int len, int ni, int nj,
                     float z[32])
{
    __m512 s[32];
    int k = wide_sums(W, ws, x, xs, len, ni, nj, s);
    _mm512_storeu_ps(z, tree16v(s));
    _mm512_storeu_ps(z + 16, tree16v(s + 16)); /* the last eight of them unused */
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++) {
            float t = z[r * WIDE_W + q];
            for (int kk = k; kk < len; kk++)
                t = fmaf(W[(size_t)q * ws + kk], x[(size_t)r * xs + kk], t);
            z[r * WIDE_W + q] = t;
        }
}

/* dot_wide_out: dot_wide for a whole block (eight rows of x, three of W) of rows whose
 * length is a multiple of 16 (no tail), its 24 sums stored straight from the two vectors
 * tree16v leaves (example r's three outputs are lanes 3 r .. 3 r + 2 of the 24: one masked
 * store per example and vector) to out + r n_out + q. */
INLINE void dot_wide_out(const float *W, int ws, const float *x, int xs, int len, float *out,
                         int n_out)
{
    __m512 s[32];
    wide_sums(W, ws, x, xs, len, WIDE_X, WIDE_W, s);
    __m512 v[2] = {tree16v(s), tree16v(s + 16)};
    for (int r = 0; r < WIDE_X; r++)
        for (int h = 0; h < 2; h++) { /* lanes 3 r .. 3 r + 2 of 32, those in vector h */
            int lo = 3 * r - 16 * h;
            if (lo + 3 <= 0 || lo >= 16)
                continue;
            unsigned bits = 7u << (lo + 16) >> 16; /* 7 << lo, cut to lanes 0..15 */
            _mm512_mask_storeu_ps(out + (size_t)r * n_out - lo, (__mmask16)bits, v[h]);
        }
}

/* wide_rows: out rows [i, i + ni) (ni <= WIDE_X) for the outputs [j0, j1), by dot_wide. */
static void wide_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                      int i, int ni, int n_out, int j0, int j1)
{
    float z[32];
    for (int j = j0; j < j1; j += WIDE_W) {
        int nj = j1 - j < WIDE_W ? j1 - j : WIDE_W;
        if (ni == WIDE_X && nj == WIDE_W && len % LANES == 0) { /* unrolled: 24 registers */
            dot_wide_out(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len,
                         out + (size_t)i * n_out + j, n_out);
            continue;
        }
        if (ni == WIDE_X && nj == WIDE_W) /* unrolled: 24 registers */
            dot_wide(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, WIDE_X, WIDE_W, z);
        else
            dot_wide(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, nj, z);
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < nj; q++)
                out[(size_t)(i + r) * n_out + j + q] = z[r * WIDE_W + q];
    }
}

/* dot_block_out: dot_block for a whole 4 x 4 block of rows whose length is a multiple of
 * 16 (no tail), its sums stored straight from tree16v's vector (example r's four outputs are
 * lanes 4 r .. 4 r + 3: one masked store each) to out + r n_out + q (rows_partial). */
INLINE void dot_block_out(const float *W, int ws, const float *x, int xs, int len, float *out,
                          int n_out)
{
    __m512 s[16];
    for (int f = 0; f < 16; f++)
        s[f] = _mm512_setzero_ps();
    for (int k = 0; k + LANES <= len; k += LANES) {
        __m512 xv[4];
        for (int r = 0; r < 4; r++)
            xv[r] = _mm512_loadu_ps(x + (size_t)r * xs + k);
        for (int q = 0; q < 4; q++) {
            __m512 wv = _mm512_loadu_ps(W + (size_t)q * ws + k);
            for (int r = 0; r < 4; r++)
                s[4 * r + q] = _mm512_fmadd_ps(wv, xv[r], s[4 * r + q]);
        }
    }
    __m512 v = tree16v(s);
    for (int r = 0; r < 4; r++)
        _mm512_mask_storeu_ps(out + (size_t)r * n_out - 4 * r, (__mmask16)(15u << 4 * r), v);
}
#define ROWS_BLOCK_OUT dot_block_out

/* net_avx512_dot_rows: for 48 outputs or more, W in panels of rows that stay in L2, each
 * through every block of eight examples (dot_wide); narrower layers and the last examples
 * by the shared row driver (net_rows.h). Every output is the same sum whichever block computes it. */
#include "net_rows.h"

void net_avx512_dot_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                         int n, int n_out)
{
    int panel = ROWS_PANEL_BYTES / (4 * (len > 0 ? len : 1)) / WIDE_W * WIDE_W;
    if (panel < WIDE_W)
        panel = WIDE_W;
    int full = n_out >= 48 ? n / WIDE_X * WIDE_X : 0; /* narrow layers: rows_dot's blocks */
    for (int j0 = 0; j0 < n_out && full > 0; j0 += panel) {
        int j1 = n_out - j0 < panel ? n_out : j0 + panel;
        for (int i = 0; i < full; i += WIDE_X)
            wide_rows(W, ws, in, xs, len, out, i, WIDE_X, n_out, j0, j1);
    }
    rows_dot(W, ws, in + (size_t)full * xs, xs, len, out + (size_t)full * n_out, n - full,
             n_out);
}

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

void net_avx512_sigmoid(float *v, size_t n)
{
    for (size_t k = 0; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        _mm512_mask_storeu_ps(v + k, m, sigmoid16(_mm512_maskz_loadu_ps(m, v + k)));
    }
}

/* derivative16: the hidden activation's derivative from its output a, as net_plain's
 * derivative(): sigmoid a (1 - a), tanh fma(-a, a, 1), relu 1 where a > 0, else 0. */
INLINE __m512 derivative16(__m512 a, Activation act)
{
    __m512 one = _mm512_set1_ps(1.0f);
    if (act == ACT_TANH)
        return _mm512_fnmadd_ps(a, a, one);
    if (act == ACT_RELU)
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ), one);
    return _mm512_mul_ps(a, _mm512_sub_ps(one, a));
}

/* hidden_rows: hidden deltas for examples [i, i + ni) (ni <= 8, n_in <= 16): one vector per
 * example, its sums over j in order (the same fused multiply-adds as net_plain_hidden_deltas). */
static void hidden_rows(const float *W, const float *d_out, const float *a, float *d_in, int i,
                        int ni, int n_in, int n_out, Activation act)
{
    __mmask16 m = (__mmask16)((1u << n_in) - 1);
    __m512 acc[8];
    const float *dl = d_out + (size_t)i * n_out;
    for (int r = 0; r < ni; r++)
        acc[r] = _mm512_setzero_ps();
    for (int j = 0; j < n_out; j++) {
        __m512 wv = _mm512_maskz_loadu_ps(m, W + (size_t)j * n_in);
        for (int r = 0; r < ni; r++)
            acc[r] = _mm512_fmadd_ps(wv, _mm512_set1_ps(dl[(size_t)r * n_out + j]), acc[r]);
    }
    for (int r = 0; r < ni; r++) {
        __m512 av = _mm512_maskz_loadu_ps(m, a + (size_t)(i + r) * n_in);
        __m512 g = derivative16(av, act);
        _mm512_mask_storeu_ps(d_in + (size_t)(i + r) * n_in, m, _mm512_mul_ps(acc[r], g));
    }
}

/* hidden_block: hidden deltas of examples [i, i + ni) (ni <= 4) for the inputs [c, c + cols)
 * (nv vectors, m the last one's mask): per entry the sum over j in order, one fused
 * multiply-add per term, then times the activation's derivative (derivative16), as
 * net_plain_hidden_deltas; the ni x nv sums stay in registers and share each load of W. */
INLINE void hidden_block(const float *W, const float *d_out, const float *a, float *d_in, int i,
                         int ni, int n_in, int n_out, int c, int nv, __mmask16 m, Activation act)
{
    __m512 acc[4][4];
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nv; q++)
            acc[r][q] = _mm512_setzero_ps();
    const float *dl = d_out + (size_t)i * n_out;
    for (int j = 0; j < n_out; j++) {
        __m512 wv[4];
        for (int q = 0; q < nv; q++)
            wv[q] = _mm512_maskz_loadu_ps(q == nv - 1 ? m : (__mmask16)0xffff,
                                          W + (size_t)j * n_in + c + LANES * q);
        for (int r = 0; r < ni; r++) {
            __m512 dv = _mm512_set1_ps(dl[(size_t)r * n_out + j]);
            for (int q = 0; q < nv; q++)
                acc[r][q] = _mm512_fmadd_ps(wv[q], dv, acc[r][q]);
        }
    }
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nv; q++) {
            __mmask16 mq = q == nv - 1 ? m : (__mmask16)0xffff;
            size_t at = (size_t)(i + r) * n_in + c + LANES * q;
            __m512 av = _mm512_maskz_loadu_ps(mq, a + at);
            __m512 g = derivative16(av, act);
            _mm512_mask_storeu_ps(d_in + at, mq, _mm512_mul_ps(acc[r][q], g));
        }
}

/* HIDDEN_ROW(r): example r's four accumulators += W's four vectors times its delta of
 * output j (hidden_block6). */
#define HIDDEN_ROW(r)                                                                        \
    do {                                                                                     \
        __m512 dv = _mm512_set1_ps(dl[(size_t)(r) * n_out + j]);                             \
        s##r##0 = _mm512_fmadd_ps(w0, dv, s##r##0);                                          \
        s##r##1 = _mm512_fmadd_ps(w1, dv, s##r##1);                                          \
        s##r##2 = _mm512_fmadd_ps(w2, dv, s##r##2);                                          \
        s##r##3 = _mm512_fmadd_ps(w3, dv, s##r##3);                                          \
    } while (0)

/* HIDDEN_OUT(r): example r's four vectors of deltas (hidden_block6). */
#define HIDDEN_OUT(r)                                                                        \
    do {                                                                                     \
        size_t at = (size_t)(i + (r)) * n_in + c;                                            \
        hidden_store(a, d_in, at, s##r##0, act);                                             \
        hidden_store(a, d_in, at + LANES, s##r##1, act);                                     \
        hidden_store(a, d_in, at + 2 * LANES, s##r##2, act);                                 \
        hidden_store(a, d_in, at + 3 * LANES, s##r##3, act);                                 \
    } while (0)

/* hidden_store: d_in[at..at+16) = s times the activation's derivative at a[at..at+16). */
INLINE void hidden_store(const float *a, float *d_in, size_t at, __m512 s, Activation act)
{
    _mm512_storeu_ps(d_in + at, _mm512_mul_ps(s, derivative16(_mm512_loadu_ps(a + at), act)));
}

/* hidden_block6: hidden_block for six examples [i, i + 6) by 64 inputs [c, c + 64): 24
 * accumulators in named registers (an array of them is kept in memory by gcc), each load
 * of W shared by six examples (hidden_block: four). The same sums in the same order, so the
 * same bits. */
static void hidden_block6(const float *W, const float *d_out, const float *a, float *d_in, int i,
                          int n_in, int n_out, int c, Activation act)
{
    __m512 s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23;
    __m512 s30, s31, s32, s33, s40, s41, s42, s43, s50, s51, s52, s53;
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = _mm512_setzero_ps();
    s30 = s31 = s32 = s33 = s40 = s41 = s42 = s43 = s50 = s51 = s52 = s53 = s00;
    const float *dl = d_out + (size_t)i * n_out;
    for (int j = 0; j < n_out; j++) {
        const float *wj = W + (size_t)j * n_in + c;
        __m512 w0 = _mm512_loadu_ps(wj), w1 = _mm512_loadu_ps(wj + LANES),
               w2 = _mm512_loadu_ps(wj + 2 * LANES), w3 = _mm512_loadu_ps(wj + 3 * LANES);
        HIDDEN_ROW(0);
        HIDDEN_ROW(1);
        HIDDEN_ROW(2);
        HIDDEN_ROW(3);
        HIDDEN_ROW(4);
        HIDDEN_ROW(5);
    }
    HIDDEN_OUT(0);
    HIDDEN_OUT(1);
    HIDDEN_OUT(2);
    HIDDEN_OUT(3);
    HIDDEN_OUT(4);
    HIDDEN_OUT(5);
}

/* hidden_wide: net_avx512_hidden_deltas for n_in > 16, by blocks of 64 inputs: six examples
 * at a time where the block is whole (hidden_block6), the other examples four at a time
 * (hidden_block). */
static void hidden_wide(const float *W, const float *d_out, const float *a, float *d_in, int n,
                        int n_in, int n_out, Activation act)
{
    for (int c = 0; c < n_in; c += BLOCK_COLS) {
        int w = n_in - c < BLOCK_COLS ? n_in - c : BLOCK_COLS, nv = (w + LANES - 1) / LANES;
        __mmask16 m = col_mask(w, nv);
        int i = 0;
        for (; i + 6 <= n && w == BLOCK_COLS; i += 6)
            hidden_block6(W, d_out, a, d_in, i, n_in, n_out, c, act);
        for (; i + 4 <= n && w == BLOCK_COLS; i += 4) /* unrolled: 16 registers */
            hidden_block(W, d_out, a, d_in, i, 4, n_in, n_out, c, 4, (__mmask16)0xffff, act);
        for (; i < n; i += 4)
            hidden_block(W, d_out, a, d_in, i, n - i < 4 ? n - i : 4, n_in, n_out, c, nv, m, act);
    }
}

void net_avx512_hidden_deltas(const float *W, const float *d_out, const float *a, float *d_in,
                              int n, int n_in, int n_out, Activation act)
{
    if (n_in > 16) {
        hidden_wide(W, d_out, a, d_in, n, n_in, n_out, act);
        return;
    }
    for (int i = 0; i < n; i += 8) /* eight examples' sums in flight at once */
        hidden_rows(W, d_out, a, d_in, i, n - i < 8 ? n - i : 8, n_in, n_out, act);
}

/* outer_block: gW rows [j0, j0 + nr) (rows gs apart), columns [c, c + cols) (nv vectors, m the
 * last one's mask) += sum over the n examples of d[i][j] x[i] (rows xs apart), each entry
 * summed in order of i by fused multiply-adds: net_plain_outer_add's bits. */
INLINE void outer_block(float *restrict gW, int gs, const float *d, const float *x, int xs,
                        int n, int n_out, int j0, int nr, int c, int nv, __mmask16 m)
{
    __m512 v[ROWS][4];
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < nv; q++)
            v[r][q] = _mm512_maskz_loadu_ps(q == nv - 1 ? m : (__mmask16)0xffff,
                                            gW + (size_t)(j0 + r) * gs + c + LANES * q);
    for (int i = 0; i < n; i++) {
        __m512 xv[4];
        for (int q = 0; q < nv; q++)
            xv[q] = _mm512_maskz_loadu_ps(q == nv - 1 ? m : (__mmask16)0xffff,
                                          x + (size_t)i * xs + c + LANES * q);
        for (int r = 0; r < nr; r++) {
            __m512 dj = _mm512_set1_ps(d[(size_t)i * n_out + j0 + r]);
            for (int q = 0; q < nv; q++)
                v[r][q] = _mm512_fmadd_ps(dj, xv[q], v[r][q]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < nv; q++)
            _mm512_mask_storeu_ps(gW + (size_t)(j0 + r) * gs + c + LANES * q,
                                  q == nv - 1 ? m : (__mmask16)0xffff, v[r][q]);
}

void net_avx512_outer_add(float *restrict gW, int gs, const float *d, const float *x, int xs,
                          int cols, int n, int n_out)
{
    for (int c = 0; c < cols; c += BLOCK_COLS) { /* the x tile stays in L1 */
        int w = cols - c < BLOCK_COLS ? cols - c : BLOCK_COLS, nv = (w + LANES - 1) / LANES;
        __mmask16 m = col_mask(w, nv);
        int j = 0;
        for (; j + ROWS <= n_out && w == BLOCK_COLS; j += ROWS) /* unrolled: 16 registers */
            outer_block(gW, gs, d, x, xs, n, n_out, j, ROWS, c, 4, (__mmask16)0xffff);
        for (; j < n_out; j += ROWS)
            outer_block(gW, gs, d, x, xs, n, n_out, j, n_out - j < ROWS ? n_out - j : ROWS, c,
                        nv, m);
    }
}
#endif
