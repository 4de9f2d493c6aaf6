/* test_gradcheck: every network kind (hidden activation x output x cost, one table, COMBOS)
 * on a small 40-7-5-4 network with random weights and inputs, checked three ways:
 *   1. an independent float64 forward pass, cost and backpropagation, written here from the
 *      math (not from model.c), against central differences of its own float64 cost, for
 *      every parameter;
 *   2. downhill's forward pass, cost and gradient (model_forward, model_cost,
 *      model_backward with Layout.kind set) against that float64 gradient;
 *   3. one full-batch step: theta - eta / n * sum of the gradients by the engine's float
 *      update arithmetic and by the reference step (ref_step), against theta - eta * mean
 *      gradient in float64.
 * The float64 network reads its parameters in downhill's layout (W1 in two column blocks,
 * layout_weight), so one buffer serves both; 40 inputs put W1's split at column 16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "net/model.h"
#ifndef DOWNHILL_DOUBLE
#include "reference/step_ref.h"
#endif

#define N_LAYERS 4
#define N_EX 6       /* examples of the batch; labels 0..3, 0, 1 */
#define MAX_UNITS 40 /* the widest layer */
static const int SIZES[N_LAYERS] = {40, 7, 5, 4};

/* Central differences: step FD_H; their error is about FD_H^2 |C'''| / 6 (truncation) plus
 * 1e-16 |C| / FD_H (rounding), both near 1e-10 here, so FD_REL leaves a wide margin while
 * a wrong derivative (relative error of order 1) fails it. */
#define FD_H 1e-5
#define FD_REL 1e-6
#define FD_ABS 1e-9
/* A ReLU unit closer than KINK to its kink could change side under a step of FD_H (a
 * parameter's step moves a hidden z by a few FD_H at most) or between float32 and float64. */
#define KINK 1e-3
/* downhill's float32 gradient: each entry within F32_REL of (|g| + F32_FLOOR * max |g|): a
 * float32 backpropagation of a few layers rounds to about 1e-6 relative; entries far below
 * the largest are judged against the largest (their terms cancel, so their relative error
 * is not float32's). */
#define F32_REL 2e-4
#define F32_FLOOR 1e-3
#define ETA 2.0 /* the step's learning rate: large, so the step stands out from rounding */

/* Every combination of hidden activation, output layer and cost. */
typedef struct {
    NetKind kind;
    const char *name;
} Combo;

static const Combo COMBOS[] = {
    {{ACT_SIGMOID, OUTPUT_SIGMOID, COST_QUADRATIC}, "sigmoid/sigmoid/quadratic"},
    {{ACT_SIGMOID, OUTPUT_SIGMOID, COST_CROSS_ENTROPY}, "sigmoid/sigmoid/cross_entropy"},
    {{ACT_SIGMOID, OUTPUT_SOFTMAX, COST_QUADRATIC}, "sigmoid/softmax/quadratic"},
    {{ACT_SIGMOID, OUTPUT_SOFTMAX, COST_CROSS_ENTROPY}, "sigmoid/softmax/cross_entropy"},
    {{ACT_TANH, OUTPUT_SIGMOID, COST_QUADRATIC}, "tanh/sigmoid/quadratic"},
    {{ACT_TANH, OUTPUT_SIGMOID, COST_CROSS_ENTROPY}, "tanh/sigmoid/cross_entropy"},
    {{ACT_TANH, OUTPUT_SOFTMAX, COST_QUADRATIC}, "tanh/softmax/quadratic"},
    {{ACT_TANH, OUTPUT_SOFTMAX, COST_CROSS_ENTROPY}, "tanh/softmax/cross_entropy"},
    {{ACT_RELU, OUTPUT_SIGMOID, COST_QUADRATIC}, "relu/sigmoid/quadratic"},
    {{ACT_RELU, OUTPUT_SIGMOID, COST_CROSS_ENTROPY}, "relu/sigmoid/cross_entropy"},
    {{ACT_RELU, OUTPUT_SOFTMAX, COST_QUADRATIC}, "relu/softmax/quadratic"},
    {{ACT_RELU, OUTPUT_SOFTMAX, COST_CROSS_ENTROPY}, "relu/softmax/cross_entropy"},
};
#define N_COMBOS (int)(sizeof COMBOS / sizeof COMBOS[0])

/* The batch: pixel bytes and labels. */
typedef struct {
    uint8_t pixels[N_EX][MAX_UNITS];
    const uint8_t *rows[N_EX];
    uint8_t labels[N_EX];
} Batch;

/* ---- the float64 network, from the math ---- */

/* A network in float64: downhill's layout, a kind and its parameters (n_params, layout order). */
typedef struct {
    const Layout *lay;
    NetKind kind;
    const double *theta;
} Net64;

/* One example's pass: inputs, pre-activations z, activations a, deltas dC/dz per layer. */
typedef struct {
    double x[MAX_UNITS];
    double z[N_LAYERS][MAX_UNITS], a[N_LAYERS][MAX_UNITS], d[N_LAYERS][MAX_UNITS];
} Pass64;

static double logistic(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

/* hidden: the hidden activation f(z). */
static double hidden(Activation act, double z)
{
    if (act == ACT_TANH)
        return tanh(z);
    if (act == ACT_RELU)
        return z > 0 ? z : 0;
    return logistic(z);
}

/* hidden_slope: f'(z), from z: s (1 - s), 1 - tanh^2, the step at 0. */
static double hidden_slope(Activation act, double z)
{
    if (act == ACT_TANH)
        return 1.0 - tanh(z) * tanh(z);
    if (act == ACT_RELU)
        return z > 0 ? 1.0 : 0.0;
    return logistic(z) * (1.0 - logistic(z));
}

/* forward64: z_l = b_l + W_l a_{l-1} (a_0 = bytes / 255); hidden a = f(z); output a =
 * logistic(z) per unit, or softmax(z) = e^(z - max) / sum e^(z - max). */
static void forward64(const Net64 *net, const uint8_t *pixels, Pass64 *p)
{
    const Layout *lay = net->lay;
    int L = lay->n_layers - 1;
    for (int k = 0; k < lay->n[0]; k++)
        p->a[0][k] = p->x[k] = pixels[k] / 255.0;
    for (int l = 1; l <= L; l++)
        for (int j = 0; j < lay->n[l]; j++) {
            double z = net->theta[lay->b_off[l] + (size_t)j];
            for (int k = 0; k < lay->n[l - 1]; k++)
                z += net->theta[layout_weight(lay, l, j, k)] * p->a[l - 1][k];
            p->z[l][j] = z;
            p->a[l][j] = l < L ? hidden(net->kind.hidden, z) : logistic(z);
        }
    if (net->kind.output != OUTPUT_SOFTMAX)
        return;
    double top = p->z[L][0], total = 0;
    for (int j = 1; j < lay->n[L]; j++)
        top = p->z[L][j] > top ? p->z[L][j] : top;
    for (int j = 0; j < lay->n[L]; j++)
        total += p->a[L][j] = exp(p->z[L][j] - top);
    for (int j = 0; j < lay->n[L]; j++)
        p->a[L][j] /= total;
}

/* cost64: quadratic sum_j (a_j - y_j)^2; cross-entropy: with sigmoid outputs
 * -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)], with softmax -ln a_label (y one-hot). */
static double cost64(const Net64 *net, const Pass64 *p, int label)
{
    int L = net->lay->n_layers - 1;
    const double *a = p->a[L];
    if (net->kind.cost == COST_CROSS_ENTROPY && net->kind.output == OUTPUT_SOFTMAX)
        return -log(a[label]);
    double c = 0;
    for (int j = 0; j < net->lay->n[L]; j++) {
        double y = j == label ? 1.0 : 0.0;
        if (net->kind.cost == COST_CROSS_ENTROPY)
            c -= y * log(a[j]) + (1.0 - y) * log(1.0 - a[j]);
        else
            c += (a[j] - y) * (a[j] - y);
    }
    return c;
}

/* output_deltas64: dC/dz_L by the chain rule through the output's Jacobian: g = dC/da
 * (2 (a - y); -y/a + (1 - y)/(1 - a); -1/a_label at the label), then for logistic outputs
 * d_j = g_j a_j (1 - a_j), for softmax d_j = a_j (g_j - sum_k a_k g_k). */
static void output_deltas64(const Net64 *net, Pass64 *p, int label)
{
    int L = net->lay->n_layers - 1, n = net->lay->n[L];
    const double *a = p->a[L];
    double g[MAX_UNITS], dot = 0;
    for (int j = 0; j < n; j++) {
        double y = j == label ? 1.0 : 0.0;
        if (net->kind.cost == COST_QUADRATIC)
            g[j] = 2.0 * (a[j] - y);
        else if (net->kind.output == OUTPUT_SOFTMAX)
            g[j] = j == label ? -1.0 / a[j] : 0.0;
        else
            g[j] = -y / a[j] + (1.0 - y) / (1.0 - a[j]);
        dot += a[j] * g[j];
    }
    for (int j = 0; j < n; j++)
        p->d[L][j] = net->kind.output == OUTPUT_SOFTMAX ? a[j] * (g[j] - dot)
                                                        : g[j] * a[j] * (1.0 - a[j]);
}

/* backward64: the deltas of every layer, d_{l-1} = (W_l^T d_l) f'(z_{l-1}), and ADDS the
 * example's gradient to grad (layout order): dW_l[j][k] = d_l[j] a_{l-1}[k], db_l = d_l. */
static void backward64(const Net64 *net, Pass64 *p, int label, double *grad)
{
    const Layout *lay = net->lay;
    int L = lay->n_layers - 1;
    output_deltas64(net, p, label);
    for (int l = L; l > 1; l--)
        for (int k = 0; k < lay->n[l - 1]; k++) {
            double s = 0;
            for (int j = 0; j < lay->n[l]; j++)
                s += net->theta[layout_weight(lay, l, j, k)] * p->d[l][j];
            p->d[l - 1][k] = s * hidden_slope(net->kind.hidden, p->z[l - 1][k]);
        }
    for (int l = 1; l <= L; l++)
        for (int j = 0; j < lay->n[l]; j++) {
            for (int k = 0; k < lay->n[l - 1]; k++)
                grad[layout_weight(lay, l, j, k)] += p->d[l][j] * p->a[l - 1][k];
            grad[lay->b_off[l] + (size_t)j] += p->d[l][j];
        }
}

/* batch64: the batch's summed cost; with grad, also ADDS its summed gradient; with kink,
 * the smallest |z| of a hidden unit over the batch. */
static double batch64(const Net64 *net, const Batch *b, double *grad, double *kink)
{
    Pass64 p;
    double cost = 0;
    for (int i = 0; i < N_EX; i++) {
        forward64(net, b->rows[i], &p);
        cost += cost64(net, &p, b->labels[i]);
        for (int l = 1; kink && l < net->lay->n_layers - 1; l++)
            for (int j = 0; j < net->lay->n[l]; j++)
                *kink = fmin(*kink, fabs(p.z[l][j]));
        if (grad)
            backward64(net, &p, b->labels[i], grad);
    }
    return cost;
}

/* ---- the checks ---- */

/* Largest errors of one comparison, for the summary line. */
typedef struct {
    double worst; /* largest error / allowed error */
    size_t bad;   /* entries beyond the allowed error */
} Tally;

static void tally(Tally *t, double err, double allowed, const char *what, size_t i, double got,
                  double want)
{
    t->worst = fmax(t->worst, err / allowed);
    if (err > allowed && t->bad++ < 4)
        fprintf(stderr, "  %s[%zu]: %.10g, want %.10g\n", what, i, got, want);
}

/* check_differences: every analytic float64 gradient against central differences of the
 * float64 cost; returns the largest error / allowed, and in *rel the largest relative
 * error of the entries over 1e-6. */
static double check_differences(const Combo *c, const Layout *lay, double *theta,
                                const double *grad, const Batch *b, double *rel)
{
    Net64 net = {.lay = lay, .kind = c->kind, .theta = theta};
    Tally t = {0};
    *rel = 0;
    for (size_t i = 0; i < lay->n_params; i++) {
        double keep = theta[i];
        theta[i] = keep + FD_H;
        double up = batch64(&net, b, NULL, NULL);
        theta[i] = keep - FD_H;
        double down = batch64(&net, b, NULL, NULL);
        theta[i] = keep;
        double fd = (up - down) / (2 * FD_H), err = fabs(fd - grad[i]);
        tally(&t, err, FD_REL * fabs(fd) + FD_ABS, "central difference", i, grad[i], fd);
        if (fabs(fd) > 1e-6)
            *rel = fmax(*rel, err / fabs(fd));
    }
    CHECK(t.bad == 0, "%s: %zu of %zu float64 gradients differ from central differences "
          "(largest error %.3g of the allowed)", c->name, t.bad, lay->n_params, t.worst);
    return t.worst;
}

/* grad_allowed: the error allowed of downhill's float32 gradient entry near g. */
static double grad_allowed(double g, double gmax)
{
    return F32_REL * (fabs(g) + F32_FLOOR * gmax);
}

/* check_float_gradient: downhill's forward pass, cost and summed gradient of the batch
 * (float32) against the float64 ones; returns the largest error / allowed. */
static double check_float_gradient(const Combo *c, const Model *m, Workspace *w,
                                   const Batch *b, const double *grad64, double gmax,
                                   double cost64)
{
    const Layout *lay = &m->layout;
    int L = lay->n_layers - 1;
    Net64 net = {.lay = lay, .kind = c->kind};
    double *theta = malloc(sizeof *theta * lay->n_params);
    Real *grad = calloc(lay->n_params, sizeof *grad);
    for (size_t i = 0; i < lay->n_params; i++)
        theta[i] = (double)m->params[i];
    net.theta = theta;
    model_load_inputs(lay, w, b->rows, N_EX);
    model_forward(m, w, N_EX);
    double cost = model_cost(m, w, b->labels, N_EX, NULL, NULL);
    Tally out = {0};
    for (int i = 0; i < N_EX; i++) { /* the outputs, each within float32's rounding */
        Pass64 p;
        forward64(&net, b->rows[i], &p);
        for (int j = 0; j < lay->n[L]; j++) {
            double got = w->a[L][(size_t)i * lay->n[L] + j];
            tally(&out, fabs(got - p.a[L][j]), 1e-5, "output", (size_t)(i * lay->n[L] + j), got,
                  p.a[L][j]);
        }
    }
    CHECK(out.bad == 0, "%s: %zu outputs of model_forward differ from float64's by over 1e-5",
          c->name, out.bad);
    CHECK(fabs(cost - cost64) <= 1e-5 * cost64, "%s: model_cost %.9g, float64 cost %.9g",
          c->name, cost, cost64);
    model_backward(m, w, b->labels, N_EX, grad);
    Tally t = {0};
    for (size_t i = 0; i < lay->n_params; i++)
        tally(&t, fabs(grad[i] - grad64[i]), grad_allowed(grad64[i], gmax), "model_backward", i,
              grad[i], grad64[i]);
    CHECK(t.bad == 0, "%s: %zu of %zu gradients of model_backward beyond float32's tolerance "
          "(largest error %.3g of the allowed)", c->name, t.bad, lay->n_params, t.worst);
    free(grad);
    free(theta);
    return t.worst;
}

/* step_allowed: the error allowed of a float32 step's result near theta' = theta - eta g / n:
 * its rounding (2 ulp) plus the gradient's allowed error times eta / n. */
static double step_allowed(double next, double g, double gmax)
{
    return ldexp(fabs(next), -22) + ETA / N_EX * grad_allowed(g, gmax);
}

/* compare_step: a step's float32 result (layout order) against theta - eta mean gradient
 * in float64; counts in *moved the parameters whose step is over 10 times the tolerance
 * (so the check tells a step from none). Returns the largest error / allowed. */
static double compare_step(const Combo *c, const char *path, const Real *got,
                           const Real *theta, const double *grad64, double gmax, size_t n,
                           size_t *moved)
{
    Tally t = {0};
    *moved = 0;
    for (size_t i = 0; i < n; i++) {
        double next = (double)theta[i] - ETA * (grad64[i] / N_EX);
        double allowed = step_allowed(next, grad64[i], gmax);
        tally(&t, fabs((double)got[i] - next), allowed, path, i, got[i], next);
        *moved += fabs(next - (double)theta[i]) > 10 * allowed;
    }
    CHECK(t.bad == 0, "%s: %zu of %zu parameters after one step (%s) differ from float64's "
          "(largest error %.3g of the allowed)", c->name, t.bad, n, path, t.worst);
    CHECK(*moved >= n / 2, "%s: only %zu of %zu parameters moved clearly in the step (%s)",
          c->name, *moved, n, path);
    return t.worst;
}

/* check_float_step: the engine's float update (update.c: theta <- fma(-(eta / n), sum,
 * theta) in Real) of model_backward's summed gradient. */
static double check_float_step(const Combo *c, const Model *m, Workspace *w, const Batch *b,
                               const double *grad64, double gmax)
{
    const Layout *lay = &m->layout;
    Real *grad = calloc(lay->n_params, sizeof *grad), *next = malloc(sizeof *next * lay->n_params);
    model_load_inputs(lay, w, b->rows, N_EX);
    model_forward(m, w, N_EX);
    model_backward(m, w, b->labels, N_EX, grad);
    const Real rs = (Real)(ETA / N_EX);
    for (size_t i = 0; i < lay->n_params; i++)
#ifdef DOWNHILL_DOUBLE
        next[i] = fma(-rs, grad[i], m->params[i]);
#else
        next[i] = fmaf(-rs, grad[i], m->params[i]);
#endif
    size_t moved;
    double worst = compare_step(c, "float", next, m->params, grad64, gmax, lay->n_params, &moved);
    free(next);
    free(grad);
    return worst;
}

#ifndef DOWNHILL_DOUBLE
/* check_ref_step: ref_step (exact sums, groups of 2) of the same kind on the same weights;
 * its parameters are in the files' layout (W1 row-major), mapped back to the layout's
 * order. */
static double check_ref_step(const Combo *c, const Model *m, const Batch *b,
                             const double *grad64, double gmax, double cost64)
{
    const Layout *lay = &m->layout;
    RefNet ref;
    Err e;
    if (!CHECK(ref_net_init_kind(&ref, SIZES, N_LAYERS, 1, &c->kind, INIT_NORMAL, &e) == 0,
               "ref_net_init_kind: %s", e.msg))
        return 0;
    size_t w1 = lay->b_off[1];
    layout_w1_export(lay, m->params, ref.params);
    memcpy(ref.params + w1, m->params + w1, sizeof(Real) * (lay->n_params - w1));
    const uint8_t *rows[N_EX];
    memcpy(rows, b->rows, sizeof rows);
    RefBatch batch = {.lanes = N_EX, .group = 2, .rows = rows, .labels = b->labels};
    RefResult res = ref_step(&ref, &batch, ETA);
    CHECK(res.count == N_EX && !res.diverged, "%s: ref_step took %lld examples, diverged %d",
          c->name, (long long)res.count, res.diverged);
    double cost = ldexp((double)res.cost, -32);
    CHECK(fabs(cost - cost64) <= 1e-5 * cost64, "%s: ref_step's cost %.9g, float64 %.9g",
          c->name, cost, cost64);
    Real *next = malloc(sizeof *next * lay->n_params);
    layout_w1_import(lay, ref.params, next);
    memcpy(next + w1, ref.params + w1, sizeof(Real) * (lay->n_params - w1));
    size_t moved;
    double worst =
        compare_step(c, "ref_step", next, m->params, grad64, gmax, lay->n_params, &moved);
    free(next);
    ref_net_free(&ref);
    return worst;
}
#endif

/* ---- setup ---- */

/* make_batch: random pixel bytes from seed; labels cycle through the outputs. */
static void make_batch(Batch *b, uint64_t seed)
{
    Rng r;
    rng_init(&r, seed);
    for (int i = 0; i < N_EX; i++) {
        for (int k = 0; k < SIZES[0]; k++)
            b->pixels[i][k] = (uint8_t)rng_below(&r, 256);
        b->rows[i] = b->pixels[i];
        b->labels[i] = (uint8_t)(i % SIZES[N_LAYERS - 1]);
    }
}

/* make_weights: W_l ~ N(0, 1 / n[l-1]), b_l ~ N(0, 0.3^2), from seed (rounded to Real). */
static void make_weights(Model *m, uint64_t seed)
{
    const Layout *lay = &m->layout;
    Rng r;
    rng_init(&r, seed);
    for (int l = 1; l < lay->n_layers; l++)
        for (int j = 0; j < lay->n[l]; j++) {
            for (int k = 0; k < lay->n[l - 1]; k++)
                m->params[layout_weight(lay, l, j, k)] =
                    (Real)(rng_normal(&r) / sqrt((double)lay->n[l - 1]));
            m->params[lay->b_off[l] + (size_t)j] = (Real)(0.3 * rng_normal(&r));
        }
}

/* check_combo: all checks of one combination on the model's weights. */
static void check_combo(const Combo *c, Model *m, Workspace *w, const Batch *b)
{
    const Layout *lay = &m->layout;
    m->layout.kind = c->kind;
    double *theta = malloc(sizeof *theta * lay->n_params);
    double *grad = calloc(lay->n_params, sizeof *grad);
    for (size_t i = 0; i < lay->n_params; i++)
        theta[i] = (double)m->params[i];
    Net64 net = {.lay = lay, .kind = c->kind, .theta = theta};
    double kink = INFINITY, gmax = 0;
    double cost = batch64(&net, b, grad, &kink);
    for (size_t i = 0; i < lay->n_params; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    CHECK(c->kind.hidden != ACT_RELU || kink > KINK,
          "%s: a hidden z is %.3g from the ReLU's kink: choose other weights", c->name, kink);
    CHECK(gmax > 1e-2, "%s: the gradient is (nearly) zero: max |g| %.3g", c->name, gmax);
    double rel, fd = check_differences(c, lay, theta, grad, b, &rel);
    double f32 = check_float_gradient(c, m, w, b, grad, gmax, cost);
    double step = check_float_step(c, m, w, b, grad, gmax);
    char ref[32] = "";
#ifndef DOWNHILL_DOUBLE
    snprintf(ref, sizeof ref, " | %.3f", check_ref_step(c, m, b, grad, gmax, cost));
#endif
    printf("%-30s %8.5f %6.3f | %.2f (%.0e) | %.3f | %.3f%s\n", c->name, cost, gmax, fd, rel,
           f32, step, ref);
    free(grad);
    free(theta);
}

int main(void)
{
    Model m;
    Workspace w;
    Err e;
    if (!CHECK(model_init(&m, SIZES, N_LAYERS, 1, &e) == 0 &&
               workspace_init(&w, &m.layout, N_EX, &e) == 0, "setup: %s", e.msg))
        return check_report("test_gradcheck");
    CHECK(m.layout.split == 16 && m.layout.n_params == 351,
          "layout: split %d, %zu parameters; want 16 and 351 (W1 in two blocks)",
          m.layout.split, m.layout.n_params);
    Batch b;
    make_batch(&b, 42);
    make_weights(&m, 7);
    setvbuf(stdout, NULL, _IOLBF, 0); /* the table's lines between the FAIL lines */
    printf("test_gradcheck: 40-7-5-4, %d examples. Per kind: float64 cost and largest "
           "|gradient|; the largest error / allowed of central differences (their largest "
           "relative error), of model_backward, of the float step, of ref_step\n", N_EX);
    for (int c = 0; c < N_COMBOS; c++)
        check_combo(&COMBOS[c], &m, &w, &b);
    workspace_free(&w);
    model_free(&m);
    return check_report("test_gradcheck");
}
