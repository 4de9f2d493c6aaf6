/* exact.c: fixed-point rounding with the 1.5 * 2^52 trick: adding it to a double with
 * |y| < 2^51 leaves round-to-nearest(y) in the low mantissa bits (vectorises on AVX2). */
#include "exact.h"

#include <math.h>
#include <string.h>

#define MAGIC 6755399441055744.0      /* 1.5 * 2^52 */
#define MAGIC_BITS 0x4338000000000000LL /* its bit pattern */

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

size_t exact_accumulate(int64_t *restrict acc, Real *restrict x, size_t n, const Fixed *f)
{
    const double s = f->scale, lim = f->limit;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double y = (double)x[i] * s;
        bad += !(fabs(y) <= lim);
        acc[i] += round_scaled(y);
        x[i] = 0;
    }
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

void exact_descend(Real *theta, const int64_t *sum, size_t n, double step, const Fixed *f)
{
    const double inv = f->inv_scale;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) /* each thread owns a slice of the parameters */
        theta[i] = (Real)((double)theta[i] - step * ((double)sum[i] * inv));
}
