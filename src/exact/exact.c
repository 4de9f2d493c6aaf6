/* exact.c: fixed-point rounding with the 1.5 * 2^52 trick: adding it to a double with
 * |y| < 2^51 leaves round-to-nearest(y) in the low mantissa bits (vectorises on AVX2). */
#include "exact/exact.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && !defined(DOWNHILL_DOUBLE)
#include <immintrin.h>
#define EXACT_AVX2 1
#define INLINE static inline __attribute__((always_inline))
/* Largest bound on a window of int32 partial sums: the float sums of a window of groups
 * total at most WINDOW_LIMIT * (1 + 2^-24)^group + 0.5 per group < 2^31 (groups < 2^24). */
#define WINDOW_LIMIT 536870912.0 /* 2^29 */
#endif

#define MAGIC 6755399441055744.0      /* 1.5 * 2^52 */
#define MAGIC_BITS 0x4338000000000000LL /* its bit pattern */

int exact_singles(const int *start, int groups)
{
    for (int g = 0; g < groups; g++)
        if (start[g + 1] - start[g] != 1)
            return 0;
    return 1;
}

Fixed exact_fixed(int64_t terms)
{
    Fixed f;
    f.scale = ldexp(1.0, EXACT_SCALE_BITS);
    f.inv_scale = 1.0 / f.scale;
    double per_term = ldexp(1.0, 62) / (double)(terms > 0 ? terms : 1);
    f.limit = per_term < ldexp(1.0, 51) ? per_term : ldexp(1.0, 51);
    return f;
}

static inline int64_t round_scaled(double y)
{
    double t = y + MAGIC;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits - MAGIC_BITS;
}

size_t exact_add_rows(int64_t *restrict acc, const Real *x, int rows, int cols, const Fixed *f)
{
    const double s = f->scale, lim = f->limit;
    size_t bad = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) { /* vectorised over j */
            double y = (double)x[(size_t)i * cols + j] * s;
            int ok = fabs(y) <= lim;
            bad += !ok;
            acc[j] += ok ? round_scaled(y) : 0;
        }
    return bad;
}

/* outer_slow: columns [c0, c1) of row j for the rows [i0, i1): float sum, then rounded
 * through double with the limit checked (the reference arithmetic). */
static size_t outer_slow(int64_t *restrict acc, const Real *d, const Real *x, int i0, int i1,
                         int j, int n_out, int n_in, int c0, int c1, const Fixed *f)
{
    size_t bad = 0;
    for (int k = c0; k < c1; k++) {
        Real s = 0;
        for (int i = i0; i < i1; i++)
            s += d[(size_t)i * n_out + j] * x[(size_t)i * n_in + k];
        double y = (double)s * f->scale;
        bad += !(fabs(y) <= f->limit);
        acc[(size_t)j * n_in + k] += round_scaled(y);
    }
    return bad;
}

#ifdef EXACT_AVX2
/* row_max: max |x[k]|, or infinity when a value is NaN. */
static float row_max(const float *x, int n)
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
            double xm = (double)row_max(x + (size_t)i * n_in, n_in) * scale;
            for (int j = 0; j < n_out; j++)
                bound[(size_t)j * groups + g] += fabs((double)d[(size_t)i * n_out + j]) * xm;
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
 * overflow. Groups beyond the limit are left to outer_slow. */
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
    const __m256d magic = _mm256_set1_pd(MAGIC);
    const __m256i magic_bits = _mm256_set1_epi64x(MAGIC_BITS);
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
#endif

#if defined(EXACT_AVX2) && defined(__AVX512F__) && defined(__AVX512DQ__)
#define EXACT_AVX512 1
/* single_ok: the product of delta dj (times 2^32 within float) and a row whose largest |x| is
 * xm (times 2^32) stays within the limit, so it takes the fast path. */
static inline int single_ok(float dj, double xm, const Fixed *f)
{
    return fabs((double)dj) * xm <= f->limit && fabsf(dj) <= 0x1p64f;
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

/* outer_single: exact_outer when every group is one example: the group's float sum is the
 * single product fl(d x), the same bits as outer_tile; each sum is rounded by the CPU's
 * nearest-even conversion and added in registers, examples after examples. Rows whose
 * bound passes the limit (or whose delta times 2^32 would overflow float) go through
 * outer_slow. */
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
            xm[i] = (double)row_max(xb + (size_t)i * n_in, n_in) * f->scale;
        for (int c = 0; c < n_in; c += 16)
            for (int j = 0; j < n_out; j++)
                single_cols(acc, db, xb, xm, nb, n_out, n_in, j, c, f);
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < n_out; j++)
                if (!single_ok(db[(size_t)i * n_out + j], xm[i], f))
                    bad += outer_slow(acc, db, xb, i, i + 1, j, n_out, n_in, 0, n_in, f);
    }
    return bad;
}
#endif

size_t exact_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                   int groups, int n_out, int n_in, const Fixed *f, double *bound)
{
    size_t bad = 0;
    int c = 0;
#ifdef EXACT_AVX512
    if (exact_singles(start, groups)) /* groups of one example */
        return outer_single(acc, d + (size_t)start[0] * n_out, x + (size_t)start[0] * n_in,
                            groups, n_out, n_in, f);
#endif
#ifdef EXACT_AVX2
    double lim = f->limit < WINDOW_LIMIT ? f->limit : WINDOW_LIMIT;
    outer_bounds(d, x, start, groups, n_out, n_in, f->scale, bound);
    c = outer_fast(acc, d, x, start, groups, n_out, n_in, bound, lim);
    for (int g = 0; g < groups; g++) /* the sums the int32 windows cannot hold */
        for (int j = 0; j < n_out; j++) {
            double b = bound[(size_t)j * groups + g];
            if (b <= lim)
                continue;
            if (b <= f->limit / 4) /* cannot be bad: |sum| <= b (1 + 2^-24)^group < limit */
                outer_wide(acc, d, x, start[g], start[g + 1], j, n_out, n_in, c);
            else
                bad += outer_slow(acc, d, x, start[g], start[g + 1], j, n_out, n_in, 0, c, f);
        }
#else
    (void)bound;
#endif
    for (int g = 0; g < groups && c < n_in; g++)
        for (int j = 0; j < n_out; j++)
            bad += outer_slow(acc, d, x, start[g], start[g + 1], j, n_out, n_in, c, n_in, f);
    return bad;
}

int64_t exact_round(double x, const Fixed *f, int64_t *bad)
{
    double y = x * f->scale;
    if (!(fabs(y) <= f->limit)) {
        ++*bad;
        return 0;
    }
    return round_scaled(y);
}

double exact_value(int64_t v, const Fixed *f)
{
    return (double)v * f->inv_scale;
}

void exact_descend(Real *restrict theta, int64_t *restrict sum, size_t n, double step,
                   const Fixed *f)
{
    /* Blocks of 64 (vectorised), each claiming the sums' cache lines two blocks ahead for
     * writing (never past n: the next lines may be another thread's): after an allreduce
     * the other rank holds copies of them, and stores alone wait for each line in turn
     * (12.7 -> 5 us per step at 2 ranks, batch 64). */
    const double inv = f->inv_scale;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (size_t q = i + 128; q < i + 192 && q < n; q += 8) /* only sums of this call */
            __builtin_prefetch(sum + q, 1, 3);
        Real *restrict th = theta + i;
        int64_t *restrict su = sum + i;
        for (size_t q = 0; q < 64; q++) {
            th[q] = (Real)((double)th[q] - step * ((double)su[q] * inv));
            su[q] = 0;
        }
    }
    for (; i < n; i++) {
        theta[i] = (Real)((double)theta[i] - step * ((double)sum[i] * inv));
        sum[i] = 0;
    }
}
