/* round_avx2.c: exact_input_round and exact_wide_round on AVX2: eight examples by eight
 * neurons at a time, the deltas transposed in registers (round8.h), widened to double in
 * halves of four, scaled, checked against the limit and rounded as kernels_round_scaled
 * does (y + 1.5 2^52); a wide example's activations scaled by 2^(15 - e) in double,
 * clamped to 2^15 - 1 and rounded to nearest even. The same integers and bad counts as the
 * plain C of exact_input.c and exact_wide.c. Compiled only where isa.h picks it
 * (KERNELS_ROUND_AVX2). */
#include "kernels/kernels.h"

#if KERNELS_ROUND_AVX2
#include <immintrin.h>
#include <math.h>
#include "exact/exact_wide.h"
#include "round8.h"

#define INLINE static inline __attribute__((always_inline))

/* lanes: the int32 mask of the first m of eight lanes (m in [0, 8]). */
static inline __m256i lanes(int m)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* load_block: r[q] = row i0 + q of d (rows n_out apart), columns [j0, j0 + nj); the other
 * columns and the rows from ni on are zero (rounded to 0, never bad). */
INLINE void load_block(__m256 r[8], const float *d, int n_out, int i0, int ni, int j0,
                              int nj)
{
    __m256i mj = lanes(nj);
    for (int q = 0; q < 8; q++) {
        const float *p = d + (size_t)(i0 + q) * n_out + j0;
        r[q] = q >= ni ? _mm256_setzero_ps() : nj == 8 ? _mm256_loadu_ps(p)
                                                       : _mm256_maskload_ps(p, mj);
    }
}

/* rounded: kernels_round_scaled of the four y (|y| < 2^51 where it counts), in int64. */
static inline __m256i rounded(__m256d y)
{
    __m256d t = _mm256_add_pd(y, _mm256_set1_pd(KERNELS_MAGIC));
    return _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(KERNELS_MAGIC_BITS));
}

/* absd: |y|. */
static inline __m256d absd(__m256d y)
{
    return _mm256_andnot_pd(_mm256_set1_pd(-0.0), y);
}

/* store4: the four int64 of v to p, the first m of them (m in [0, 4]). */
INLINE void store4(int64_t *p, __m256i v, int m)
{
    if (m >= 4)
        _mm256_storeu_si256((__m256i *)p, v);
    else if (m > 0)
        _mm256_maskstore_epi64((long long *)p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(m),
                                                       _mm256_setr_epi64x(0, 1, 2, 3)), v);
}

/* round_half: four examples' D of one neuron into p (the first m): y = d s (s: their
 * scales, exact), kept where live and |y| div <= lim, else 0; returns the bad ones (live,
 * and not finite or beyond). The first layer: s = 2^32, every example live, div =
 * EXACT_INPUT_DIV; a wide layer: each example's scale (live where it is not 0), div = 1. */
INLINE int round_half(int64_t *p, __m128 d4, __m256d s, __m256d live, __m256d div, __m256d lim,
                      int m)
{
    __m256d y = _mm256_mul_pd(_mm256_cvtps_pd(d4), s); /* exact */
    __m256d in = _mm256_cmp_pd(_mm256_mul_pd(absd(y), div), lim, _CMP_LE_OQ); /* NaN: not */
    __m256d keep = _mm256_and_pd(in, live);
    store4(p, _mm256_and_si256(rounded(y), _mm256_castpd_si256(keep)), m);
    return __builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_andnot_pd(in, live)));
}

/* round_block: the deltas of examples [i0, i0 + ni) and neurons [j0, j0 + nj) (ni, nj <= 8)
 * rounded into D (s, live: the examples' scales and liveness in halves of four); returns
 * the bad ones. */
INLINE size_t round_block(int64_t *restrict D, int ld, const float *d, int n_out, int i0, int j0,
                          int ni, int nj, const __m256d s[2], const __m256d live[2], __m256d div,
                          __m256d lim)
{
    __m256 r[8];
    size_t bad = 0;
    load_block(r, d, n_out, i0, ni, j0, nj);
    round8_transpose(r);
    for (int c = 0; c < nj; c++) {
        int64_t *p = D + (size_t)(j0 + c) * ld + i0;
        bad += (size_t)round_half(p, _mm256_castps256_ps128(r[c]), s[0], live[0], div, lim, ni);
        bad += (size_t)round_half(p + 4, _mm256_extractf128_ps(r[c], 1), s[1], live[1], div, lim,
                                  ni - 4);
    }
    return bad;
}

/* round_rows: round_block for examples [i0, i0 + ni) (ni <= 8) and every neuron, eight at a
 * time; returns the bad ones. */
static size_t round_rows(int64_t *restrict D, int ld, const float *d, int n_out, int i0, int ni,
                         const __m256d s[2], const __m256d live[2], __m256d div, __m256d lim)
{
    size_t bad = 0;
    for (int j0 = 0; j0 < n_out; j0 += 8) {
        int nj = n_out - j0 < 8 ? n_out - j0 : 8;
        bad += ni == 8 && nj == 8
                   ? round_block(D, ld, d, n_out, i0, j0, 8, 8, s, live, div, lim)
                   : round_block(D, ld, d, n_out, i0, j0, ni, nj, s, live, div, lim);
    }
    return bad;
}

size_t round_avx2_input(int64_t *restrict D, int ld, const float *d, int n, int n_out,
                        const Fixed *f)
{
    const __m256d scale[2] = {_mm256_set1_pd(f->scale), _mm256_set1_pd(f->scale)};
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), live[2] = {all, all};
    const __m256d lim = _mm256_set1_pd(f->limit), div = _mm256_set1_pd((double)EXACT_INPUT_DIV);
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += 8)
        bad += round_rows(D, ld, d, n_out, i0, n - i0 < 8 ? n - i0 : 8, scale, live, div, lim);
    return bad;
}

/* hmax: the largest of the eight uint32 of v. */
static inline uint32_t hmax(__m256i v)
{
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(m);
}

/* wide_example: one example's A (n_in) from its activations a as exact_wide.h says; returns
 * its deltas' scale 2^(F + e), or 0 (A all 0) when some a is not finite. */
static double wide_example(int16_t *restrict A, const float *a, int n_in, const Fixed *f)
{
    const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
    __m256i top8 = _mm256_setzero_si256();
    int k = 0;
    for (; k + 8 <= n_in; k += 8) /* max |a| by its bits, as wide_exponent */
        top8 = _mm256_max_epu32(top8, _mm256_and_si256(
                                          _mm256_loadu_si256((const __m256i *)(a + k)), abs_bits));
    uint32_t top = hmax(top8);
    for (; k < n_in; k++) {
        uint32_t b;
        memcpy(&b, a + k, sizeof b);
        b &= 0x7fffffffu;
        top = b > top ? b : top;
    }
    if (top >= 0x7f800000u) { /* infinity or NaN */
        memset(A, 0, sizeof *A * (size_t)n_in);
        return 0;
    }
    float mx;
    memcpy(&mx, &top, sizeof mx);
    int e = 0;
    if (mx > 0)
        frexp((double)mx, &e);
    const double sa = ldexp(1.0, EXACT_WIDE_ABITS - e);
    const __m256d s = _mm256_set1_pd(sa), clamp = _mm256_set1_pd((1 << EXACT_WIDE_ABITS) - 1);
    for (k = 0; k + 8 <= n_in; k += 8) { /* min(round(y), 2^15 - 1) = round(min(y, 2^15 - 1)) */
        __m256 v = _mm256_loadu_ps(a + k);
        __m256d lo = _mm256_min_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), s),
                                   clamp);
        __m256d hi = _mm256_min_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), s),
                                   clamp);
        __m128i q = _mm_packs_epi32(_mm256_cvtpd_epi32(lo), _mm256_cvtpd_epi32(hi)); /* RNE */
        _mm_storeu_si128((__m128i *)(A + k), q);
    }
    for (; k < n_in; k++) {
        int64_t v = kernels_round_scaled((double)a[k] * sa);
        A[k] = (int16_t)(v < (1 << EXACT_WIDE_ABITS) - 1 ? v : (1 << EXACT_WIDE_ABITS) - 1);
    }
    return ldexp(1.0, f->delta_bits + e);
}

size_t round_avx2_wide(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                       const float *a, const float *d, int n, int n_in, int n_out,
                       const Fixed *f)
{
    const __m256d lim = _mm256_set1_pd(f->limit / (double)(1 << EXACT_WIDE_ABITS));
    const __m256d one = _mm256_set1_pd(1.0);
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += 8) {
        int ni = n - i0 < 8 ? n - i0 : 8;
        double sd[8] = {0}; /* examples from ni on: scale 0, nothing stored nor counted */
        for (int q = 0; q < ni; q++) {
            sd[q] = wide_example(A + (size_t)(i0 + q) * lda, a + (size_t)(i0 + q) * n_in,
                                 n_in, f);
            bad += sd[q] == 0; /* not finite: the example adds nothing */
        }
        __m256d s[2] = {_mm256_loadu_pd(sd), _mm256_loadu_pd(sd + 4)}, live[2];
        for (int h = 0; h < 2; h++)
            live[h] = _mm256_cmp_pd(s[h], _mm256_setzero_pd(), _CMP_NEQ_OQ);
        bad += round_rows(D, ld, d, n_out, i0, ni, s, live, one, lim);
    }
    return bad;
}
#endif
