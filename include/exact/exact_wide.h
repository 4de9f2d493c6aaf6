/* exact_wide.h: the weight gradient of a wide layer (l >= 2 with n_in >= EXACT_WIDE_MIN
 * inputs), exactly, in integers, as the first layer's (exact_input.h). Per example i of
 * activations a (n_in) and deltas d (n_out):
 *
 *     e   = the smallest integer with max_k |a_k| < 2^e (frexp; 0 when every a_k is 0)
 *     A_k = min(round(a_k 2^(15 - e)), 2^15 - 1)              (|A_k| <= 2^15, int16)
 *     D_j = round(d_j 2^(F + e))                              (F = Fixed.delta_bits)
 *
 * and sum_i D_ij A_ik is formed in integers, in units 2^-(F + 15) (Fixed.wide_inv): its bits
 * depend neither on the order, the grouping, the threads and ranks, nor on the instruction set
 * (AMX tiles where usable, else plain int64 loops). An example whose activations are not all
 * finite counts one bad value and adds nothing; a D_j not finite or with |D_j| 2^15 beyond
 * Fixed.limit counts bad and is 0, as the first layer's. */
#ifndef DOWNHILL_EXACT_WIDE_H
#define DOWNHILL_EXACT_WIDE_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"
#include "exact/exact.h"
#include "exact/exact_input.h"

/* exact_wide_layer: 1 if weight layer l (>= 1) with n_in inputs is summed as a wide layer. */
int exact_wide_layer(int l, int n_in);

/* Scratch of exact_wide_outer for up to cap examples, n_in activations and n_out deltas
 * (the largest of the wide layers). */
typedef struct {
    int cap, n_in, n_out;
    int16_t *A;     /* (cap, n_in) rounded activations, row-major */
    int64_t *D;     /* (n_out, cap) rounded deltas, neuron-major */
    ExactInput sc;  /* the kernels' scratch (kernels_wide_init) */
} ExactWide;

/* exact_wide_init / exact_wide_free: scratch for up to cap examples (n_in 0: none needed). */
int exact_wide_init(ExactWide *s, int cap, int n_in, int n_out, Err *e);
void exact_wide_free(ExactWide *s);

/* exact_wide_round: the rounded activations A (n rows of n_in, lda apart) and deltas D
 * (n_out rows ld apart, neuron-major) of n examples of a (n, n_in) and d (n, n_out), as
 * above; returns the bad values. */
size_t exact_wide_round(int16_t *restrict A, int lda, int64_t *restrict D, int ld, const Real *a,
                        const Real *d, int n, int n_in, int n_out, const Fixed *f);

/* exact_wide_round_plain: exact_wide_round in plain C: its definition, the portable
 * build's code and the reference of the vector kernels (test_kernels). */
size_t exact_wide_round_plain(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                              const Real *a, const Real *d, int n, int n_in, int n_out,
                              const Fixed *f);

/* exact_wide_outer: acc (n_out, n_in) row-major += sum over the n examples (n <= cap) of
 * D_ij A_ik, rounded by exact_wide_round; returns its bad values. */
size_t exact_wide_outer(int64_t *restrict acc, const Real *a, const Real *d, int n, int n_in,
                        int n_out, const Fixed *f, ExactWide *s);

/* exact_wide_outer_ref: the same sums by exact_wide_round_plain and plain int64 loops (the
 * reference for tests). */
size_t exact_wide_outer_ref(int64_t *restrict acc, const Real *a, const Real *d, int n,
                            int n_in, int n_out, const Fixed *f);

#endif
