/* test_descent: the seed's one-parameter example. Gradient descent on C(w) = (w - 3)^2,
 * dC/dw = 2 (w - 3), through downhill's own exact-sum update, reaches w = 3; a learning
 * rate above 1 overshoots further every step (diverges), as the seed warns. */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "exact/exact.h"

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
    double w = descend(0, 0.1, 1);
    CHECK(fabs(w - 0.6) < 1e-6, "w after 1 step (0 - 0.1 * -6): got %.9g, want 0.6", w);
    w = descend(0, 0.1, 2);
    CHECK(fabs(w - 1.08) < 1e-6, "w after 2 steps: got %.9g, want 1.08", w);
    w = descend(0, 0.1, 200);
    CHECK(fabs(w - 3) < 1e-5, "w after 200 steps from 0: got %.9g, want 3", w);
    w = descend(10, 0.1, 200);
    CHECK(fabs(w - 3) < 1e-5, "w after 200 steps from 10 (slope > 0): got %.9g, want 3", w);
    w = descend(3, 0.1, 5);
    CHECK(w == 3, "w stays at the minimum (zero slope): got %.9g, want 3", w);
    double far = fabs(descend(0, 1.1, 50) - 3);
    CHECK(far > 3 || isnan(far), "eta = 1.1 overshoots and diverges: |w - 3| = %.9g", far);
    return check_report("test_descent");
}
