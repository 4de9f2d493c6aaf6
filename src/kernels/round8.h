/* round8.h: the 8 x 8 float transpose of the rounding kernels (round_avx2.c,
 * round_avx512.c): eight examples' rows of eight deltas in, eight neurons' columns of eight
 * examples out, the layout of the neuron-major fixed-point deltas. */
#ifndef DOWNHILL_KERNELS_ROUND8_H
#define DOWNHILL_KERNELS_ROUND8_H

#include <immintrin.h>

/* round8_transpose: r[q] lane c <- r[c] lane q (AVX: unpacks, shuffles, lane swaps). */
static inline void round8_transpose(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int q = 0; q < 8; q += 2) {
        t[q] = _mm256_unpacklo_ps(r[q], r[q + 1]); /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
    for (int q = 0; q < 8; q += 4) {
        s[q] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(1, 0, 1, 0));     /* 0 | 4 */
        s[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(3, 2, 3, 2)); /* 1 | 5 */
        s[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(1, 0, 1, 0)); /* 2 | 6 */
        s[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(3, 2, 3, 2)); /* 3 | 7 */
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x31);
    }
}

#endif
