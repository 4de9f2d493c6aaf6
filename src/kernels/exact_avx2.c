/* exact_avx2.c: exact_outer on AVX2 with FMA: each group's float sum, eight columns at a
 * time (the scale, a power of two, folded into the delta: the same bits), rounded by the
 * CPU's round-to-nearest-even conversion and added in int32 windows widened to int64
 * before they can overflow. Sums beyond the windows' bound go through double or to
 * exact_plain_outer_rows, and so do the columns that do not fill a vector. Compiled only
 * where isa.h picks it (KERNELS_EXACT_AVX2). */
#include "kernels/kernels.h"

#if KERNELS_EXACT_AVX2
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))
/* Largest bound on a window of int32 partial sums: the float sums of a window of groups
 * total at most WINDOW_LIMIT * (1 + 2^-24)^group + 0.5 per group < 2^31 (groups < 2^24). */
#define WINDOW_LIMIT 536870912.0 /* 2^29 */

float exact_avx2_row_max(const float *x, int n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        m = _mm256_max_ps(m, _mm256_and_ps(v, abs_mask));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    float lanes[8], top = 0;
    _mm256_storeu_ps(lanes, m);
    int bad = _mm256_movemask_ps(nan) != 0;
    for (int q = 0; q < 8; q++)
        top = lanes[q] > top ? lanes[q] : top;
    for (; k < n; k++) {
        top = fabsf(x[k]) > top ? fabsf(x[k]) : top;
        bad |= x[k] != x[k];
    }
    return bad ? INFINITY : top;
}

/* outer_bounds: bound[j * groups + g] >= |scaled float sum| of every column of group g, row j
 * (sum over the group of |d| * max|x| * scale); NaN or huge when the int32 path cannot hold. */
static void outer_bounds(const float *d, const float *x, const int *start, int groups, int n_out,
                         int n_in, double scale, double *bound)
{
    for (int g = 0; g < groups; g++) {
        for (int j = 0; j < n_out; j++)
            bound[(size_t)j * groups + g] = 0;
        for (int i = start[g]; i < start[g + 1]; i++) {
            double xm = (double)exact_avx2_row_max(x + (size_t)i * n_in, n_in) * scale;
            for (int j = 0; j < n_out; j++)
                bound[(size_t)j * groups + g] = fma(fabs((double)d[(size_t)i * n_out + j]), xm,
                                                    bound[(size_t)j * groups + g]);
        }
    }
}

/* flush_window: widens nv vectors of int32 window sums into acc (8 * nv int64) and clears them. */
INLINE void flush_window(int64_t *restrict acc, __m256i *s, int nv)
{
    for (int q = 0; q < nv; q++) {
        __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s[q]));
        __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s[q], 1));
        __m256i *a = (__m256i *)(acc + 8 * q);
        _mm256_storeu_si256(a, _mm256_add_epi64(_mm256_loadu_si256(a), lo));
        _mm256_storeu_si256(a + 1, _mm256_add_epi64(_mm256_loadu_si256(a + 1), hi));
        s[q] = _mm256_setzero_si256();
    }
}

/* outer_tile: columns [c, c + 8 nv) of row j for every group whose bound fits: the group's
 * float sum (scale folded into d: a power of two, so the same bits), rounded by the CPU's
 * round-to-nearest-even conversion and added in int32 windows widened before they can
 * overflow. Groups beyond the limit are left to the callers' slower paths. */
INLINE void outer_tile(int64_t *restrict acc, const float *d, const float *x, const int *start,
                       int groups, int n_out, int n_in, const double *bound, int j, int c,
                       int nv, double lim)
{
    __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
    double window = 0;
    for (int g = 0; g < groups; g++) {
        double b = bound[(size_t)j * groups + g];
        if (!(b <= lim))
            continue;
        if (window + b > lim) {
            flush_window(acc + (size_t)j * n_in + c, s, nv);
            window = 0;
        }
        window += b;
        __m256 v[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
        for (int i = start[g]; i < start[g + 1]; i++) {
            __m256 ds = _mm256_set1_ps(d[(size_t)i * n_out + j] * 0x1p32f);
            const float *xi = x + (size_t)i * n_in + c;
            for (int q = 0; q < nv; q++)
                v[q] = _mm256_fmadd_ps(ds, _mm256_loadu_ps(xi + 8 * q), v[q]);
        }
        for (int q = 0; q < nv; q++)
            s[q] = _mm256_add_epi32(s[q], _mm256_cvtps_epi32(v[q]));
    }
    flush_window(acc + (size_t)j * n_in + c, s, nv);
}

/* outer_wide: columns [0, c1) (whole vectors) of row j for one group whose bound is within
 * the limit but too large for int32 windows: float sum, then rounded through double. */
static void outer_wide(int64_t *restrict acc, const float *d, const float *x, int i0, int i1,
                       int j, int n_out, int n_in, int c1)
{
    const __m256d magic = _mm256_set1_pd(KERNELS_MAGIC);
    const __m256i magic_bits = _mm256_set1_epi64x(KERNELS_MAGIC_BITS);
    int64_t *row = acc + (size_t)j * n_in;
    for (int c = 0; c < c1; c += 8) {
        __m256 v = _mm256_setzero_ps();
        for (int i = i0; i < i1; i++)
            v = _mm256_fmadd_ps(_mm256_set1_ps(d[(size_t)i * n_out + j] * 0x1p32f),
                                _mm256_loadu_ps(x + (size_t)i * n_in + c), v);
        __m256d lo = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), magic);
        __m256d hi = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), magic);
        __m256i *a = (__m256i *)(row + c);
        __m256i rl = _mm256_sub_epi64(_mm256_castpd_si256(lo), magic_bits);
        __m256i rh = _mm256_sub_epi64(_mm256_castpd_si256(hi), magic_bits);
        _mm256_storeu_si256(a, _mm256_add_epi64(_mm256_loadu_si256(a), rl));
        _mm256_storeu_si256(a + 1, _mm256_add_epi64(_mm256_loadu_si256(a + 1), rh));
    }
}

/* outer_fast: the columns that fill whole vectors; returns the first column left over. */
static int outer_fast(int64_t *restrict acc, const float *d, const float *x, const int *start,
                      int groups, int n_out, int n_in, const double *bound, double lim)
{
    int c = 0;
    for (; c + 32 <= n_in; c += 32)
        for (int j = 0; j < n_out; j++)
            outer_tile(acc, d, x, start, groups, n_out, n_in, bound, j, c, 4, lim);
    for (; c + 8 <= n_in; c += 8)
        for (int j = 0; j < n_out; j++)
            outer_tile(acc, d, x, start, groups, n_out, n_in, bound, j, c, 1, lim);
    return c;
}

size_t exact_avx2_outer(int64_t *restrict acc, const float *d, const float *x, const int *start,
                        int groups, int n_out, int n_in, const Fixed *f, double *bound)
{
    size_t bad = 0;
    double lim = f->limit < WINDOW_LIMIT ? f->limit : WINDOW_LIMIT;
    outer_bounds(d, x, start, groups, n_out, n_in, f->scale, bound);
    int c = outer_fast(acc, d, x, start, groups, n_out, n_in, bound, lim);
    for (int g = 0; g < groups; g++) /* the sums the int32 windows cannot hold */
        for (int j = 0; j < n_out; j++) {
            double b = bound[(size_t)j * groups + g];
            if (b <= lim)
                continue;
            if (b <= f->limit / 4) /* cannot be bad: |sum| <= b (1 + 2^-24)^group < limit */
                outer_wide(acc, d, x, start[g], start[g + 1], j, n_out, n_in, c);
            else
                bad += exact_plain_outer_rows(acc, d, x, start[g], start[g + 1], j, n_out, n_in,
                                              0, c, f);
        }
    for (int g = 0; g < groups && c < n_in; g++) /* the columns that do not fill a vector */
        for (int j = 0; j < n_out; j++)
            bad += exact_plain_outer_rows(acc, d, x, start[g], start[g + 1], j, n_out, n_in, c,
                                          n_in, f);
    return bad;
}
#endif
