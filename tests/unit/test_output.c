/* test_output: the output layer and cost of net/output.h: output_ln against libm's log
 * (a few ulp, exact at 1), softmax rows (sum 1, shift invariance, huge inputs, NaN spreads to
 * the row), the cross-entropy's floor (saturated outputs give 64 ln 2 per term, never
 * infinity), and each kind's output deltas against their float64 formulas. */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "core/rng.h"
#include "net/output.h"

/* ulps: |got - want| in units of want's last place. */
static double ulps(double got, double want)
{
    return fabs(got - want) / (want == 0 ? 0x1p-1074 : ldexp(1.0, ilogb(want) - 52));
}

static void ln_accuracy(void)
{
    Rng r;
    rng_init(&r, 17);
    double worst = 0;
    for (int i = 0; i < 200000; i++) {
        double x = ldexp(0.5 + rng_uniform(&r), (int)rng_below(&r, 140) - 70);
        double u = ulps(output_ln(x), log(x));
        worst = u > worst ? u : worst;
    }
    CHECK(worst <= 4, "output_ln: %.2f ulp from log (at most 4)", worst);
    CHECK(output_ln(1.0) == 0.0, "output_ln(1) = %a, want 0", output_ln(1.0));
    CHECK(fabs(output_ln(OUTPUT_FLOOR) + 64 * log(2.0)) < 1e-13, "output_ln(2^-64) = %.17g",
          output_ln(OUTPUT_FLOOR));
    CHECK(isnan(output_ln(NAN)), "output_ln(NaN) is not NaN");
}

static void softmax_rows(void)
{
    Real z[3][4] = {{1, 2, 3, 4}, {1001, 1002, 1003, 1004}, {0, NAN, 1, 2}};
    output_activate(OUTPUT_SOFTMAX, &z[0][0], 3, 4);
    double sum = 0, worst = 0;
    for (int j = 0; j < 4; j++) {
        double want = exp(j - 3.0) / (exp(-3.0) + exp(-2.0) + exp(-1.0) + 1);
        sum += z[0][j];
        worst = fmax(worst, fabs(z[0][j] - want) / want);
        CHECK(z[1][j] == z[0][j], "softmax is not shift invariant at %d: %a, %a", j,
              (double)z[1][j], (double)z[0][j]);
        CHECK(isnan(z[2][j]), "softmax: a NaN input left output %d at %g", j, (double)z[2][j]);
    }
    CHECK(fabs(sum - 1) < 1e-6 && worst < 1e-6, "softmax: sum %.9g, worst relative error %.3g",
          sum, worst);
}

static void cross_entropy_floor(void)
{
    Real sat[3] = {1, 1, 0}; /* label 0 right, label 1 wrong at 1, label 2 wrong at 0 */
    NetKind binary = {.output = OUTPUT_SIGMOID, .cost = COST_CROSS_ENTROPY};
    NetKind categorical = {.output = OUTPUT_SOFTMAX, .cost = COST_CROSS_ENTROPY};
    double c = output_cost(&binary, sat, 0, 3), term = 64 * log(2.0);
    CHECK(fabs(c - term) < 1e-12, "binary cross-entropy, one output saturated wrong: %.17g, "
          "want 64 ln 2", c);
    c = output_cost(&binary, sat, 2, 3);
    CHECK(fabs(c - 3 * term) < 1e-12, "binary cross-entropy, all wrong: %.17g", c);
    c = output_cost(&categorical, sat, 2, 3);
    CHECK(fabs(c - term) < 1e-12, "categorical cross-entropy of 0: %.17g", c);
    Real a[3] = {0.25f, 0.5f, 0.25f};
    c = output_cost(&categorical, a, 1, 3);
    CHECK(fabs(c - log(2.0)) < 1e-15, "categorical cross-entropy of 1/2: %.17g", c);
    NetKind quadratic = {0};
    c = output_cost(&quadratic, a, 1, 3);
    CHECK(c == 0.375, "quadratic cost: %.17g, want 0.375", c);
}

/* deltas: every kind's output deltas against float64 formulas. */
static void deltas(void)
{
    Real a[2][3] = {{0.2f, 0.7f, 0.1f}, {0.6f, 0.3f, 0.1f}}, d[2][3];
    uint8_t labels[2] = {1, 2};
    for (int o = OUTPUT_SIGMOID; o <= OUTPUT_SOFTMAX; o++)
        for (int c = COST_QUADRATIC; c <= COST_CROSS_ENTROPY; c++) {
            NetKind k = {.output = (OutputKind)o, .cost = (CostKind)c};
            output_deltas(&k, &a[0][0], labels, &d[0][0], 2, 3);
            for (int i = 0; i < 2; i++) {
                double t = 0;
                for (int q = 0; q < 3; q++)
                    t += (double)a[i][q] * 2 * ((double)a[i][q] - (q == labels[i]));
                for (int j = 0; j < 3; j++) {
                    double aj = a[i][j], g = 2 * (aj - (j == labels[i]));
                    double want = c == COST_CROSS_ENTROPY ? aj - (j == labels[i])
                                  : o == OUTPUT_SOFTMAX   ? aj * (g - t)
                                                          : g * aj * (1 - aj);
                    CHECK(fabs(d[i][j] - want) < 1e-6, "%s + %s delta [%d][%d] = %.9g, want %.9g",
                          kind_output_name(k.output), kind_cost_name(k.cost), i, j,
                          (double)d[i][j], want);
                }
            }
        }
}

int main(void)
{
    ln_accuracy();
    softmax_rows();
    cross_entropy_floor();
    deltas();
    return check_report("test_output");
}
