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

int ref_net_init(RefNet *net, const int *sizes, int n_layers, uint64_t seed, Err *e)
{
    memset(net, 0, sizeof *net);
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
        double sd = 1.0 / sqrt((double)sizes[l - 1]);
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

/* sigmoid: 1 / (1 + e^-z), e^x as Cephes' expf: x clamped to [-88, 88], x = m ln2 + r with
 * m = round(x log2 e) and ln2 in two parts, a degree-7 polynomial in r, scaled by 2^m. */
static float sigmoid(float z)
{
    float x = 0.0f - z;
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
    float e = x == x ? ldexpf(y, (int)m) : x; /* NaN stays NaN */
    return 1.0f / (1.0f + e);
}

/* Scratch of one example: activations a[l] and deltas d[l] (n[l] each), inputs x (n0). */
typedef struct {
    float *x, *a[REF_MAX_LAYERS], *d[REF_MAX_LAYERS];
} Pass;

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
        p->a[1][j] = sigmoid(net->b[1][j] + (z0 + z1));
    }
    for (int l = 2; l < net->n_layers; l++)
        for (int j = 0; j < net->n[l]; j++) {
            float z = dot(net->W[l] + (size_t)j * net->n[l - 1], p->a[l - 1], net->n[l - 1]);
            p->a[l][j] = sigmoid(net->b[l][j] + z);
        }
}

/* cost: sum_j (a_j - y_j)^2 in double, one fused multiply-add per output, in order. */
static double cost(const RefNet *net, const Pass *p, int label)
{
    int L = net->n_layers - 1;
    double c = 0;
    for (int j = 0; j < net->n[L]; j++) {
        double diff = (double)p->a[L][j] - (j == label ? 1.0 : 0.0);
        c = fma(diff, diff, c);
    }
    return c;
}

/* backward: the deltas dC/dz of every layer: 2 (a - y) a (1 - a) at the output, then
 * (W_l^T d_l) * a (1 - a), each sum over j in order by fused multiply-adds from 0. */
static void backward(const RefNet *net, Pass *p, int label)
{
    int L = net->n_layers - 1;
    for (int j = 0; j < net->n[L]; j++) {
        float a = p->a[L][j], y = j == label ? 1.0f : 0.0f;
        p->d[L][j] = 2.0f * (a - y) * a * (1.0f - a);
    }
    for (int l = L; l > 1; l--)
        for (int k = 0; k < net->n[l - 1]; k++) {
            float s = 0.0f;
            for (int j = 0; j < net->n[l]; j++)
                s = fmaf(net->W[l][(size_t)j * net->n[l - 1] + k], p->d[l][j], s);
            float a = p->a[l - 1][k];
            p->d[l - 1][k] = s * (a * (1.0f - a));
        }
}

/* ---- the exact sums ---- */

/* The step's sums: one int64 per parameter (W1's in units 2^-32 / 255, the others' in
 * 2^-32), a group's float sums, and the bound one term may reach. */
typedef struct {
    int64_t *sum;   /* (n_params) */
    float *group;   /* (n_params) the current group's float sums (W1's unused) */
    double limit;   /* largest |scaled term|: the total of `lanes` terms stays below 2^62 */
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

/* add_to_group: the example's terms of every other parameter into the group's float sums:
 * W_l (l >= 2) by fused multiply-adds d_l[j] a_{l-1}[k], biases by additions of d_l[j]. */
static void add_to_group(const RefNet *net, const Pass *p, Sums *s)
{
    for (int l = 1; l < net->n_layers; l++) {
        size_t w = (size_t)(net->W[l] - net->params), b = (size_t)(net->b[l] - net->params);
        for (int j = 0; l > 1 && j < net->n[l]; j++)
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

/* descend: theta <- theta - step (v 2^-32) in double, one fused multiply-add, rounded once
 * to float, for n parameters. */
static void descend(Real *theta, const int64_t *sum, size_t n, double step)
{
    for (size_t i = 0; i < n; i++)
        theta[i] = (Real)fma(-step, (double)sum[i] / SCALE, (double)theta[i]);
}

/* descend_rule: the update with momentum or weight decay, every parameter in the files'
 * order: g = S unit (unit = 2^-32 / count, W1's 2^-32 / 255 / count), on weights with
 * lambda > 0 g = fma(lambda, theta, g); with mu > 0 v = fl32(fma(mu, v, g)) and d = v, or
 * d = fma(mu, v, g) (Nesterov), else d = g; theta = fl32(fma(-eta, d, theta)). In double. */
static void descend_rule(RefNet *net, const int64_t *sum, int64_t count, double lr,
                         RefOptim *o)
{
    for (int l = 1; l < net->n_layers; l++) {
        size_t w = (size_t)(net->W[l] - net->params), b = (size_t)(net->b[l] - net->params);
        double unit = ldexp(1.0, -32) / (double)count;
        double unit1 = ldexp(1.0, -32) / INPUT_DIV / (double)count; /* W1's sums */
        for (size_t i = w; i < b + (size_t)net->n[l]; i++) {
            double theta = (double)net->params[i], d;
            double g = (double)sum[i] * (l == 1 && i < b ? unit1 : unit);
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
            add_to_group(net, &p, &s);
            res.count++;
        }
        close_group(net, &s);
        res.cost += to_fixed(group_cost, &s);
    }
    res.diverged = s.bad > 0 || res.count == 0;
    if (!res.diverged && opt && (opt->momentum != 0 || opt->weight_decay != 0)) {
        descend_rule(net, s.sum, res.count, lr, opt);
    } else if (!res.diverged) {
        size_t w1 = (size_t)net->n[1] * (size_t)net->n[0];
        descend(net->params, s.sum, w1, lr / (double)res.count / INPUT_DIV);
        descend(net->params + w1, s.sum + w1, net->n_params - w1, lr / (double)res.count);
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
