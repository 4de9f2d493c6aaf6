/* net_avx2.c: the network's dot products and outer products on AVX2 with FMA: eight float
 * lanes, each lane one of net_plain_dot's eight partial sums, so every value has the plain
 * kernel's bits. Compiled only where isa.h picks it (KERNELS_NET_AVX2). */
#include "kernels/kernels.h"

#if KERNELS_NET_AVX2
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#define LANES 8

/* tree: the partial sums of a vector combined as net_plain_dot combines them. */
INLINE float tree(__m256 s)
{
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
    __m256 s[4][4];
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++)
            s[r][q] = _mm256_setzero_ps();
    int k = 0;
    for (; k + LANES <= len; k += LANES) {
        __m256 xv[4];
        for (int r = 0; r < ni; r++)
            xv[r] = _mm256_loadu_ps(x + (size_t)r * xs + k);
        for (int q = 0; q < nj; q++) {
            __m256 wv = _mm256_loadu_ps(W + (size_t)q * ws + k);
            for (int r = 0; r < ni; r++)
                s[r][q] = _mm256_fmadd_ps(wv, xv[r], s[r][q]);
        }
    }
    for (int r = 0; r < ni; r++)
        for (int q = 0; q < nj; q++) {
            float t = tree(s[r][q]);
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

void net_avx2_dot_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                       int n, int n_out)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) /* four examples share each load of W */
        rows_partial(W, ws, in, xs, len, out, i, 4, n_out);
    net_plain_dot_rows(W, ws, in + (size_t)i * xs, xs, len, out + (size_t)i * n_out, n - i,
                       n_out);
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
