/* output.h: the network's output layer and cost by kind (kind.h): sigmoid or softmax
 * outputs, the quadratic or cross-entropy cost of an example and the output deltas dC/dz.
 * Every value is computed in an order fixed by the source (docs/DESIGN.md, "The reference
 * step"), so every build gives the same bits. */
#ifndef DOWNHILL_NET_OUTPUT_H
#define DOWNHILL_NET_OUTPUT_H

#include <stdint.h>
#include "core/common.h"
#include "net/kind.h"

/* The smallest probability whose logarithm the cross-entropy cost takes: a smaller one
 * (an output saturated at the wrong end, a = 0 or 1 - a = 0 in float) is taken as this, so
 * ln(0) is never formed and one term of the cost is at most 64 ln 2 (about 44.4). */
#define OUTPUT_FLOOR 0x1p-64

/* output_activate: z (n, n_out) <- the output layer's activations: elementwise sigmoid, or
 * each row's softmax (e^(z_j - max z) by the sigmoid's exp, summed in order, divided);
 * NaN anywhere in a row makes the whole row NaN. */
void output_activate(OutputKind o, Real *z, int n, int n_out);

/* output_cost: the cost of one example with outputs a (n_out) and label: quadratic
 * sum_j (a_j - y_j)^2; cross-entropy -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (sigmoid)
 * or -ln a_label (softmax), each probability at least OUTPUT_FLOOR. In double. */
double output_cost(const NetKind *k, const Real *a, int label, int n_out);

/* output_deltas: d (n, n_out) = dC/dz of the output layer for the n examples with outputs a
 * (n, n_out) and labels: quadratic + sigmoid ((2 (a - y)) a) (1 - a); cross-entropy (either
 * output) a - y; quadratic + softmax a_j (g_j - sum_k a_k g_k) with g = 2 (a - y). */
void output_deltas(const NetKind *k, const Real *a, const uint8_t *labels, Real *d, int n,
                   int n_out);

/* output_ln: the natural logarithm in double, the same bits on every build and CPU (basic
 * operations only, never libm's log): x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m =
 * 2 atanh(s), s = (m - 1) / (m + 1), by its series to s^23; within a few ulp. NaN for NaN. */
double output_ln(double x);

#endif
