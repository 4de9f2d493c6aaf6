/* model.c: forward pass, cost and backpropagation of a fully-connected network (hidden
 * activation, output and cost by Layout.kind; the output layer and the cost in output.c).
 * Every floating-point sum runs in an order fixed by the source (no reassociation), so
 * the same examples always give the same bits, whatever thread or rank computes them. The
 * inner loops (dot products, sigmoid, hidden deltas, outer products, input scaling) are the
 * kernels of kernels.h, one file per instruction set. */
#include "net/model.h"
#include "core/hash.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "net/output.h"

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
    int h = (lay->n[0] / 2 + 8) / 16 * 16;
    lay->split = h < lay->n[0] ? h : lay->n[0];
    return 0;
}

size_t layout_block(const Layout *lay, int b, int *c0, int *c1)
{
    *c0 = b ? lay->split : 0;
    *c1 = b ? lay->n[0] : lay->split;
    return lay->w_off[1] + (b ? (size_t)lay->n[1] * (size_t)lay->split : 0);
}

size_t layout_weight(const Layout *lay, int l, int j, int k)
{
    if (l != 1)
        return lay->w_off[l] + (size_t)j * (size_t)lay->n[l - 1] + (size_t)k;
    int c0, c1, b = k >= lay->split;
    size_t off = layout_block(lay, b, &c0, &c1);
    return off + (size_t)j * (size_t)(c1 - c0) + (size_t)(k - c0);
}

void layout_w1_export(const Layout *lay, const Real *params, Real *w1)
{
    for (int j = 0; j < lay->n[1]; j++)
        for (int k = 0; k < lay->n[0]; k++)
            w1[(size_t)j * lay->n[0] + k] = params[layout_weight(lay, 1, j, k)];
}

void layout_w1_import(const Layout *lay, const Real *w1, Real *params)
{
    for (int j = 0; j < lay->n[1]; j++)
        for (int k = 0; k < lay->n[0]; k++)
            params[layout_weight(lay, 1, j, k)] = w1[(size_t)j * lay->n[0] + k];
}

uint64_t layout_hash(const Layout *lay, const Real *params)
{
    uint64_t h = HASH_FNV_BASIS;
    for (size_t i = 0; i < lay->n_params; i++) {
        size_t at = i;
        if (i < lay->b_off[1]) /* W1 in the file's row-major order */
            at = layout_weight(lay, 1, (int)(i / (size_t)lay->n[0]), (int)(i % (size_t)lay->n[0]));
        h = hash_fnv1a(h, &params[at], sizeof(Real));
    }
    return h;
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

/* init_sd: the standard deviation of layer l's initial weights (kind.h's InitKind), in
 * double: NORMAL 1 / sqrt(fan_in), GLOROT sqrt(2 / (fan_in + fan_out)), HE sqrt(2 / fan_in). */
static double init_sd(const Layout *lay, int l, InitKind init)
{
    double fan_in = (double)lay->n[l - 1], fan_out = (double)lay->n[l];
    if (init == INIT_GLOROT)
        return sqrt(2.0 / (fan_in + fan_out));
    if (init == INIT_HE)
        return sqrt(2.0 / fan_in);
    return 1.0 / sqrt(fan_in);
}

int model_init_kind(Model *m, const int *sizes, int n_layers, uint64_t seed,
                    const NetKind *kind, InitKind init, Err *e)
{
    memset(m, 0, sizeof *m);
    if (layout_init(&m->layout, sizes, n_layers, e) != 0)
        return -1;
    m->layout.kind = *kind;
    m->params = aligned_buffer(m->layout.n_params, "model parameters", e);
    if (!m->params)
        return -1;
    const Layout *lay = &m->layout;
    init = kind_init_resolve(init, kind->hidden);
    for (int l = 1; l < lay->n_layers; l++) {
        double scale = init_sd(lay, l, init);
        for (int j = 0; j < lay->n[l]; j++)
            for (int k = 0; k < lay->n[l - 1]; k++) { /* index: the row-major position */
                size_t index = lay->w_off[l] + (size_t)j * (size_t)lay->n[l - 1] + (size_t)k;
                Rng r;
                rng_init(&r, rng_mix(seed, 0x77656967687473ULL /* "weights" */, index));
                m->params[layout_weight(lay, l, j, k)] = (Real)(scale * rng_normal(&r));
            }
    }
    return 0;
}

int model_init(Model *m, const int *sizes, int n_layers, uint64_t seed, Err *e)
{
    NetKind seed_kind = {0};
    return model_init_kind(m, sizes, n_layers, seed, &seed_kind, INIT_AUTO, e);
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
    int widest = 1;
    for (int l = 1; l < lay->n_layers; l++)
        widest = lay->n[l] > widest ? lay->n[l] : widest;
    w->bound = alloc_array((size_t)cap * (size_t)widest, sizeof(double), "workspace bounds", e);
    int wide_in = 0, wide_out = 0; /* the widest of the wide layers */
    for (int l = 2; l < lay->n_layers; l++)
        if (exact_wide_layer(l, lay->n[l - 1])) {
            wide_in = lay->n[l - 1] > wide_in ? lay->n[l - 1] : wide_in;
            wide_out = lay->n[l] > wide_out ? lay->n[l] : wide_out;
        }
    if (!w->bound || exact_input_init(&w->in, cap, lay->n[0], lay->n[1], e) != 0 ||
        exact_wide_init(&w->wide, cap, wide_in, wide_out, e) != 0) {
        workspace_free(w);
        return -1;
    }
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
    free(w->bound);
    exact_input_free(&w->in);
    exact_wide_free(&w->wide);
    for (int l = 1; l < MODEL_MAX_LAYERS; l++) {
        free(w->a[l]);
        free(w->d[l]);
    }
    memset(w, 0, sizeof *w);
}

void model_load_columns(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n,
                        int c0, int c1)
{
    int n0 = lay->n[0];
    w->rows = rows;
    for (int i = 0; i < n; i++) {
        for (int k = c0; i + 1 < n && k < c1; k += 64) /* the rows are scattered: fetch ahead */
            __builtin_prefetch(rows[i + 1] + k);
        kernels_scale_bytes(w->x + (size_t)i * n0 + c0, rows[i] + c0, c1 - c0);
    }
}

void model_load_inputs(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n)
{
    model_load_columns(lay, w, rows, n, 0, lay->n[0]);
}

/* hidden_activate: v[k] <- the hidden activation of v[k] for k < n: sigmoid; tanh as
 * 2 sigmoid(2 z) - 1 (the sigmoid kernels' bits, so every build agrees; 2 z and 2 s are
 * exact); relu z > 0 ? z : 0, NaN kept. */
static void hidden_activate(Activation act, Real *v, size_t n)
{
    if (act == ACT_RELU) {
        for (size_t k = 0; k < n; k++)
            v[k] = v[k] > 0 || v[k] != v[k] ? v[k] : (Real)0;
        return;
    }
    if (act == ACT_TANH)
        for (size_t k = 0; k < n; k++)
            v[k] = (Real)2 * v[k];
    kernels_sigmoid(v, n);
    if (act == ACT_TANH)
        for (size_t k = 0; k < n; k++)
            v[k] = (Real)2 * v[k] - (Real)1;
}

/* activate: z (n, n[l]) of layer l <- its activations: the output layer's kind for l = L,
 * the hidden activation below. */
static void activate(const Layout *lay, int l, Real *z, int n)
{
    if (l == lay->n_layers - 1)
        output_activate(lay->kind.output, z, n, lay->n[l]);
    else
        hidden_activate(lay->kind.hidden, z, (size_t)n * (size_t)lay->n[l]);
}

/* layer_forward: layer l's out = act(b + W in) for n examples; each dot product in
 * net_plain_dot's order (kernels_dot_rows). */
static void layer_forward(const Layout *lay, int l, const Real *W, const Real *b, const Real *in,
                          Real *out, int n)
{
    int n_in = lay->n[l - 1], n_out = lay->n[l];
    kernels_dot_rows(W, n_in, in, n_in, n_in, out, n, n_out);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++)
            out[(size_t)i * n_out + j] = b[j] + out[(size_t)i * n_out + j];
    activate(lay, l, out, n);
}

/* first_out: out = act(b + (z0 + z1)) from the first layer's two block sums (out may be z0). */
static void first_out(const Layout *lay, const Real *b, const Real *z0, const Real *z1, Real *out,
                      int n)
{
    int n_out = lay->n[1];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++) {
            size_t at = (size_t)i * n_out + j;
            out[at] = b[j] + (z0[at] + z1[at]);
        }
    activate(lay, 1, out, n);
}

void model_first_partial(const Model *m, const Workspace *w, int n, int b, Real *z)
{
    const Layout *lay = &m->layout;
    int c0, c1;
    size_t off = layout_block(lay, b, &c0, &c1);
    kernels_dot_rows(m->params + off, c1 - c0, w->x + c0, lay->n[0], c1 - c0, z, n, lay->n[1]);
}

void model_forward_rest(const Model *m, Workspace *w, int n, const Real *z0, const Real *z1)
{
    const Layout *lay = &m->layout;
    first_out(lay, m->params + lay->b_off[1], z0, z1, w->a[1], n);
    for (int l = 2; l < lay->n_layers; l++)
        layer_forward(lay, l, m->params + lay->w_off[l], m->params + lay->b_off[l], w->a[l - 1],
                      w->a[l], n);
}

void model_forward(const Model *m, Workspace *w, int n)
{
    model_first_partial(m, w, n, 0, w->a[1]);
    model_first_partial(m, w, n, 1, w->d[1]); /* d[1] is free until model_deltas */
    model_forward_rest(m, w, n, w->a[1], w->d[1]);
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
        for (int j = 0; j < n_out; j++)
            if (a[j] > a[best])
                best = j;
        double ci = output_cost(&lay->kind, a, labels[i], n_out);
        if (costs)
            costs[i] = ci;
        cost += ci;
        right += best == labels[i];
    }
    if (correct)
        *correct = right;
    return cost;
}

/* hidden_deltas: d[l-1] = (W_l^T d[l]) * g(a[l-1]), g the hidden activation's derivative. */
static void hidden_deltas(const Model *m, Workspace *w, int l, int n)
{
    const Layout *lay = &m->layout;
    kernels_hidden_deltas(m->params + lay->w_off[l], w->d[l], w->a[l - 1], w->d[l - 1], n,
                          lay->n[l - 1], lay->n[l], lay->kind.hidden);
}

void model_deltas(const Model *m, Workspace *w, const uint8_t *labels, int n)
{
    const Layout *lay = &m->layout;
    int L = lay->n_layers - 1;
    output_deltas(&lay->kind, w->a[L], labels, w->d[L], n, lay->n[L]);
    for (int l = lay->n_layers - 1; l > 1; l--)
        hidden_deltas(m, w, l, n);
}

void model_gradient(const Model *m, const Workspace *w, int n, Real *grad)
{
    const Layout *lay = &m->layout;
    for (int l = 1; l < lay->n_layers; l++) {
        int n_out = lay->n[l];
        const Real *in = l == 1 ? w->x : w->a[l - 1];
        Real *gb = grad + lay->b_off[l];
        for (int b = 0; l == 1 && b < 2; b++) { /* the first layer's two column blocks */
            int c0, c1;
            size_t off = layout_block(lay, b, &c0, &c1);
            kernels_outer_add(grad + off, c1 - c0, w->d[1], in + c0, lay->n[0], c1 - c0, n,
                              n_out);
        }
        if (l > 1)
            kernels_outer_add(grad + lay->w_off[l], lay->n[l - 1], w->d[l], in, lay->n[l - 1],
                              lay->n[l - 1], n, n_out);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n_out; j++)
                gb[j] += w->d[l][(size_t)i * n_out + j];
    }
}

/* bias_exact: each group's float sum of d[l] rounded to fixed point into acc (n_out). */
static size_t bias_exact(const Real *d, const int *start, int groups, int n_out, int64_t *acc,
                         const Fixed *f)
{
    if (exact_singles(start, groups)) /* groups of one example: rounded as they are */
        return exact_add_rows(acc, d + (size_t)start[0] * n_out, groups, n_out, f);
    int64_t bad = 0;
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < n_out; j++) {
            Real s = 0;
            for (int i = start[g]; i < start[g + 1]; i++)
                s += d[(size_t)i * n_out + j];
            acc[j] += exact_round((double)s, f, &bad);
        }
    return (size_t)bad;
}

/* bias1_from_D: b1's sums when every group is one example and no delta of D was bad: D's
 * rows, since D = round(d 2^32) is the rounding bias_exact would do (the limits of D's
 * terms are the tighter ones). */
static void bias1_from_D(int64_t *acc, const int64_t *D, int ld, int i0, int i1, int n1)
{
    for (int j = 0; j < n1; j++) {
        int64_t s = 0;
        for (int i = i0; i < i1; i++)
            s += D[(size_t)j * ld + i];
        acc[j] += s;
    }
}

size_t model_gradient_exact_rest(const Model *m, const Workspace *w, const int *start,
                                 int groups, int64_t *acc, int64_t *D, int ld, const Fixed *f)
{
    const Layout *lay = &m->layout;
    size_t bad = exact_input_round(D, ld, w->d[1], start[groups], lay->n[1], f);
    for (int l = 1; l < lay->n_layers; l++) {
        if (l > 1 && !exact_wide_layer(l, lay->n[l - 1]))
            bad += exact_outer(acc + lay->w_off[l], w->d[l], w->a[l - 1], start, groups,
                               lay->n[l], lay->n[l - 1], f, w->bound);
        if (l == 1 && bad == 0 && exact_singles(start, groups))
            bias1_from_D(acc + lay->b_off[1], D, ld, start[0], start[groups], lay->n[1]);
        else
            bad += bias_exact(w->d[l], start, groups, lay->n[l], acc + lay->b_off[l], f);
    }
    return bad;
}

size_t model_gradient_exact(const Model *m, Workspace *w, const int *start, int groups,
                            int64_t *acc, const Fixed *f)
{
    const Layout *lay = &m->layout;
    size_t bad = model_gradient_exact_rest(m, w, start, groups, acc, w->in.D, w->cap, f);
    for (int l = 2; l < lay->n_layers; l++) /* every example alone, in integers */
        if (exact_wide_layer(l, lay->n[l - 1]))
            bad += exact_wide_outer(acc + lay->w_off[l],
                                    w->a[l - 1] + (size_t)start[0] * (size_t)lay->n[l - 1],
                                    w->d[l] + (size_t)start[0] * (size_t)lay->n[l],
                                    start[groups] - start[0], lay->n[l - 1], lay->n[l], f,
                                    &w->wide);
    int c0, c1, d0, d1; /* the first layer's two column blocks */
    size_t off0 = layout_block(lay, 0, &c0, &c1), off1 = layout_block(lay, 1, &d0, &d1);
    ColSums dst = {.acc = {acc + off0, acc + off1}, .stride = {c1 - c0, d1 - d0}, .split = c1};
    exact_input_cols(&dst, w->in.D, w->cap, w->rows, start[groups], lay->n[1], 0, d1, &w->in);
    return bad;
}

void model_backward(const Model *m, Workspace *w, const uint8_t *labels, int n, Real *grad)
{
    model_deltas(m, w, labels, n);
    model_gradient(m, w, n, grad);
}

size_t layout_run(const Layout *lay, size_t i, int *wide)
{
    *wide = 0;
    for (int l = 2; l < lay->n_layers; l++) {
        int w = exact_wide_layer(l, lay->n[l - 1]);
        if (i < lay->w_off[l] && w) /* narrow up to this wide layer's weights */
            return lay->w_off[l];
        if (i < lay->b_off[l] && i >= lay->w_off[l] && w) {
            *wide = 1;
            return lay->b_off[l];
        }
    }
    return lay->n_params;
}

uint64_t model_hash(const Model *m)
{
    return layout_hash(&m->layout, m->params);
}
