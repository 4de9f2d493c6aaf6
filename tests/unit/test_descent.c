/* test_descent: the seed's one-parameter example. Gradient descent on C(w) = (w - 3)^2,
 * dC/dw = 2 (w - 3), through downhill's own exact-sum update, reaches w = 3; a learning
 * rate above 1 overshoots further every step (diverges), as the seed warns. */
#include <math.h>
#include <stdio.h>

#include "exact/exact.h"

static int fails;

static void expect(int ok, const char *what, double got, double want)
{
    if (!ok) {
        fprintf(stderr, "FAIL %s: got %.9g, want %.9g\n", what, got, want);
        fails++;
    }
}

/* descend: `steps` updates of w with learning rate eta; returns w. */
static double descend(double w0, double eta, int steps)
{
    Fixed f = exact_fixed(1);
    Real w = (Real)w0;
    for (int s = 0; s < steps; s++) {
        int64_t bad = 0, sum = exact_round(2.0 * ((double)w - 3.0), &f, &bad);
        if (bad)
            return NAN;
        exact_descend(&w, &sum, 1, eta, &f);
    }
    return w;
}

int main(void)
{
    expect(fabs(descend(0, 0.1, 1) - 0.6) < 1e-6, "w after 1 step (0 - 0.1 * -6)",
           descend(0, 0.1, 1), 0.6);
    expect(fabs(descend(0, 0.1, 2) - 1.08) < 1e-6, "w after 2 steps", descend(0, 0.1, 2), 1.08);
    expect(fabs(descend(0, 0.1, 200) - 3) < 1e-5, "w after 200 steps from 0", descend(0, 0.1, 200), 3);
    expect(fabs(descend(10, 0.1, 200) - 3) < 1e-5, "w after 200 steps from 10 (slope > 0)",
           descend(10, 0.1, 200), 3);
    expect(descend(3, 0.1, 5) == 3, "w stays at the minimum (zero slope)", descend(3, 0.1, 5), 3);
    double far = fabs(descend(0, 1.1, 50) - 3);
    expect(far > 3 || isnan(far), "eta = 1.1 overshoots and diverges", far, 3);
    printf("test_descent: %d failures\n", fails);
    return fails != 0;
}
