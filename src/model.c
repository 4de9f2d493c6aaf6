/* model.c: forward pass, cost and backpropagation of a fully-connected sigmoid network.
 * Every floating-point sum runs in an order fixed by the source (no reassociation), so
 * the same examples always give the same bits, whatever thread or rank computes them. */
#include "model.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

int layout_init(Layout *lay, const int *sizes, int n_layers, Err *e)
{
    if (n_layers < 2 || n_layers > MODEL_MAX_LAYERS)
        return err_set(e, "model.layers: %d sizes given, expected 2 to %d (inputs, ..., outputs)",
                       n_layers, MODEL_MAX_LAYERS);
    memset(lay, 0, sizeof *lay);
    lay->n_layers = n_layers;
    size_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        if (sizes[l] < 1 || sizes[l] > (1 << 20))
            return err_set(e, "model.layers: size %d of layer %d is outside 1..%d", sizes[l], l,
                           1 << 20);
        lay->n[l] = sizes[l];
        if (sizes[l] > lay->max_width)
            lay->max_width = sizes[l];
        if (l == 0)
            continue;
        size_t w;
        if (mul_size((size_t)sizes[l], (size_t)sizes[l - 1], &w) != 0 ||
            off > SIZE_MAX / 2 - w - (size_t)sizes[l])
            return err_set(e, "model.layers: layer %d (%d x %d) overflows the parameter count", l,
                           sizes[l], sizes[l - 1]);
        lay->w_off[l] = off;
        lay->b_off[l] = off + w;
        off += w + (size_t)sizes[l];
    }
    lay->n_params = off;
    return 0;
}

/* aligned_buffer: n zeroed Reals on a 64-byte boundary, so vector code sees the same
 * alignment on every rank and run; free with free(). */
static Real *aligned_buffer(size_t n, const char *what, Err *e)
{
    size_t bytes;
    if (mul_size(n ? n : 1, sizeof(Real), &bytes) != 0 || bytes > SIZE_MAX - ALIGN) {
        err_set(e, "%s: %zu values overflow the address space", what, n);
        return NULL;
    }
    bytes = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    Real *p = aligned_alloc(ALIGN, bytes);
    if (!p) {
        err_set(e, "%s: out of memory allocating %zu bytes", what, bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

int model_init(Model *m, const int *sizes, int n_layers, uint64_t seed, Err *e)
{
    memset(m, 0, sizeof *m);
    if (layout_init(&m->layout, sizes, n_layers, e) != 0)
        return -1;
    m->params = aligned_buffer(m->layout.n_params, "model parameters", e);
    if (!m->params)
        return -1;
    const Layout *lay = &m->layout;
    for (int l = 1; l < lay->n_layers; l++) {
        double scale = 1.0 / sqrt((double)lay->n[l - 1]);
        size_t count = (size_t)lay->n[l] * (size_t)lay->n[l - 1];
        for (size_t i = 0; i < count; i++) {
            size_t index = lay->w_off[l] + i;
            Rng r;
            rng_init(&r, rng_mix(seed, 0x77656967687473ULL /* "weights" */, index));
            m->params[index] = (Real)(scale * rng_normal(&r));
        }
    }
    return 0;
}

void model_free(Model *m)
{
    free(m->params);
    m->params = NULL;
}

int workspace_init(Workspace *w, const Layout *lay, int cap, Err *e)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->x = aligned_buffer((size_t)cap * (size_t)lay->n[0], "workspace inputs", e);
    if (!w->x)
        return -1;
    for (int l = 1; l < lay->n_layers; l++) {
        w->a[l] = aligned_buffer((size_t)cap * (size_t)lay->n[l], "workspace activations", e);
        w->d[l] = aligned_buffer((size_t)cap * (size_t)lay->n[l], "workspace deltas", e);
        if (!w->a[l] || !w->d[l]) {
            workspace_free(w);
            return -1;
        }
    }
    return 0;
}

void workspace_free(Workspace *w)
{
    free(w->x);
    for (int l = 1; l < MODEL_MAX_LAYERS; l++) {
        free(w->a[l]);
        free(w->d[l]);
    }
    memset(w, 0, sizeof *w);
}

void model_load_inputs(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n)
{
    int n0 = lay->n[0];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n0; k++)
            w->x[(size_t)i * n0 + k] = (Real)rows[i][k] / (Real)255;
}

/* dot: sum_k a[k] b[k] with eight partial sums combined in a fixed tree. */
static Real dot(const Real *restrict a, const Real *restrict b, int n)
{
    Real s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int u = 0; u < 8; u++)
            s[u] += a[k + u] * b[k + u];
    Real t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; k < n; k++)
        t += a[k] * b[k];
    return t;
}

#ifdef DOWNHILL_DOUBLE
#define EXP exp
#else
#define EXP expf
#endif

static Real sigmoid(Real z)
{
    return (Real)1 / ((Real)1 + EXP(-z));
}

void model_forward(const Model *m, Workspace *w, int n)
{
    const Layout *lay = &m->layout;
    for (int l = 1; l < lay->n_layers; l++) {
        int n_in = lay->n[l - 1], n_out = lay->n[l];
        const Real *W = m->params + lay->w_off[l], *b = m->params + lay->b_off[l];
        const Real *in = l == 1 ? w->x : w->a[l - 1];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n_out; j++)
                w->a[l][(size_t)i * n_out + j] =
                    sigmoid(b[j] + dot(W + (size_t)j * n_in, in + (size_t)i * n_in, n_in));
    }
}

double model_cost(const Model *m, const Workspace *w, const uint8_t *labels, int n,
                  int64_t *correct, double *costs)
{
    const Layout *lay = &m->layout;
    int L = lay->n_layers - 1, n_out = lay->n[L];
    double cost = 0;
    int64_t right = 0;
    for (int i = 0; i < n; i++) {
        const Real *a = w->a[L] + (size_t)i * n_out;
        int best = 0;
        double ci = 0;
        for (int j = 0; j < n_out; j++) {
            double diff = (double)a[j] - (j == labels[i] ? 1.0 : 0.0);
            ci += diff * diff;
            if (a[j] > a[best])
                best = j;
        }
        if (costs)
            costs[i] = ci;
        cost += ci;
        right += best == labels[i];
    }
    if (correct)
        *correct = right;
    return cost;
}

/* output_deltas: dC/dz of the last layer, 2 (a - y) a (1 - a). */
static void output_deltas(const Layout *lay, Workspace *w, const uint8_t *labels, int n)
{
    int L = lay->n_layers - 1, n_out = lay->n[L];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++) {
            size_t at = (size_t)i * n_out + j;
            Real a = w->a[L][at], y = j == labels[i] ? (Real)1 : (Real)0;
            w->d[L][at] = (Real)2 * (a - y) * a * ((Real)1 - a);
        }
}

/* hidden_deltas: d[l-1] = (W_l^T d[l]) * a[l-1] (1 - a[l-1]). */
static void hidden_deltas(const Model *m, Workspace *w, int l, int n)
{
    const Layout *lay = &m->layout;
    int n_in = lay->n[l - 1], n_out = lay->n[l];
    const Real *W = m->params + lay->w_off[l];
    for (int i = 0; i < n; i++) {
        Real *restrict dp = w->d[l - 1] + (size_t)i * n_in;
        const Real *ap = w->a[l - 1] + (size_t)i * n_in, *dl = w->d[l] + (size_t)i * n_out;
        memset(dp, 0, sizeof(Real) * (size_t)n_in);
        for (int j = 0; j < n_out; j++)
            for (int k = 0; k < n_in; k++)
                dp[k] += W[(size_t)j * n_in + k] * dl[j];
        for (int k = 0; k < n_in; k++)
            dp[k] *= ap[k] * ((Real)1 - ap[k]);
    }
}

/* layer_gradient: grad W_l += d[l]^T a[l-1], grad b_l += sum of d[l] over the examples. */
static void layer_gradient(const Model *m, const Workspace *w, int l, int n, Real *grad)
{
    const Layout *lay = &m->layout;
    int n_in = lay->n[l - 1], n_out = lay->n[l];
    const Real *in = l == 1 ? w->x : w->a[l - 1];
    Real *gW = grad + lay->w_off[l], *gb = grad + lay->b_off[l];
    for (int j = 0; j < n_out; j++) {
        Real *restrict row = gW + (size_t)j * n_in;
        for (int i = 0; i < n; i++) {
            Real dj = w->d[l][(size_t)i * n_out + j];
            const Real *x = in + (size_t)i * n_in;
            for (int k = 0; k < n_in; k++)
                row[k] += dj * x[k];
            gb[j] += dj;
        }
    }
}

void model_backward(const Model *m, Workspace *w, const uint8_t *labels, int n, Real *grad)
{
    const Layout *lay = &m->layout;
    output_deltas(lay, w, labels, n);
    for (int l = lay->n_layers - 1; l >= 1; l--) {
        layer_gradient(m, w, l, n, grad);
        if (l > 1)
            hidden_deltas(m, w, l, n);
    }
}

uint64_t model_hash(const Model *m)
{
    const unsigned char *p = (const unsigned char *)m->params;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < m->layout.n_params * sizeof(Real); i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
