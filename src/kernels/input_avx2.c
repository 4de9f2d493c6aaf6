/* input_avx2.c: the first layer's integer outer products on AVX2: the int16 pairs of
 * input_pairs.c multiplied by VPMADDWD into int32 window sums of the high and low halves,
 * widened to int64 (2^16 H + L) before they can overflow; and the wide layers' sums on the
 * byte planes of their int16 activations (input_avx2_wide). Compiled only where isa.h picks
 * it (KERNELS_INPUT_AVX2). */
#include "kernels/kernels.h"

#if KERNELS_INPUT_AVX2
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define VEC 8 /* int32 lanes per vector */
typedef __m256i Vec;
#define vzero() _mm256_setzero_si256()
#define vload(p) _mm256_loadu_si256((const __m256i *)(p))
#define vset1(v) _mm256_set1_epi32(v)
#define vdot(acc, x, w) _mm256_add_epi32((acc), _mm256_madd_epi16((x), (w)))

/* flush: acc[c .. c + VEC) (only columns < cols) += 2^shift (2^16 H + L). */
INLINE void flush(int64_t *restrict acc, Vec H, Vec L, int c, int cols, int shift)
{
    int32_t h[VEC], l[VEC];
    _mm256_storeu_si256((__m256i *)h, H);
    _mm256_storeu_si256((__m256i *)l, L);
    int m = cols - c < VEC ? cols - c : VEC;
    for (int t = 0; t < m; t++)
        acc[c + t] += ((int64_t)h[t] * 65536 + l[t]) * ((int64_t)1 << shift);
}

/* The 4 x 3 register tile: rows r of 4, column vectors 0..2, high (h) and low (l) halves. */
#define TILE_ZERO(r) Vec h##r##0 = vzero(), h##r##1 = vzero(), h##r##2 = vzero(), \
    l##r##0 = vzero(), l##r##1 = vzero(), l##r##2 = vzero()
#define TILE_STEP(r)                                                                        \
    do {                                                                                    \
        Vec wh = vset1(w[2 * (r)]), wl = vset1(w[2 * (r) + 1]);                             \
        h##r##0 = vdot(h##r##0, x0, wh), h##r##1 = vdot(h##r##1, x1, wh);                   \
        h##r##2 = vdot(h##r##2, x2, wh), l##r##0 = vdot(l##r##0, x0, wl);                   \
        l##r##1 = vdot(l##r##1, x1, wl), l##r##2 = vdot(l##r##2, x2, wl);                   \
    } while (0)
#define TILE_FLUSH(r)                                                                       \
    do {                                                                                    \
        if (j + (r) < n_out) {                                                              \
            int64_t *row = acc + (size_t)(j + (r)) * stride;                                \
            flush(row, h##r##0, l##r##0, c, cols, shift);                                   \
            flush(row, h##r##1, l##r##1, c + VEC, cols, shift);                             \
            flush(row, h##r##2, l##r##2, c + 2 * VEC, cols, shift);                         \
        }                                                                                   \
        h##r##0 = h##r##1 = h##r##2 = l##r##0 = l##r##1 = l##r##2 = vzero();               \
    } while (0)

/* tile: rows [j, j + 4) and columns [c, c + 3 VEC) of acc (rows `stride` apart) over all
 * pairs (rows np and nr wide in s->pairs and s->pieces), in registers, flushed every
 * KERNELS_PAIRS_WINDOW pairs (rows and columns beyond the padding are zeros, not stored),
 * the sums weighted 2^shift (a wide layer's high bytes: 8). */
static void tile(int64_t *restrict acc, const ExactInput *s, int pairs, int np, int nr, int n_out,
                 int cols, int stride, int j, int c, int shift)
{
    TILE_ZERO(0);
    TILE_ZERO(1);
    TILE_ZERO(2);
    TILE_ZERO(3);
    for (int p0 = 0; p0 < pairs; p0 += KERNELS_PAIRS_WINDOW) {
        int p1 = p0 + KERNELS_PAIRS_WINDOW < pairs ? p0 + KERNELS_PAIRS_WINDOW : pairs;
        for (int p = p0; p < p1; p++) {
            const int16_t *x = s->pairs + ((size_t)p * np + c) * 2;
            const int32_t *w = s->pieces + ((size_t)p * nr + j) * 2;
            Vec x0 = vload(x), x1 = vload(x + 2 * VEC), x2 = vload(x + 4 * VEC);
            TILE_STEP(0);
            TILE_STEP(1);
            TILE_STEP(2);
            TILE_STEP(3);
        }
        TILE_FLUSH(0);
        TILE_FLUSH(1);
        TILE_FLUSH(2);
        TILE_FLUSH(3);
    }
}

void input_avx2_region(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                       const uint8_t *const *rows, int n, int n_out, int c0, int c1,
                       ExactInput *s)
{
    int cols = c1 - c0;
    if (cols <= 0)
        return;
    int n_slow = input_pairs_pack(s, D, ld, rows, n, n_out, c0, cols);
    int np = input_pairs_cols(cols), nr = input_pairs_rows(n_out);
    for (int c = 0; c < cols; c += 3 * VEC) /* the x columns of a tile stay in L1 */
        for (int j = 0; j < n_out; j += 4)
            tile(acc, s, (n + 1) / 2, np, nr, n_out, cols, stride, j, c, 0);
    input_pairs_slow(acc, D, ld, rows, n_out, c0, cols, stride, s, n_slow);
}

void input_avx2_wide(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                     const int16_t *A, int lda, int n, int n_out, int cols, ExactInput *s)
{
    int np = input_pairs_cols(cols), nr = input_pairs_rows(n_out), n_slow = 0;
    for (int high = 0; high < 2; high++) { /* A = lo + 2^8 hi: two planes of int16 pairs */
        n_slow = input_pairs_pack16(s, D, ld, A, lda, n, n_out, cols, high);
        for (int c = 0; c < cols; c += 3 * VEC)
            for (int j = 0; j < n_out; j += 4)
                tile(acc, s, (n + 1) / 2, np, nr, n_out, cols, stride, j, c, 8 * high);
    }
    input_pairs_slow16(acc, stride, D, ld, A, lda, n_out, cols, s, n_slow);
}
#endif
