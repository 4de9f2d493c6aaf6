/* exact_avx512.c: exact_outer on AVX-512 when every group is one example: the group's float
 * sum is the single product fl(d x), the same bits as the AVX2 kernel's; each is rounded by
 * the CPU's nearest-even conversion to int64 and added in registers. Groups of several
 * examples go to exact_avx2_outer. Compiled only where isa.h picks it (KERNELS_EXACT_AVX512). */
#include "kernels/kernels.h"

#if KERNELS_EXACT_AVX512
#include <immintrin.h>
#include <math.h>

/* single_ok: the product of delta dj (times 2^32 within float) and a row whose largest |x| is
 * xm (times 2^32) stays within the limit even after its float rounding (the exact product is
 * at most half the limit, its rounding at most 2^-24 more), so it takes the fast path; the
 * rest goes to the checking path, which gives the same bits for the products it accepts. */
static inline int single_ok(float dj, double xm, const Fixed *f)
{
    return fabs((double)dj) * xm <= f->limit * 0.5 && fabsf(dj) <= 0x1p64f;
}

/* single_cols: acc row j, columns [c, c + 16) (m of them), += round(fl(d[i][j] 2^32 x[i][k]))
 * over the n examples whose row passes single_ok; the sums stay in registers. */
static void single_cols(int64_t *restrict acc, const float *d, const float *x, const double *xm,
                        int n, int n_out, int n_in, int j, int c, const Fixed *f)
{
    __mmask16 m = n_in - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n_in - c)) - 1);
    __mmask8 m0 = (__mmask8)(m & 0xff), m1 = (__mmask8)(m >> 8);
    int64_t *row = acc + (size_t)j * n_in + c;
    __m512i lo = _mm512_maskz_loadu_epi64(m0, row), hi = _mm512_maskz_loadu_epi64(m1, row + 8);
    for (int i = 0; i < n; i++) {
        float dj = d[(size_t)i * n_out + j];
        if (!single_ok(dj, xm[i], f))
            continue;
        __m512 y = _mm512_mul_ps(_mm512_set1_ps(dj * 0x1p32f),
                                 _mm512_maskz_loadu_ps(m, x + (size_t)i * n_in + c));
        lo = _mm512_add_epi64(lo, _mm512_cvtps_epi64(_mm512_castps512_ps256(y)));
        hi = _mm512_add_epi64(hi, _mm512_cvtps_epi64(_mm256_castpd_ps(
                                      _mm512_extractf64x4_pd(_mm512_castps_pd(y), 1))));
    }
    _mm512_mask_storeu_epi64(row, m0, lo);
    _mm512_mask_storeu_epi64(row + 8, m1, hi);
}

/* outer_single: exact_outer for n groups of one example each (d (n, n_out), x (n, n_in)),
 * examples after examples in blocks of 64. Rows whose bound passes the limit (or whose delta
 * times 2^32 would overflow float) go through exact_plain_outer_rows. */
static size_t outer_single(int64_t *restrict acc, const float *d, const float *x, int n,
                           int n_out, int n_in, const Fixed *f)
{
    enum { BLOCK = 64 };
    double xm[BLOCK];
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += BLOCK) {
        int nb = n - i0 < BLOCK ? n - i0 : BLOCK;
        const float *db = d + (size_t)i0 * n_out, *xb = x + (size_t)i0 * n_in;
        for (int i = 0; i < nb; i++)
            xm[i] = (double)exact_avx2_row_max(xb + (size_t)i * n_in, n_in) * f->scale;
        for (int c = 0; c < n_in; c += 16)
            for (int j = 0; j < n_out; j++)
                single_cols(acc, db, xb, xm, nb, n_out, n_in, j, c, f);
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < n_out; j++)
                if (!single_ok(db[(size_t)i * n_out + j], xm[i], f))
                    bad += exact_plain_outer_rows(acc, db, xb, i, i + 1, j, n_out, n_in, 0, n_in,
                                                  f);
    }
    return bad;
}

size_t exact_avx512_outer(int64_t *restrict acc, const float *d, const float *x,
                          const int *start, int groups, int n_out, int n_in, const Fixed *f,
                          double *bound)
{
    if (exact_singles(start, groups)) /* groups of one example */
        return outer_single(acc, d + (size_t)start[0] * n_out, x + (size_t)start[0] * n_in,
                            groups, n_out, n_in, f);
    return exact_avx2_outer(acc, d, x, start, groups, n_out, n_in, f, bound);
}
#endif
