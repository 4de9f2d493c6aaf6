/* round_avx512.c: exact_input_round and exact_wide_round on AVX-512: eight examples by eight
 * neurons at a time, the deltas transposed in registers (round8.h), widened to double,
 * scaled, checked against the limit and rounded by the CPU's nearest-even conversion; a wide
 * example's activations scaled by 2^(15 - e) in float (scalef: exact, but for results below
 * 2^-126, which round to 0 either way) and converted to int32, clamped, narrowed. The same
 * integers and bad counts as the plain C of exact_input.c and exact_wide.c. Compiled only
 * where isa.h picks it (KERNELS_ROUND_AVX512). */
#include "kernels/kernels.h"

#if KERNELS_ROUND_AVX512
#include <immintrin.h>
#include <math.h>
#include "exact/exact_wide.h"
#include "round8.h"

/* first: the mask of the first m of eight lanes (m in [0, 8]). */
static inline __mmask8 first(int m)
{
    return (__mmask8)((1u << m) - 1);
}

#define INLINE static inline __attribute__((always_inline))

/* load_block: r[q] = row i0 + q of d (rows n_out apart), columns [j0, j0 + 8) masked by mj;
 * rows from ni on are zero (rounded to 0, never bad), read from no memory. */
INLINE void load_block(__m256 r[8], const float *d, int n_out, int i0, int ni, int j0,
                       __mmask8 mj)
{
    for (int q = 0; q < 8; q++) {
        int row = q < ni ? q : 0; /* a row that exists; its mask is 0 */
        r[q] = _mm256_maskz_loadu_ps(q < ni ? mj : 0, d + (size_t)(i0 + row) * n_out + j0);
    }
}

/* round_cols: the first nj columns of the transposed block r (eight examples of neuron
 * j0 + c each) rounded into D rows j0 + c from column i0 (mi: the examples that exist):
 * y = d s (s: the examples' scales, exact), kept where the example is live and |y| div <=
 * lim, else 0; returns the bad values (live, and not finite or beyond). The first layer:
 * s = 2^32 and div = EXACT_INPUT_DIV for every example; a wide layer: each example's scale
 * (live where it is not 0) and div = 1. */
INLINE size_t round_cols(int64_t *restrict D, int ld, const __m256 r[8], int j0, int i0,
                         int nj, __mmask8 mi, __m512d s, __mmask8 live, __m512d div,
                         __m512d lim)
{
    size_t bad = 0;
    for (int c = 0; c < nj; c++) {
        __m512d y = _mm512_mul_pd(_mm512_cvtps_pd(r[c]), s); /* exact */
        __mmask8 in = _mm512_cmp_pd_mask(_mm512_mul_pd(_mm512_abs_pd(y), div), lim,
                                         _CMP_LE_OQ); /* NaN: not in */
        bad += (size_t)__builtin_popcount((unsigned)(uint8_t)(live & ~in));
        _mm512_mask_storeu_epi64(D + (size_t)(j0 + c) * ld + i0, mi,
                                 _mm512_maskz_cvtpd_epi64(in & live, y));
    }
    return bad;
}

/* round_rows: round_cols for examples [i0, i0 + ni) (ni <= 8) and every neuron, eight at a
 * time; returns the bad values. */
static size_t round_rows(int64_t *restrict D, int ld, const float *d, int n_out, int i0, int ni,
                         __m512d s, __mmask8 live, __m512d div, __m512d lim)
{
    __mmask8 mi = first(ni);
    size_t bad = 0;
    for (int j0 = 0; j0 < n_out; j0 += 8) {
        int nj = n_out - j0 < 8 ? n_out - j0 : 8;
        __m256 r[8];
        load_block(r, d, n_out, i0, ni, j0, first(nj));
        round8_transpose(r);
        bad += nj == 8 ? round_cols(D, ld, r, j0, i0, 8, mi, s, live, div, lim)
                       : round_cols(D, ld, r, j0, i0, nj, mi, s, live, div, lim);
    }
    return bad;
}

size_t round_avx512_input(int64_t *restrict D, int ld, const float *d, int n, int n_out,
                          const Fixed *f)
{
    const __m512d scale = _mm512_set1_pd(f->scale), lim = _mm512_set1_pd(f->limit);
    const __m512d div = _mm512_set1_pd((double)EXACT_INPUT_DIV);
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += 8)
        bad += round_rows(D, ld, d, n_out, i0, n - i0 < 8 ? n - i0 : 8, scale, 0xff, div, lim);
    return bad;
}

/* wide_example: one example's A (n_in) from its activations a as exact_wide.h says; returns
 * its deltas' scale 2^(F + e), or 0 (A all 0) when some a is not finite. */
static double wide_example(int16_t *restrict A, const float *a, int n_in, const Fixed *f)
{
    const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
    __m512i top = _mm512_setzero_si512();
    int k = 0;
    for (; k + 16 <= n_in; k += 16) /* max |a| by its bits, as wide_exponent */
        top = _mm512_max_epu32(top, _mm512_and_si512(_mm512_loadu_si512(a + k), abs_bits));
    __mmask16 tail = (__mmask16)((1u << (n_in - k)) - 1);
    top = _mm512_max_epu32(top, _mm512_and_si512(_mm512_maskz_loadu_epi32(tail, a + k),
                                                 abs_bits));
    uint32_t t = (uint32_t)_mm512_reduce_max_epu32(top);
    if (t >= 0x7f800000u) { /* infinity or NaN */
        memset(A, 0, sizeof *A * (size_t)n_in);
        return 0;
    }
    float mx;
    memcpy(&mx, &t, sizeof mx);
    int e = 0;
    if (mx > 0)
        frexp((double)mx, &e);
    const __m512 power = _mm512_set1_ps((float)(EXACT_WIDE_ABITS - e));
    const __m512i clamp = _mm512_set1_epi32((1 << EXACT_WIDE_ABITS) - 1);
    for (k = 0; k + 16 <= n_in; k += 16) {
        __m512 v = _mm512_scalef_ps(_mm512_loadu_ps(a + k), power);
        __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(v), clamp); /* |v| < 2^15 */
        _mm256_storeu_si256((__m256i *)(A + k), _mm512_cvtepi32_epi16(q));
    }
    __m512 v = _mm512_scalef_ps(_mm512_maskz_loadu_ps(tail, a + k), power);
    _mm512_mask_cvtepi32_storeu_epi16(A + k, tail,
                                      _mm512_min_epi32(_mm512_cvtps_epi32(v), clamp));
    return ldexp(1.0, f->delta_bits + e);
}

size_t round_avx512_wide(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                         const float *a, const float *d, int n, int n_in, int n_out,
                         const Fixed *f)
{
    const __m512d lim = _mm512_set1_pd(f->limit / (double)(1 << EXACT_WIDE_ABITS));
    const __m512d one = _mm512_set1_pd(1.0);
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += 8) {
        int ni = n - i0 < 8 ? n - i0 : 8;
        double sd[8] = {0}; /* examples from ni on: scale 0, nothing stored nor counted */
        for (int q = 0; q < ni; q++) {
            sd[q] = wide_example(A + (size_t)(i0 + q) * lda, a + (size_t)(i0 + q) * n_in,
                                 n_in, f);
            bad += sd[q] == 0; /* not finite: the example adds nothing */
        }
        __m512d s = _mm512_loadu_pd(sd);
        __mmask8 live = _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_NEQ_OQ);
        bad += round_rows(D, ld, d, n_out, i0, ni, s, live, one, lim);
    }
    return bad;
}
#endif
