/* net_avx2.c: the network's dot products, sigmoid and outer products on AVX2 with FMA, in
 * the reference's arithmetic (src/reference/step_ref.c): a dot product keeps sixteen partial
 * sums in two eight-lane vectors (lanes 0-7 and 8-15), the sigmoid is the reference's Cephes
 * expf operation by operation. Compiled only where isa.h picks it (KERNELS_NET_AVX2). */
#include "kernels/kernels.h"

#if KERNELS_NET_AVX2
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#define LANES 8
#define DOT_LANES 16 /* partial sums of a dot product: two vectors */

/* tree: the sixteen partial sums (lo: 0-7, hi: 8-15) combined as net_plain_dot combines
 * them: s[u] + s[u + 8], then ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)). */
INLINE float tree(__m256 lo, __m256 hi)
{
    __m256 s = _mm256_add_ps(lo, hi);
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_hadd_ps(q, q);
    return _mm_cvtss_f32(_mm_hadd_ps(q, q));
}

/* dot_block: z[r][q] = net_plain_dot(W row q, x row r) over len columns (rows of W `ws`
 * apart, of x `xs` apart) for ni rows of x and nj rows of W, the same bits; the ni x nj
 * accumulators stay in registers. */
INLINE void dot_block(const float *W, int ws, const float *x, int xs, int len, int ni, int nj,
                      float z[4][4])
{
    __m256 lo[4][4], hi[4][4];
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++)
            lo[r][q] = hi[r][q] = _mm256_setzero_ps();
    int k = 0;
    for (; k + DOT_LANES <= len; k += DOT_LANES) {
        __m256 xl[4], xh[4];
        for (int r = 0; r < ni; r++) {
            xl[r] = _mm256_loadu_ps(x + (size_t)r * xs + k);
            xh[r] = _mm256_loadu_ps(x + (size_t)r * xs + k + LANES);
        }
        for (int q = 0; q < nj; q++) {
            __m256 wl = _mm256_loadu_ps(W + (size_t)q * ws + k);
            __m256 wh = _mm256_loadu_ps(W + (size_t)q * ws + k + LANES);
            for (int r = 0; r < ni; r++) {
                lo[r][q] = _mm256_fmadd_ps(wl, xl[r], lo[r][q]);
                hi[r][q] = _mm256_fmadd_ps(wh, xh[r], hi[r][q]);
            }
        }
    }
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++) {
            float t = tree(lo[r][q], hi[r][q]);
            for (int kk = k; kk < len; kk++)
                t = fmaf(W[(size_t)q * ws + kk], x[(size_t)r * xs + kk], t);
            z[r][q] = t;
        }
}

/* net_avx2_dot_rows: the shared row driver (net_rows.h) on this file's dot_block. */
#include "net_rows.h"

void net_avx2_dot_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                       int n, int n_out)
{
    rows_dot(W, ws, in, xs, len, out, n, n_out);
}

/* pow2: 2^m for the integers m in [-126, 127] (exponent bits only). */
INLINE __m256 pow2(__m256i m)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(m, _mm256_set1_epi32(127)), 23));
}

/* sigmoid8: 1 / (1 + e^-z) on 8 lanes, the reference's sigmoid operation by operation: e^x
 * as Cephes' expf (x clamped to [-88, 88], x = m ln2 + r, a degree-7 polynomial y in r), then
 * y 2^m rounded once as ldexpf (AVX-512's scalef) rounds it, subnormal results included: m
 * is split into h = floor(m / 2) and m - h, y 2^h is exact (a normal float), and only the
 * second multiplication rounds. NaN stays NaN. */
INLINE __m256 sigmoid8(__m256 z)
{
    __m256 x = _mm256_sub_ps(_mm256_setzero_ps(), z);
    x = _mm256_max_ps(_mm256_set1_ps(-88.0f), _mm256_min_ps(_mm256_set1_ps(88.0f), x));
    __m256 m = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(m, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(m, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i mi = _mm256_cvtps_epi32(m); /* |m| <= 127 (NaN: y is NaN, whatever the scale) */
    __m256i h = _mm256_srai_epi32(mi, 1);
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(y, pow2(h)), pow2(_mm256_sub_epi32(mi, h)));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void net_avx2_sigmoid(float *v, size_t n)
{
    size_t k = 0;
    for (; k + LANES <= n; k += LANES)
        _mm256_storeu_ps(v + k, sigmoid8(_mm256_loadu_ps(v + k)));
    if (k < n) { /* the tail through a whole vector */
        float t[LANES] = {0};
        memcpy(t, v + k, sizeof(float) * (n - k));
        _mm256_storeu_ps(t, sigmoid8(_mm256_loadu_ps(t)));
        memcpy(v + k, t, sizeof(float) * (n - k));
    }
}

/* outer_tile: gW columns [c, c + nv LANES) of row j (rows gs apart) += sum over the examples
 * of d[i][j] x[i] (rows xs apart; each entry summed in order of i). */
INLINE void outer_tile(float *restrict gW, int gs, const float *d, const float *x, int xs, int n,
                       int n_out, int j, int c, int nv)
{
    float *row = gW + (size_t)j * gs + c;
    __m256 v[8];
    for (int q = 0; q < nv; q++)
        v[q] = _mm256_loadu_ps(row + LANES * q);
    for (int i = 0; i < n; i++) {
        __m256 dj = _mm256_set1_ps(d[(size_t)i * n_out + j]);
        for (int q = 0; q < nv; q++)
            v[q] = _mm256_fmadd_ps(dj, _mm256_loadu_ps(x + (size_t)i * xs + c + LANES * q), v[q]);
    }
    for (int q = 0; q < nv; q++)
        _mm256_storeu_ps(row + LANES * q, v[q]);
}

void net_avx2_outer_add(float *restrict gW, int gs, const float *d, const float *x, int xs,
                        int cols, int n, int n_out)
{
    int c = 0;
    for (; c + 4 * LANES <= cols; c += 4 * LANES) /* the x tile stays in L1 */
        for (int j = 0; j < n_out; j++)
            outer_tile(gW, gs, d, x, xs, n, n_out, j, c, 4);
    for (; c + LANES <= cols; c += LANES)
        for (int j = 0; j < n_out; j++)
            outer_tile(gW, gs, d, x, xs, n, n_out, j, c, 1);
    net_plain_outer_add(gW + c, gs, d, x + c, xs, cols - c, n, n_out);
}
#endif
