/* test_gradient: every gradient of the 784-16-16-10 network from backpropagation against
 * central finite differences of the cost, in the float64 build of the library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "net/model.h"
#include "core/rng.h"

#define N_EXAMPLES 6

#ifndef DOWNHILL_DOUBLE
#error "test_gradient needs the float64 library (downhill_core_f64)"
#endif

static double total_cost(const Model *m, Workspace *w, const uint8_t *labels)
{
    model_forward(m, w, N_EXAMPLES);
    return model_cost(m, w, labels, N_EXAMPLES, NULL, NULL);
}

int main(void)
{
    const int sizes[] = {784, 16, 16, 10};
    Model m;
    Workspace w;
    Err e;
    if (model_init(&m, sizes, 4, 7, &e) != 0 || workspace_init(&w, &m.layout, N_EXAMPLES, &e)) {
        fprintf(stderr, "test_gradient: setup failed: %s\n", e.msg);
        return 1;
    }
    /* inputs: random pixel bytes; labels 0..5; biases perturbed so none is trivially 0 */
    static uint8_t pixels[N_EXAMPLES][784];
    const uint8_t *rows[N_EXAMPLES];
    uint8_t labels[N_EXAMPLES];
    Rng r;
    rng_init(&r, 42);
    for (int i = 0; i < N_EXAMPLES; i++) {
        for (int k = 0; k < 784; k++)
            pixels[i][k] = (uint8_t)rng_below(&r, 256);
        rows[i] = pixels[i];
        labels[i] = (uint8_t)i;
    }
    for (int l = 1; l < 4; l++)
        for (int j = 0; j < sizes[l]; j++)
            m.params[m.layout.b_off[l] + j] = 0.5 * rng_normal(&r);
    model_load_inputs(&m.layout, &w, rows, N_EXAMPLES);

    size_t np = m.layout.n_params;
    double *grad = calloc(np, sizeof *grad);
    total_cost(&m, &w, labels);
    model_backward(&m, &w, labels, N_EXAMPLES, grad);

    const double h = 1e-5;
    size_t bad = 0, nonzero = 0;
    double worst = 0, largest = 0;
    for (size_t i = 0; i < np; i++) {
        double keep = m.params[i];
        m.params[i] = keep + h;
        double up = total_cost(&m, &w, labels);
        m.params[i] = keep - h;
        double down = total_cost(&m, &w, labels);
        m.params[i] = keep;
        double fd = (up - down) / (2 * h), err = fabs(fd - grad[i]);
        double tol = 1e-7 + 1e-5 * fabs(fd);
        if (err > tol && bad++ < 10) /* the first mismatches by name; CHECK below counts */
            fprintf(stderr, "mismatch at parameter %zu: backprop %.10g, finite difference "
                    "%.10g\n", i, grad[i], fd);
        worst = err > worst ? err : worst;
        largest = fabs(grad[i]) > largest ? fabs(grad[i]) : largest;
        nonzero += fabs(grad[i]) > 1e-9;
    }
    printf("test_gradient: %zu parameters, %zu mismatches, max |error| %.3g, max |gradient| "
           "%.3g, %zu non-zero\n", np, bad, worst, largest, nonzero);
    CHECK(bad == 0, "%zu of %zu gradients differ from central finite differences", bad, np);
    CHECK(largest >= 1e-3 && nonzero >= np * 9 / 10, "the gradient is (nearly) trivially zero");
    CHECK(np == 13002, "%zu parameters, want 13002 (784-16-16-10)", np);
    free(grad);
    workspace_free(&w);
    model_free(&m);
    return check_report("test_gradient");
}
