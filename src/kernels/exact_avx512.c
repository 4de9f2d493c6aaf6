/* exact_avx512.c: exact_outer on AVX-512 when every group is one example (the default): the
 * group's float sum is the single product fl(d x), the same bits as the plain kernel's; each
 * is rounded by the CPU's nearest-even conversion and added in int32 registers, four rows by
 * 64 columns at a time. Groups of several examples go to exact_avx2_outer. Compiled only
 * where isa.h picks it (KERNELS_EXACT_AVX512). */
#include "kernels/kernels.h"

#if KERNELS_EXACT_AVX512
#include <immintrin.h>
#include <float.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#define SINGLE_BLOCK 64 /* examples per plan */

/* ---- Narrow layers: one row of 16 columns at a time, int64 sums ---- */

/* single_ok: the product of delta dj (times 2^32 within float) and a row whose largest |x| is
 * xm (times 2^32) stays within the limit even after its float rounding (the exact product is
 * at most half the limit, its rounding at most 2^-24 more), so it takes the fast path; the
 * rest goes to the checking path, which gives the same bits for the products it accepts. */
static inline int single_ok(float dj, double xm, const Fixed *f)
{
    return fabs((double)dj) * xm <= f->limit * 0.5 && fabsf(dj) <= 0x1p64f;
}

/* narrow_cols: acc row j, columns [c, c + 16) (m of them), += round(fl(d[i][j] 2^32 x[i][k]))
 * over the n examples whose row passes single_ok; the sums stay in registers. */
static void narrow_cols(int64_t *restrict acc, const float *d, const float *x, const double *xm,
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

/* outer_narrow: exact_outer for n groups of one example each (d (n, n_out), x (n, n_in)) on
 * layers narrower than SINGLE_COLS inputs (the reference network's), examples after examples
 * in blocks of 64, each product rounded to int64 in registers. Rows whose bound passes the limit (or whose delta
 * times 2^32 would overflow float) go through exact_plain_outer_rows. */
static size_t outer_narrow(int64_t *restrict acc, const float *d, const float *x, int n,
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
                narrow_cols(acc, db, xb, xm, nb, n_out, n_in, j, c, f);
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < n_out; j++)
                if (!single_ok(db[(size_t)i * n_out + j], xm[i], f))
                    bad += exact_plain_outer_rows(acc, db, xb, i, i + 1, j, n_out, n_in, 0, n_in,
                                                  f);
    }
    return bad;
}


/* ---- Wide layers: register blocks, int32 windows ---- */

/* Groups of one example (the default, train.exact_group = 1). Each sum is one product
 * p = fl(d x), rounded once: round(p 2^32) = round(fl(d' x)) with d' = d 2^32 (a power of two:
 * the same bits, subnormal products round to 0 either way). The kernel takes four rows of d
 * and 64 columns at once (16 registers of int32 sums): per example four loads of x and, per
 * row, four products, round-to-nearest-even conversions to int32 and additions. The int32
 * sums are widened into acc at the ends of windows of examples chosen so that no window's
 * total can pass 2^31. A product whose bound passes the window limit (or the fixed-point
 * limit, or is not finite) takes a zero delta here and goes through exact_plain_outer_rows. */

/* Largest bound on one window's int32 total (each term at most |d'| max|x| (1 + 2^-22) + 1). */
#define SINGLE_WINDOW 1073741824.0 /* 2^30 */
#define SINGLE_ROWS 4              /* rows of d per register block */
#define SINGLE_COLS 64             /* columns per register block: four vectors */

/* single_bound: a bound on |round(fl(d' x))| for |d'| = dj and every |x| <= xm (NaN if
 * either is NaN). */
static inline double single_bound(double dj, double xm)
{
    return dj * xm * (1 + 0x1p-22) + 1;
}

/* single_fast: the product of delta dj and a row whose largest |x| is xm takes the vector
 * path (its bound within lim, finite), else exact_plain_outer_rows. */
static inline int single_fast(float dj, double xm, double lim)
{
    return single_bound(fabs((double)dj) * 0x1p32, xm) <= lim && fabsf(dj) <= 0x1p64f;
}

/* single_plan: for the n examples (n <= SINGLE_BLOCK), dz[i][j] = d[i][j] 2^32 where the
 * product takes the vector path (single_fast), else 0; flush[jb n + i]: bit 0, the window of
 * row block jb ends before example i (its total stays within SINGLE_WINDOW); bit 1, example
 * i's row of x is not finite (no vector path). */
static void single_plan(const float *d, const double *xm, int n, int n_out, double lim,
                        float *dz, uint8_t *flush)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++) {
            float dj = d[(size_t)i * n_out + j];
            dz[(size_t)i * n_out + j] = single_fast(dj, xm[i], lim) ? dj * 0x1p32f : 0.0f;
        }
    for (int j0 = 0, jb = 0; j0 < n_out; j0 += SINGLE_ROWS, jb++) {
        int nr = n_out - j0 < SINGLE_ROWS ? n_out - j0 : SINGLE_ROWS;
        double sum[SINGLE_ROWS] = {0};
        for (int i = 0; i < n; i++) {
            uint8_t *fl = flush + (size_t)jb * n + i;
            if (!(xm[i] <= FLT_MAX)) {
                *fl = 2;
                continue;
            }
            double b[SINGLE_ROWS];
            int over = 0;
            for (int r = 0; r < nr; r++) {
                b[r] = single_bound(fabs((double)dz[(size_t)i * n_out + j0 + r]), xm[i]);
                over |= sum[r] + b[r] > SINGLE_WINDOW;
            }
            *fl = (uint8_t)over;
            for (int r = 0; r < nr; r++)
                sum[r] = over ? b[r] : sum[r] + b[r];
        }
    }
}

/* single_flush: widens the int32 sums s (nr rows, nv vectors) into acc (rows n_in apart, from
 * column c; m: the last vector's columns) and clears them. */
INLINE void single_flush(int64_t *restrict acc, int n_in, int c, __m512i s[SINGLE_ROWS][4],
                         int nr, int nv, __mmask16 m)
{
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < nv; q++) {
            __mmask16 mq = q == nv - 1 ? m : (__mmask16)0xffff;
            __mmask8 m0 = (__mmask8)(mq & 0xff), m1 = (__mmask8)(mq >> 8);
            int64_t *at = acc + (size_t)r * n_in + c + 16 * q;
            __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s[r][q]));
            __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s[r][q], 1));
            _mm512_mask_storeu_epi64(at, m0, _mm512_add_epi64(_mm512_maskz_loadu_epi64(m0, at), lo));
            _mm512_mask_storeu_epi64(at + 8, m1,
                                     _mm512_add_epi64(_mm512_maskz_loadu_epi64(m1, at + 8), hi));
            s[r][q] = _mm512_setzero_si512();
        }
}

/* single_block: acc rows [j0, j0 + nr), columns [c, c + 16 nv) (m: the last vector's
 * columns) += round(dz[i][j] x[i][k]) over the n examples, in int32 windows (flush: the
 * plan's row block). */
INLINE void single_block(int64_t *restrict acc, const float *dz, const float *x,
                         const uint8_t *flush, int n, int n_out, int n_in, int j0, int nr, int c,
                         int nv, __mmask16 m)
{
    __m512i s[SINGLE_ROWS][4];
    for (int r = 0; r < SINGLE_ROWS; r++)
        for (int q = 0; q < 4; q++)
            s[r][q] = _mm512_setzero_si512();
    int64_t *rows = acc + (size_t)j0 * n_in;
    for (int i = 0; i < n; i++) {
        if (flush[i] & 1)
            single_flush(rows, n_in, c, s, nr, nv, m);
        if (flush[i] & 2) /* a row of x that is not finite: the plain path's */
            continue;
        __m512 xv[4];
        const float *xi = x + (size_t)i * n_in + c;
        for (int q = 0; q < nv; q++)
            xv[q] = _mm512_maskz_loadu_ps(q == nv - 1 ? m : (__mmask16)0xffff, xi + 16 * q);
        const float *di = dz + (size_t)i * n_out + j0;
        for (int r = 0; r < nr; r++) {
            __m512 dv = _mm512_set1_ps(di[r]);
            for (int q = 0; q < nv; q++)
                s[r][q] = _mm512_add_epi32(s[r][q], _mm512_cvtps_epi32(_mm512_mul_ps(dv, xv[q])));
        }
    }
    single_flush(rows, n_in, c, s, nr, nv, m);
}

/* single_cols: single_block over every row block for the columns [c, c + cols), cols <= 64. */
static void single_cols(int64_t *restrict acc, const float *dz, const float *x,
                        const uint8_t *flush, int n, int n_out, int n_in, int c, int cols)
{
    int nv = (cols + 15) / 16, rest = cols - 16 * (nv - 1);
    __mmask16 m = rest == 16 ? (__mmask16)0xffff : (__mmask16)((1u << rest) - 1);
    int j0 = 0, jb = 0;
    for (; j0 + SINGLE_ROWS <= n_out && nv == 4 && rest == 16; j0 += SINGLE_ROWS, jb++)
        single_block(acc, dz, x, flush + (size_t)jb * n, n, n_out, n_in, j0, SINGLE_ROWS, c, 4,
                     (__mmask16)0xffff); /* the whole register block, unrolled */
    for (; j0 < n_out; j0 += SINGLE_ROWS, jb++)
        single_block(acc, dz, x, flush + (size_t)jb * n, n, n_out, n_in, j0,
                     n_out - j0 < SINGLE_ROWS ? n_out - j0 : SINGLE_ROWS, c, nv, m);
}

/* outer_single: exact_outer for n groups of one example each (d (n, n_out), x (n, n_in)),
 * in blocks of SINGLE_BLOCK examples; scratch: at least 5 SINGLE_BLOCK n_out bytes (or
 * 5 n n_out for fewer examples), 4-byte aligned. */
static size_t outer_single(int64_t *restrict acc, const float *d, const float *x, int n,
                           int n_out, int n_in, const Fixed *f, void *scratch)
{
    double xm[SINGLE_BLOCK], lim = f->limit < SINGLE_WINDOW ? f->limit : SINGLE_WINDOW;
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += SINGLE_BLOCK) {
        int nb = n - i0 < SINGLE_BLOCK ? n - i0 : SINGLE_BLOCK;
        const float *db = d + (size_t)i0 * n_out, *xb = x + (size_t)i0 * n_in;
        float *dz = scratch;
        uint8_t *flush = (uint8_t *)(dz + (size_t)nb * n_out);
        for (int i = 0; i < nb; i++)
            xm[i] = (double)exact_avx2_row_max(xb + (size_t)i * n_in, n_in);
        single_plan(db, xm, nb, n_out, lim, dz, flush);
        for (int c = 0; c < n_in; c += SINGLE_COLS)
            single_cols(acc, dz, xb, flush, nb, n_out, n_in, c,
                        n_in - c < SINGLE_COLS ? n_in - c : SINGLE_COLS);
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < n_out; j++)
                if (!single_fast(db[(size_t)i * n_out + j], xm[i], lim))
                    bad += exact_plain_outer_rows(acc, db, xb, i, i + 1, j, n_out, n_in, 0, n_in,
                                                  f);
    }
    return bad;
}

size_t exact_avx512_outer(int64_t *restrict acc, const float *d, const float *x,
                          const int *start, int groups, int n_out, int n_in, const Fixed *f,
                          double *bound)
{
    if (exact_singles(start, groups) && n_in < SINGLE_COLS) /* narrow: fewer fixed costs */
        return outer_narrow(acc, d + (size_t)start[0] * n_out, x + (size_t)start[0] * n_in,
                            groups, n_out, n_in, f);
    if (exact_singles(start, groups)) /* groups of one example */
        return outer_single(acc, d + (size_t)start[0] * n_out, x + (size_t)start[0] * n_in,
                            groups, n_out, n_in, f, bound);
    return exact_avx2_outer(acc, d, x, start, groups, n_out, n_in, f, bound);
}
#endif
