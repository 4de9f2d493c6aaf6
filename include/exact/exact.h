/* exact.h: exact, order-independent sums. Values are rounded once to 64-bit fixed point
 * (scale 2^32) and added as integers, so neither the thread schedule nor the MPI
 * reduction order can change a single bit of the result. */
#ifndef DOWNHILL_EXACT_H
#define DOWNHILL_EXACT_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"
#include "kernels/descend8.h" /* exact_descend8 where the build has AVX-512 */

#define EXACT_SCALE_BITS 32
/* Wide layers (exact_wide.h): weight layers l >= 2 with at least EXACT_WIDE_MIN inputs; their
 * activations are rounded to signed 16-bit integers A = round(a 2^(EXACT_WIDE_ABITS - e)). */
#define EXACT_WIDE_MIN 64
#define EXACT_WIDE_ABITS 15

/* The fixed-point format for a sum of at most `terms` rounded values. */
typedef struct {
    double scale;     /* 2^EXACT_SCALE_BITS */
    double inv_scale; /* 1 / scale */
    double limit;     /* largest |scaled value| one term may have: the total stays < 2^62 */
    int delta_bits;   /* F: a wide layer's deltas are rounded to units 2^-(F + e) (exact_wide.h):
                       * 32, or 43 - ceil(log2 terms) beyond 2048 terms */
    double wide_inv;  /* 2^-(F + EXACT_WIDE_ABITS): the unit of a wide layer's weight sums */
} Fixed;

/* exact_fixed: the format for sums of up to `terms` values. */
Fixed exact_fixed(int64_t terms);

/* exact_singles: 1 if each of the groups [start[g], start[g + 1]) holds one example (a
 * group may be empty: the short lanes of an epoch's last batch). */
int exact_singles(const int *start, int groups);

/* exact_add_rows: acc[j] += round(x[i][j] * scale) for each of the rows i of x (rows,
 * cols); returns how many values were non-finite or beyond the limit (those add 0). */
size_t exact_add_rows(int64_t *restrict acc, const Real *x, int rows, int cols, const Fixed *f);

/* exact_outer: for each group g of rows [start[g], start[g+1]) of d (n, n_out) and
 * x (n, n_in): acc[j][k] += round(scale * s) with s the group's float sum of d[i][j] x[i][k]
 * in the order of i (from 0, one fused multiply-add per term where the target has FMA), the
 * same bits as summing the group into a zeroed buffer and rounding each value with
 * exact_round. bound (n_out * groups) is scratch. Returns how many sums were non-finite or
 * beyond the limit. */
size_t exact_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                   int groups, int n_out, int n_in, const Fixed *f, double *bound);

/* exact_round: round(x * scale); counts into *bad when x is non-finite or beyond the limit. */
int64_t exact_round(double x, const Fixed *f, int64_t *bad);

/* exact_descend: theta[i] <- theta[i] - step * value(sum[i]) and sum[i] <- 0 for i < n: a
 * gradient-descent update from exact sums (step = learning rate / examples), leaving the
 * sums ready for the next step (one thread: the trainer gives each thread a share). */
void exact_descend(Real *restrict theta, int64_t *restrict sum, size_t n, double step,
                   const Fixed *f);

/* exact_descend_inv: exact_descend for sums in units inv (Fixed.inv_scale, or another unit such
 * as Fixed.wide_inv): theta[i] <- theta[i] - step * (sum[i] inv), sum[i] <- 0. */
void exact_descend_inv(Real *restrict theta, int64_t *restrict sum, size_t n, double step,
                       double inv);

/* exact_value: the real value of a fixed-point integer. */
double exact_value(int64_t v, const Fixed *f);

#endif
