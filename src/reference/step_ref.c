/* step_ref.c: the reference step (see step_ref.h and docs/DESIGN.md, "The reference step").
 * Compiled with -ffp-contract=off: every operation is rounded as written, and a fused
 * multiply-add happens exactly where fmaf / fma stands. */
#include "reference/step_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

#ifdef DOWNHILL_DOUBLE
#error "the reference step is the float32 arithmetic's specification"
#endif

#define SCALE 4294967296.0 /* 2^32: fixed point's unit is 2^-32 */
#define INPUT_DIV 255      /* an input byte b stands for b / 255 */
#define WIDE_MIN 64        /* a weight layer l >= 2 with this many inputs is wide */
#define WIDE_ABITS 15      /* a wide layer's activations: A = round(a 2^(15 - e)) */
#define WIDE_ATOP 32767    /* 2^15 - 1: the largest A */

/* init_sd: the standard deviation of layer l's weights for init (not AUTO), in double. */
static double init_sd(const int *sizes, int l, InitKind init)
{
    double fan_in = sizes[l - 1], fan_out = sizes[l];
    if (init == INIT_GLOROT)
        return sqrt(2.0 / (fan_in + fan_out));
    if (init == INIT_HE)
        return sqrt(2.0 / fan_in);
    return 1.0 / sqrt(fan_in);
}

int ref_net_init(RefNet *net, const int *sizes, int n_layers, uint64_t seed, Err *e)
{
    NetKind seed_kind = {0};
    return ref_net_init_kind(net, sizes, n_layers, seed, &seed_kind, INIT_NORMAL, e);
}

int ref_net_init_kind(RefNet *net, const int *sizes, int n_layers, uint64_t seed,
                      const NetKind *kind, InitKind init, Err *e)
{
    memset(net, 0, sizeof *net);
    net->kind = *kind;
    if (init == INIT_AUTO)
        init = kind->hidden == ACT_RELU ? INIT_HE : kind->hidden == ACT_TANH ? INIT_GLOROT
                                                                              : INIT_NORMAL;
    if (n_layers < 2 || n_layers > REF_MAX_LAYERS)
        return err_set(e, "reference: %d layer sizes, expected 2 to %d", n_layers,
                       REF_MAX_LAYERS);
    net->n_layers = n_layers;
    for (int l = 0; l < n_layers; l++)
        net->n[l] = sizes[l];
    for (int l = 1; l < n_layers; l++)
        net->n_params += (size_t)sizes[l] * (size_t)(sizes[l - 1] + 1);
    int half = (sizes[0] / 2 + 8) / 16 * 16; /* a multiple of 16 near the middle */
    net->split = half < sizes[0] ? half : sizes[0];
    net->params = calloc(net->n_params, sizeof(Real));
    if (!net->params)
        return err_set(e, "reference: out of memory for %zu parameters", net->n_params);
    Real *p = net->params;
    for (int l = 1; l < n_layers; l++) {
        net->W[l] = p;
        net->b[l] = p + (size_t)sizes[l] * (size_t)sizes[l - 1];
        double sd = init_sd(sizes, l, init);
        for (size_t i = 0; i < (size_t)sizes[l] * (size_t)sizes[l - 1]; i++) {
            Rng r;
            rng_init(&r, rng_mix(seed, 0x77656967687473ULL /* "weights" */,
                                 (size_t)(p - net->params) + i));
            net->W[l][i] = (Real)(sd * rng_normal(&r));
        }
        p = net->b[l] + sizes[l];
    }
    return 0;
}

void ref_net_free(RefNet *net)
{
    free(net->params);
    memset(net, 0, sizeof *net);
}

int64_t ref_lane_example(int64_t n, int64_t lanes, uint64_t seed, int64_t epoch, int64_t lane,
                         int64_t pos)
{
    int64_t len = lane < n ? (n - lane + lanes - 1) / lanes : 0;
    if (pos >= len)
        return -1;
    int64_t *order = malloc(sizeof *order * (size_t)len);
    if (!order)
        abort();
    for (int64_t k = 0; k < len; k++)
        order[k] = k;
    Rng r;
    rng_init(&r, rng_mix(seed ^ 0x73687566666c65ULL /* "shuffle" */, (uint64_t)epoch,
                         (uint64_t)lane));
    for (int64_t k = len - 1; k > 0; k--) {
        int64_t j = (int64_t)rng_below(&r, (uint64_t)k + 1), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    int64_t example = order[pos] * lanes + lane;
    free(order);
    return example;
}

/* ---- one example's forward and backward pass, in float32 ---- */

/* dot: sum_k w[k] x[k] over n terms: sixteen partial sums s[u] over k = u mod 16 (one fused
 * multiply-add per term), folded to eight (s[u] + s[u + 8]), added as
 * ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)); the terms past the last whole sixteen
 * are then added in order, one fused multiply-add each. */
static float dot(const float *w, const float *x, int n)
{
    float s[16] = {0};
    int k = 0;
    for (; k + 16 <= n; k += 16)
        for (int u = 0; u < 16; u++)
            s[u] = fmaf(w[k + u], x[k + u], s[u]);
    for (int u = 0; u < 8; u++)
        s[u] = s[u] + s[u + 8];
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; k < n; k++)
        t = fmaf(w[k], x[k], t);
    return t;
}

/* expo: e^x as Cephes' expf: x clamped to [-88, 88], x = m ln2 + r with m = round(x log2 e)
 * and ln2 in two parts, a degree-7 polynomial in r, scaled by 2^m. */
static float expo(float x)
{
    if (x > 88.0f)
        x = 88.0f;
    if (x < -88.0f)
        x = -88.0f;
    float m = nearbyintf(x * 1.44269504088896341f);
    float r = fmaf(-m, 0.693359375f, x);
    r = fmaf(-m, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    return x == x ? ldexpf(y, (int)m) : x; /* NaN stays NaN */
}

/* sigmoid: 1 / (1 + e^-z). */
static float sigmoid(float z)
{
    return 1.0f / (1.0f + expo(0.0f - z));
}

/* hidden: the hidden activation: sigmoid; tanh(z) = 2 sigmoid(2 z) - 1; relu z > 0 ? z : 0
 * (NaN kept). */
static float hidden(Activation act, float z)
{
    if (act == ACT_TANH)
        return 2.0f * sigmoid(2.0f * z) - 1.0f;
    if (act == ACT_RELU)
        return z > 0.0f || z != z ? z : 0.0f;
    return sigmoid(z);
}

/* softmax: a[j] = e^(z[j] - m) / s, m the largest z[j] (the first of equal ones), s the sum
 * of the e^(z[k] - m) in order from 0. */
static void softmax(const float *z, float *a, int n)
{
    float m = z[0], s = 0.0f;
    for (int j = 1; j < n; j++)
        if (z[j] > m)
            m = z[j];
    for (int j = 0; j < n; j++) {
        a[j] = expo(z[j] - m);
        s = s + a[j];
    }
    for (int j = 0; j < n; j++)
        a[j] = a[j] / s;
}

/* ln: the natural logarithm in double from basic operations: x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), s = (m - 1) / (m + 1), ln m = 2 s + s s^2 p with p = 2/23, then
 * p = p s^2 + 2 / (2k + 1) for k = 10 down to 1; ln x = e ln2 + ln m. */
static double ln(double x)
{
    int ex;
    double m = frexp(x, &ex);
    if (m < 0.70710678118654752) {
        m = m * 2;
        ex = ex - 1;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, p = 2.0 / 23;
    for (int k = 10; k >= 1; k--)
        p = p * s2 + 2.0 / (2 * k + 1);
    return (double)ex * 0.69314718055994531 + (2 * s + s * s2 * p);
}

/* neg_ln: -ln(max(p, 2^-64)): the cross-entropy's floor, so ln 0 is never taken. */
static double neg_ln(double p)
{
    return 0.0 - ln(p < 0x1p-64 ? 0x1p-64 : p);
}

/* Scratch of one example: activations a[l] and deltas d[l] (n[l] each), inputs x (n0). */
typedef struct {
    float *x, *a[REF_MAX_LAYERS], *d[REF_MAX_LAYERS];
} Pass;

/* activate: a (n[l]) holds layer l's z; replaced by its activations: the output layer's
 * (sigmoid each, or softmax) for l = L, the hidden activation below. */
static void activate(const RefNet *net, int l, float *a)
{
    if (l == net->n_layers - 1 && net->kind.output == OUTPUT_SOFTMAX) {
        softmax(a, a, net->n[l]);
        return;
    }
    Activation act = l == net->n_layers - 1 ? ACT_SIGMOID : net->kind.hidden;
    for (int j = 0; j < net->n[l]; j++)
        a[j] = hidden(act, a[j]);
}

/* forward: the activations of one example. Layer 1 sums its dot products in two parts,
 * columns [0, split) and [split, n0), each in dot's order: z = b + (z0 + z1). */
static void forward(const RefNet *net, const uint8_t *pixels, Pass *p)
{
    int n0 = net->n[0], h = net->split;
    for (int k = 0; k < n0; k++)
        p->x[k] = (float)pixels[k] / 255.0f;
    for (int j = 0; j < net->n[1]; j++) {
        const float *w = net->W[1] + (size_t)j * n0;
        float z0 = dot(w, p->x, h), z1 = dot(w + h, p->x + h, n0 - h);
        p->a[1][j] = net->b[1][j] + (z0 + z1);
    }
    activate(net, 1, p->a[1]);
    for (int l = 2; l < net->n_layers; l++) {
        for (int j = 0; j < net->n[l]; j++) {
            float z = dot(net->W[l] + (size_t)j * net->n[l - 1], p->a[l - 1], net->n[l - 1]);
            p->a[l][j] = net->b[l][j] + z;
        }
        activate(net, l, p->a[l]);
    }
}

/* cost: the example's cost in double. Quadratic: sum_j (a_j - y_j)^2, one fused multiply-add
 * per output, in order. Cross-entropy: softmax -ln a_label; sigmoid the sum in order of
 * -ln a_j (j the label) or -ln(1 - a_j) (the others), each through neg_ln's floor. */
static double cost(const RefNet *net, const Pass *p, int label)
{
    int L = net->n_layers - 1;
    const float *a = p->a[L];
    if (net->kind.cost == COST_CROSS_ENTROPY && net->kind.output == OUTPUT_SOFTMAX)
        return neg_ln((double)a[label]);
    double c = 0;
    for (int j = 0; j < net->n[L]; j++) {
        if (net->kind.cost == COST_CROSS_ENTROPY) {
            c = c + neg_ln(j == label ? (double)a[j] : 1.0 - (double)a[j]);
            continue;
        }
        double diff = (double)a[j] - (j == label ? 1.0 : 0.0);
        c = fma(diff, diff, c);
    }
    return c;
}

/* output_deltas: dC/dz of the output layer: quadratic + sigmoid 2 (a - y) a (1 - a) (left to
 * right); cross-entropy a - y; quadratic + softmax a_j (g_j - s) with g = 2 (a - y) and
 * s = sum_k a_k g_k by fused multiply-adds in order from 0. */
static void output_deltas(const RefNet *net, Pass *p, int label)
{
    int L = net->n_layers - 1, n = net->n[L];
    const float *a = p->a[L];
    float s = 0.0f;
    for (int k = 0; k < n; k++)
        s = fmaf(a[k], 2.0f * (a[k] - (k == label ? 1.0f : 0.0f)), s);
    for (int j = 0; j < n; j++) {
        float y = j == label ? 1.0f : 0.0f;
        if (net->kind.cost == COST_CROSS_ENTROPY)
            p->d[L][j] = a[j] - y;
        else if (net->kind.output == OUTPUT_SOFTMAX)
            p->d[L][j] = a[j] * (2.0f * (a[j] - y) - s);
        else
            p->d[L][j] = 2.0f * (a[j] - y) * a[j] * (1.0f - a[j]);
    }
}

/* derivative: the hidden activation's derivative from its output a: sigmoid a (1 - a), tanh
 * fma(-a, a, 1), relu 1 if a > 0, else 0. */
static float derivative(Activation act, float a)
{
    if (act == ACT_TANH)
        return fmaf(-a, a, 1.0f);
    if (act == ACT_RELU)
        return a > 0.0f ? 1.0f : 0.0f;
    return a * (1.0f - a);
}

/* backward: the deltas dC/dz of every layer: output_deltas, then (W_l^T d_l) * g(a), each
 * sum over j in order by fused multiply-adds from 0. */
static void backward(const RefNet *net, Pass *p, int label)
{
    int L = net->n_layers - 1;
    output_deltas(net, p, label);
    for (int l = L; l > 1; l--)
        for (int k = 0; k < net->n[l - 1]; k++) {
            float s = 0.0f;
            for (int j = 0; j < net->n[l]; j++)
                s = fmaf(net->W[l][(size_t)j * net->n[l - 1] + k], p->d[l][j], s);
            p->d[l - 1][k] = s * derivative(net->kind.hidden, p->a[l - 1][k]);
        }
}

/* ---- the exact sums ---- */

/* The step's sums: one int64 per parameter (W1's in units 2^-32 / 255, wide layers' weights
 * in 2^-(F + 15), the others' in 2^-32), a group's float sums, and the bound one term may
 * reach. */
typedef struct {
    int64_t *sum;   /* (n_params) */
    float *group;   /* (n_params) the current group's float sums (W1's and wide weights' unused) */
    double limit;   /* largest |scaled term|: the total of `lanes` terms stays below 2^62 */
    int delta_bits; /* F: 32, or 43 - ceil(log2 lanes) for more than 2048 lanes */
    int64_t bad;    /* terms not finite or beyond the limit */
} Sums;

/* to_fixed: round(v 2^32), half to even; counted bad (adds nothing) when not finite or
 * beyond the limit. */
static int64_t to_fixed(double v, Sums *s)
{
    double y = v * SCALE;
    if (!(fabs(y) <= s->limit)) {
        s->bad++;
        return 0;
    }
    return (int64_t)nearbyint(y);
}

/* add_first_layer: W1's sums += D_j b_k with D_j = round(d1_j 2^32) per example, in
 * integers (a bound of 255 |D| per term). */
static void add_first_layer(const RefNet *net, const Pass *p, const uint8_t *pixels, Sums *s)
{
    int n0 = net->n[0];
    for (int j = 0; j < net->n[1]; j++) {
        double y = (double)p->d[1][j] * SCALE;
        int64_t D = 0;
        if (fabs(y) * INPUT_DIV <= s->limit)
            D = (int64_t)nearbyint(y);
        else
            s->bad++;
        int64_t *row = s->sum + (size_t)j * n0;
        for (int k = 0; k < n0; k++)
            row[k] += D * pixels[k];
    }
}

/* wide: 1 if weight layer l is wide: l >= 2 with at least 64 inputs. */
static int wide(const RefNet *net, int l)
{
    return l >= 2 && net->n[l - 1] >= WIDE_MIN;
}

/* add_wide_layer: a wide layer's sums += D_j A_k in integers, per example: e the smallest
 * integer with max |a_k| < 2^e (0 when all are 0), A_k = min(round(a_k 2^(15 - e)), 2^15 - 1),
 * D_j = round(d_j 2^(F + e)) (bad and 0 when not finite or |D_j| 2^15 beyond the limit); a
 * non-finite a_k: one bad value, nothing added. Units 2^-(F + 15). */
static void add_wide_layer(const RefNet *net, const Pass *p, int l, Sums *s)
{
    int n_in = net->n[l - 1];
    const float *a = p->a[l - 1];
    float m = 0.0f;
    for (int k = 0; k < n_in; k++) {
        if (!isfinite(a[k])) {
            s->bad++;
            return;
        }
        m = fabsf(a[k]) > m ? fabsf(a[k]) : m;
    }
    int e = 0;
    if (m > 0.0f)
        frexp((double)m, &e);
    int64_t *A = malloc(sizeof *A * (size_t)n_in);
    if (!A)
        abort();
    for (int k = 0; k < n_in; k++) {
        double v = nearbyint((double)a[k] * ldexp(1.0, WIDE_ABITS - e));
        A[k] = v < WIDE_ATOP ? (int64_t)v : WIDE_ATOP;
    }
    size_t w = (size_t)(net->W[l] - net->params);
    for (int j = 0; j < net->n[l]; j++) {
        double y = (double)p->d[l][j] * ldexp(1.0, s->delta_bits + e);
        int64_t D = 0;
        if (fabs(y) * (1 << WIDE_ABITS) <= s->limit)
            D = (int64_t)nearbyint(y);
        else
            s->bad++;
        for (int k = 0; k < n_in; k++)
            s->sum[w + (size_t)j * n_in + k] += D * A[k];
    }
    free(A);
}

/* add_to_group: the example's terms of every other parameter into the group's float sums:
 * W_l (l >= 2, not wide) by fused multiply-adds d_l[j] a_{l-1}[k], biases by additions of
 * d_l[j]. */
static void add_to_group(const RefNet *net, const Pass *p, Sums *s)
{
    for (int l = 1; l < net->n_layers; l++) {
        size_t w = (size_t)(net->W[l] - net->params), b = (size_t)(net->b[l] - net->params);
        for (int j = 0; l > 1 && !wide(net, l) && j < net->n[l]; j++)
            for (int k = 0; k < net->n[l - 1]; k++) {
                size_t at = w + (size_t)j * net->n[l - 1] + k;
                s->group[at] = fmaf(p->d[l][j], p->a[l - 1][k], s->group[at]);
            }
        for (int j = 0; j < net->n[l]; j++)
            s->group[b + j] = s->group[b + j] + p->d[l][j];
    }
}

/* close_group: the group's float sums, each rounded once to fixed point, into the sums;
 * the group's sums back to 0 for the next group. */
static void close_group(const RefNet *net, Sums *s)
{
    size_t w1 = (size_t)net->n[1] * (size_t)net->n[0];
    for (size_t i = w1; i < net->n_params; i++) {
        s->sum[i] += to_fixed((double)s->group[i], s);
        s->group[i] = 0.0f;
    }
}

/* descend: theta <- theta - step (v unit) in double, one fused multiply-add, rounded once
 * to float, for n parameters (unit 2^-32, or a wide layer's 2^-(F + 15): exact). */
static void descend(Real *theta, const int64_t *sum, size_t n, double step, double unit)
{
    for (size_t i = 0; i < n; i++)
        theta[i] = (Real)fma(-step, (double)sum[i] * unit, (double)theta[i]);
}

/* descend_rule: the update with momentum or weight decay, every parameter in the files'
 * order: g = S unit (unit = 2^-32 / count, W1's 2^-32 / 255 / count, a wide layer's weights'
 * 2^-(F + 15) / count), on weights with
 * lambda > 0 g = fma(lambda, theta, g); with mu > 0 v = fl32(fma(mu, v, g)) and d = v, or
 * d = fma(mu, v, g) (Nesterov), else d = g; theta = fl32(fma(-eta, d, theta)). In double. */
static void descend_rule(RefNet *net, const int64_t *sum, int64_t count, double lr,
                         int delta_bits, RefOptim *o)
{
    for (int l = 1; l < net->n_layers; l++) {
        size_t w = (size_t)(net->W[l] - net->params), b = (size_t)(net->b[l] - net->params);
        double unit = ldexp(1.0, -32) / (double)count;
        double unit1 = ldexp(1.0, -32) / INPUT_DIV / (double)count; /* W1's sums */
        double unitw = ldexp(1.0, -(delta_bits + WIDE_ABITS)) / (double)count; /* wide W_l */
        for (size_t i = w; i < b + (size_t)net->n[l]; i++) {
            double theta = (double)net->params[i], d;
            double g = (double)sum[i] * (i >= b ? unit : l == 1 ? unit1 : wide(net, l) ? unitw
                                                                                      : unit);
            if (i < b && o->weight_decay != 0) /* a weight, not a bias */
                g = fma(o->weight_decay, theta, g);
            d = g;
            if (o->momentum != 0) {
                o->velocity[i] = (Real)fma(o->momentum, (double)o->velocity[i], g);
                d = o->nesterov ? fma(o->momentum, (double)o->velocity[i], g)
                                : (double)o->velocity[i];
            }
            net->params[i] = (Real)fma(-lr, d, theta);
        }
    }
}

/* ---- the step ---- */

static int pass_init(Pass *p, const RefNet *net)
{
    memset(p, 0, sizeof *p);
    p->x = malloc(sizeof(float) * (size_t)net->n[0]);
    int ok = p->x != NULL;
    for (int l = 1; l < net->n_layers; l++) {
        p->a[l] = malloc(sizeof(float) * (size_t)net->n[l]);
        p->d[l] = malloc(sizeof(float) * (size_t)net->n[l]);
        ok &= p->a[l] && p->d[l];
    }
    return ok ? 0 : -1;
}

static void pass_free(Pass *p)
{
    free(p->x);
    for (int l = 1; l < REF_MAX_LAYERS; l++) {
        free(p->a[l]);
        free(p->d[l]);
    }
}

RefResult ref_step(RefNet *net, const RefBatch *batch, double lr)
{
    return ref_step_optim(net, batch, lr, NULL);
}

RefResult ref_step_optim(RefNet *net, const RefBatch *batch, double lr, RefOptim *opt)
{
    RefResult res = {0};
    Pass p;
    Sums s = {.sum = calloc(net->n_params, sizeof(int64_t)),
              .group = calloc(net->n_params, sizeof(float))};
    if (!s.sum || !s.group || pass_init(&p, net) != 0)
        abort(); /* a test helper: the engine's own errors are tested elsewhere */
    s.limit = ldexp(1.0, 62) / (double)batch->lanes;
    if (s.limit > ldexp(1.0, 51))
        s.limit = ldexp(1.0, 51); /* where nearest-even rounding through double is exact */
    int log2_lanes = 0; /* ceil(log2 lanes) */
    while (((int64_t)1 << log2_lanes) < batch->lanes)
        log2_lanes++;
    s.delta_bits = log2_lanes <= 11 ? 32 : 43 - log2_lanes;
    for (int64_t g0 = 0; g0 < batch->lanes; g0 += batch->group) {
        double group_cost = 0;
        for (int64_t lane = g0; lane < g0 + batch->group && lane < batch->lanes; lane++) {
            const uint8_t *pixels = batch->rows[lane];
            if (!pixels)
                continue;
            int label = batch->labels[lane];
            forward(net, pixels, &p);
            group_cost += cost(net, &p, label);
            backward(net, &p, label);
            add_first_layer(net, &p, pixels, &s);
            for (int l = 2; l < net->n_layers; l++)
                if (wide(net, l))
                    add_wide_layer(net, &p, l, &s);
            add_to_group(net, &p, &s);
            res.count++;
        }
        close_group(net, &s);
        res.cost += to_fixed(group_cost, &s);
    }
    res.diverged = s.bad > 0 || res.count == 0;
    if (!res.diverged && opt && (opt->momentum != 0 || opt->weight_decay != 0)) {
        descend_rule(net, s.sum, res.count, lr, s.delta_bits, opt);
    } else if (!res.diverged) {
        size_t w1 = (size_t)net->n[1] * (size_t)net->n[0];
        descend(net->params, s.sum, w1, lr / (double)res.count / INPUT_DIV, 1.0 / SCALE);
        for (int l = 1; l < net->n_layers; l++) { /* W_l (l >= 2), b_l */
            size_t w = (size_t)(net->W[l] - net->params), b = (size_t)(net->b[l] - net->params);
            double unit = wide(net, l) ? ldexp(1.0, -(s.delta_bits + WIDE_ABITS)) : 1.0 / SCALE;
            if (l > 1)
                descend(net->params + w, s.sum + w, b - w, lr / (double)res.count, unit);
            descend(net->params + b, s.sum + b, (size_t)net->n[l], lr / (double)res.count,
                    1.0 / SCALE);
        }
    }
    pass_free(&p);
    free(s.group);
    free(s.sum);
    return res;
}

int ref_matches_build(void)
{
    return 1; /* every float build's kernels follow the reference (fmaf from libm without FMA) */
}

const char *ref_build_arithmetic(void)
{
#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
    return "AVX-512 with FMA: sixteen partial sums, Cephes sigmoid";
#elif defined(__AVX2__) && defined(__FMA__)
    return "AVX2 with FMA: sixteen partial sums, Cephes sigmoid";
#else
    return "no SIMD: sixteen partial sums, Cephes sigmoid, libm's fmaf and fma";
#endif
}
