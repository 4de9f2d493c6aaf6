/* output.c: the output layer, the cost and the output deltas by kind (see output.h). The
 * library is compiled with -ffp-contract=off: every operation rounds as written, and a
 * fused multiply-add happens only where fma / kernels_madd stands. */
#include "net/output.h"
#include "kernels/kernels.h"

#include <math.h>

/* softmax_row: v (n) <- e^(v_j - m) / sum_k e^(v_k - m), m the largest v_j (the first of
 * equal ones); the sum in order from 0. The largest term is e^0 = 1, so the sum is >= 1. */
static void softmax_row(Real *v, int n)
{
    Real m = v[0], sum = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > m)
            m = v[j];
    for (int j = 0; j < n; j++) {
        v[j] = net_plain_exp(v[j] - m);
        sum = sum + v[j];
    }
    for (int j = 0; j < n; j++)
        v[j] = v[j] / sum;
}

void output_activate(OutputKind o, Real *z, int n, int n_out)
{
    if (o != OUTPUT_SOFTMAX) {
        kernels_sigmoid(z, (size_t)n * (size_t)n_out);
        return;
    }
    for (int i = 0; i < n; i++)
        softmax_row(z + (size_t)i * n_out, n_out);
}

double output_ln(double x)
{
    int ex;
    double m = frexp(x, &ex); /* x = m 2^ex, m in [0.5, 1) (x finite and > 0) */
    if (m < 0.70710678118654752) {
        m = m * 2; /* exact */
        ex = ex - 1;
    }
    double s = (m - 1) / (m + 1), s2 = s * s; /* |s| < 0.1716 */
    /* ln m = 2 s + s s2 (2/3 + s2 (2/5 + ... + s2 2/23)): the atanh series' terms past
     * s^23 are below 2^-58 of the value */
    double p = 2.0 / 23;
    for (int k = 10; k >= 1; k--)
        p = p * s2 + 2.0 / (2 * k + 1);
    double ln_m = 2 * s + s * s2 * p;
    return (double)ex * 0.69314718055994531 + ln_m;
}

/* neg_ln: -ln(max(p, OUTPUT_FLOOR)) (NaN stays NaN). */
static double neg_ln(double p)
{
    return 0.0 - output_ln(p < OUTPUT_FLOOR ? OUTPUT_FLOOR : p);
}

double output_cost(const NetKind *k, const Real *a, int label, int n_out)
{
    double c = 0;
    if (k->cost == COST_CROSS_ENTROPY && k->output == OUTPUT_SOFTMAX)
        return neg_ln((double)a[label]);
    for (int j = 0; j < n_out; j++) {
        double aj = (double)a[j];
        if (k->cost == COST_CROSS_ENTROPY) /* 1 - aj is exact for a float aj in [0, 1] */
            c = c + neg_ln(j == label ? aj : 1.0 - aj);
        else {
            double diff = aj - (j == label ? 1.0 : 0.0);
            c = fma(diff, diff, c);
        }
    }
    return c;
}

/* softmax_quadratic_row: d_j = a_j (g_j - sum_k a_k g_k), g = 2 (a - y), the sum in order
 * by fused multiply-adds from 0. */
static void softmax_quadratic_row(const Real *a, int label, Real *d, int n)
{
    Real s = 0;
    for (int k = 0; k < n; k++)
        s = kernels_madd(a[k], (Real)2 * (a[k] - (k == label ? (Real)1 : (Real)0)), s);
    for (int j = 0; j < n; j++) {
        Real g = (Real)2 * (a[j] - (j == label ? (Real)1 : (Real)0));
        d[j] = a[j] * (g - s);
    }
}

void output_deltas(const NetKind *k, const Real *a, const uint8_t *labels, Real *d, int n,
                   int n_out)
{
    for (int i = 0; i < n; i++) {
        const Real *ai = a + (size_t)i * n_out;
        Real *di = d + (size_t)i * n_out;
        if (k->cost == COST_QUADRATIC && k->output == OUTPUT_SOFTMAX) {
            softmax_quadratic_row(ai, labels[i], di, n_out);
            continue;
        }
        for (int j = 0; j < n_out; j++) {
            Real aj = ai[j], y = j == labels[i] ? (Real)1 : (Real)0;
            di[j] = k->cost == COST_CROSS_ENTROPY ? aj - y
                                                  : (Real)2 * (aj - y) * aj * ((Real)1 - aj);
        }
    }
}
