/* exact_plain.c: exact_outer in plain C, each group's float sum rounded through double
 * with the limit checked: the reference of the vector kernels, the kernel of the builds
 * without them, and the path they leave their out-of-range sums to. */
#include "kernels/kernels.h"

#include <math.h>

size_t exact_plain_outer_rows(int64_t *restrict acc, const Real *d, const Real *x, int i0, int i1,
                              int j, int n_out, int n_in, int c0, int c1, const Fixed *f)
{
    size_t bad = 0;
    for (int k = c0; k < c1; k++) {
        Real s = 0;
        for (int i = i0; i < i1; i++)
            s = kernels_madd(d[(size_t)i * n_out + j], x[(size_t)i * n_in + k], s);
        double y = (double)s * f->scale;
        bad += !(fabs(y) <= f->limit);
        int64_t *a = &acc[(size_t)j * n_in + k]; /* wrapping, as the vector kernels add */
        *a = (int64_t)((uint64_t)*a + (uint64_t)kernels_round_scaled(y));
    }
    return bad;
}

size_t exact_plain_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                         int groups, int n_out, int n_in, const Fixed *f)
{
    size_t bad = 0;
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < n_out; j++)
            bad += exact_plain_outer_rows(acc, d, x, start[g], start[g + 1], j, n_out, n_in, 0,
                                          n_in, f);
    return bad;
}
