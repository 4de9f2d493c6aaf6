/* exact.c: fixed-point rounding with the 1.5 * 2^52 trick (kernels_round_scaled): adding it
 * to a double with |y| < 2^51 leaves round-to-nearest(y) in the low mantissa bits
 * (vectorises on AVX2). The outer products' kernels are in src/kernels/exact_*.c. */
#include "exact/exact.h"
#include "kernels/kernels.h"

#include <math.h>

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
    /* a wide layer's term |D' A| <= |D'| 2^15 may reach the limit with |d| 2^e up to 16 */
    int log2_terms = 0;
    while (log2_terms < 62 && ((int64_t)1 << log2_terms) < terms)
        log2_terms++;
    f.delta_bits = log2_terms <= 11 ? 32 : 43 - log2_terms;
    f.wide_inv = ldexp(1.0, -(f.delta_bits + EXACT_WIDE_ABITS));
    return f;
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
            acc[j] += ok ? kernels_round_scaled(y) : 0;
        }
    return bad;
}

size_t exact_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                   int groups, int n_out, int n_in, const Fixed *f, double *bound)
{
    return kernels_exact_outer(acc, d, x, start, groups, n_out, n_in, f, bound);
}

int64_t exact_round(double x, const Fixed *f, int64_t *bad)
{
    double y = x * f->scale;
    if (!(fabs(y) <= f->limit)) {
        ++*bad;
        return 0;
    }
    return kernels_round_scaled(y);
}

double exact_value(int64_t v, const Fixed *f)
{
    return (double)v * f->inv_scale;
}

void exact_descend(Real *restrict theta, int64_t *restrict sum, size_t n, double step,
                   const Fixed *f)
{
    exact_descend_inv(theta, sum, n, step, f->inv_scale);
}

void exact_descend_inv(Real *restrict theta, int64_t *restrict sum, size_t n, double step,
                       double inv)
{
    /* Blocks of 64 (vectorised), each claiming the sums' cache lines two blocks ahead for
     * writing (never past n: the next lines may be another thread's): after an allreduce
     * the other rank holds copies of them, and stores alone wait for each line in turn. */
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (size_t q = i + 128; q < i + 192 && q < n; q += 8) /* only sums of this call */
            __builtin_prefetch(sum + q, 1, 3);
        Real *restrict th = theta + i;
        int64_t *restrict su = sum + i;
        for (size_t q = 0; q < 64; q++) {
            th[q] = (Real)fma(-step, (double)su[q] * inv, (double)th[q]);
            su[q] = 0;
        }
    }
    for (; i < n; i++) {
        theta[i] = (Real)fma(-step, (double)sum[i] * inv, (double)theta[i]);
        sum[i] = 0;
    }
}
