/* descend8.h: exact_descend on eight fixed-point sums held in an AVX-512 register, for the
 * kernels that spend whole sums on weights at once (input_vnni.c, input_amx.c). exact.h
 * includes it. */
#ifndef DOWNHILL_KERNELS_DESCEND8_H
#define DOWNHILL_KERNELS_DESCEND8_H

#include "core/common.h"
#include "kernels/isa.h"

#if KERNELS_DESCEND8
#include <immintrin.h>
#define EXACT_DESCEND8 1
/* exact_descend8: exact_descend for the lanes k of eight sums in v (whole, never stored):
 * theta[q] <- theta[q] - step * (v[q] inv), the same roundings (to double, one fused
 * multiply-add, to Real). */
static inline void exact_descend8(Real *theta, __m512i v, __mmask8 k, double step, double inv)
{
    __m512d y = _mm512_mul_pd(_mm512_cvtepi64_pd(v), _mm512_set1_pd(inv));
#ifdef DOWNHILL_DOUBLE
    __m512d th = _mm512_maskz_loadu_pd(k, theta);
    _mm512_mask_storeu_pd(theta, k, _mm512_fnmadd_pd(_mm512_set1_pd(step), y, th));
#else
    __m512d th = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, theta));
    _mm256_mask_storeu_ps(theta, k,
                          _mm512_cvtpd_ps(_mm512_fnmadd_pd(_mm512_set1_pd(step), y, th)));
#endif
}
#endif

#endif
