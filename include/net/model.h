/* model.h: a fully-connected network (its kind: net/kind.h). All parameters live in one contiguous
 * buffer, layer by layer: W1, b1 (n1), W2 (n2, n1) row-major, b2 (n2), ... W1 is stored in
 * two column blocks, columns [0, split) then [split, n0), each (n1, width) row-major, so
 * two threads can own one each (files keep W1 (n1, n0) row-major: layout_w1_export).
 * Gradients use the same layout. The cost of one example by kind (net/output.h), y one-hot. */
#ifndef DOWNHILL_MODEL_H
#define DOWNHILL_MODEL_H

#include <stdint.h>
#include "core/common.h"
#include "exact/exact.h"
#include "exact/exact_input.h"
#include "exact/exact_wide.h"
#include "net/kind.h"

#define MODEL_MAX_LAYERS 16

/* Sizes and parameter offsets; layer l = 1..L maps n[l-1] inputs to n[l] outputs. */
typedef struct {
    int n_layers;                 /* number of sizes, L + 1 (inputs included) */
    int n[MODEL_MAX_LAYERS];      /* n[0] inputs ... n[L] outputs */
    size_t w_off[MODEL_MAX_LAYERS]; /* offset of W_l in the buffer (index l, 1..L) */
    size_t b_off[MODEL_MAX_LAYERS]; /* offset of b_l in the buffer */
    size_t n_params;              /* total parameters */
    int max_width;                /* largest n[l] */
    int split;                    /* first column of W1's second block (a multiple of 16
                                   * near n[0] / 2, at most n[0]) */
    NetKind kind;                 /* activation, output, cost; layout_init sets the seed's
                                   * (all zero), the caller may change it after */
} Layout;

/* The network: a layout and its parameter buffer (owned). */
typedef struct {
    Layout layout;
    Real *params; /* (n_params) */
} Model;

/* Per-thread scratch for a batch of up to `cap` examples; owned by one thread. */
typedef struct {
    int cap;
    Real *x;                       /* (cap, n[0]) inputs scaled to [0, 1] */
    Real *a[MODEL_MAX_LAYERS];     /* a[l]: (cap, n[l]) activations, l = 1..L */
    Real *d[MODEL_MAX_LAYERS];     /* d[l]: (cap, n[l]) deltas dC/dz, l = 1..L (d[1]: also
                                    * model_forward's scratch) */
    double *bound;                 /* (cap, max n[l], l >= 1) scratch of model_gradient_exact */
    ExactInput in;                 /* scratch of model_gradient_exact's first layer */
    ExactWide wide;                /* scratch of model_gradient_exact's wide layers */
    const uint8_t *const *rows;    /* the input bytes of the last model_load_inputs */
} Workspace;

/* layout_init: checks sizes (2..16 layers, each 1..2^20, total fits) and computes offsets. */
int layout_init(Layout *lay, const int *sizes, int n_layers, Err *e);

/* layout_block: W1's column block b (0 or 1): its columns [*c0, *c1) and the offset of its
 * (n[1], c1 - c0) row-major weights in the buffer. */
size_t layout_block(const Layout *lay, int b, int *c0, int *c1);

/* layout_weight: the buffer index of W_l[j][k]. */
size_t layout_weight(const Layout *lay, int l, int j, int k);

/* layout_w1_export / layout_w1_import: W1 between the buffer and (n1, n0) row-major. */
void layout_w1_export(const Layout *lay, const Real *params, Real *w1);
void layout_w1_import(const Layout *lay, const Real *w1, Real *params);

/* layout_hash: FNV-1a 64 of the parameter bytes in the files' order (W1 row-major). */
uint64_t layout_hash(const Layout *lay, const Real *params);

/* model_init: model_init_kind for the seed's network (sigmoid, quadratic, N(0, 1/n_in)). */
int model_init(Model *m, const int *sizes, int n_layers, uint64_t seed, Err *e);

/* model_init_kind: allocates the parameters, sets layout.kind and draws weights ~ N(0, sd^2)
 * by init (kind.h; AUTO by kind->hidden) from seed (parameter i from its own stream: the same
 * on every rank), biases 0. */
int model_init_kind(Model *m, const int *sizes, int n_layers, uint64_t seed,
                    const NetKind *kind, InitKind init, Err *e);

/* model_free: releases the parameter buffer. */
void model_free(Model *m);

/* workspace_init / workspace_free: scratch for batches of up to cap examples. */
int workspace_init(Workspace *w, const Layout *lay, int cap, Err *e);
void workspace_free(Workspace *w);

/* model_load_inputs: scales n rows of pixel bytes (each n[0] long) into w->x and keeps
 * the row pointers (they must stay valid until the gradient is taken). */
void model_load_inputs(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n);

/* model_load_columns: model_load_inputs for the input columns [c0, c1) only. */
void model_load_columns(const Layout *lay, Workspace *w, const uint8_t *const *rows, int n,
                        int c0, int c1);

/* model_forward: activations of the n examples in w->x, layer by layer, into w->a. The
 * first layer's dot products are summed in W1's two column blocks, each in the order of
 * net_plain_dot (kernels.h), then added: b + (z0 + z1). So two threads can each form one
 * (model_first_partial) and the bits do not change. */
void model_forward(const Model *m, Workspace *w, int n);

/* model_first_partial: z[i][j] = the first layer's dot product over W1's column block b
 * (layout_block) of row j of W1 and example i of w->x, for n examples. */
void model_first_partial(const Model *m, const Workspace *w, int n, int b, Real *z);

/* model_forward_rest: model_forward from the first layer's block sums z0 and z1 (n, n[1]),
 * formed by model_first_partial (z0 may be w->a[1]). */
void model_forward_rest(const Model *m, Workspace *w, int n, const Real *z0, const Real *z1);

/* model_cost: sum over the n examples of their cost (output_cost) after model_forward;
 * also counts correct argmax predictions into *correct and stores each example's
 * cost in costs[i] (both may be NULL). */
double model_cost(const Model *m, const Workspace *w, const uint8_t *labels, int n,
                  int64_t *correct, double *costs);

/* model_backward: after model_forward, ADDS the gradient of the summed cost of the n
 * examples (sum, not mean) to grad (n_params, same layout as params). */
void model_backward(const Model *m, Workspace *w, const uint8_t *labels, int n, Real *grad);

/* model_deltas: after model_forward, the deltas dC/dz of the n examples into w->d. */
void model_deltas(const Model *m, Workspace *w, const uint8_t *labels, int n);

/* model_gradient: after model_deltas, ADDS the summed gradient of the n examples to grad
 * (each entry summed over the examples in order). */
void model_gradient(const Model *m, const Workspace *w, int n, Real *grad);

/* model_gradient_exact: after model_deltas, ADDS to acc (n_params) the fixed-point
 * gradient: the first layer's weights as exact_input_outer (units 2^-32 / EXACT_INPUT_DIV,
 * independent of the groups); the weights of wide layers (exact_wide_layer) as
 * exact_wide_outer (units f->wide_inv, independent of the groups); every other entry, for
 * each group g of examples [start[g], start[g + 1]), the group's float sum in order of the
 * examples rounded to f.
 * Returns how many values were non-finite or beyond the limit. */
size_t model_gradient_exact(const Model *m, Workspace *w, const int *start, int groups,
                            int64_t *acc, const Fixed *f);

/* model_gradient_exact_rest: model_gradient_exact but for the first layer's weights, whose
 * rounded deltas (exact_input_round) go to D (n[1] rows ld apart) for exact_input_cols, and
 * the wide layers' weights (the trainer sums them by rows: train/wide_layer.h). */
size_t model_gradient_exact_rest(const Model *m, const Workspace *w, const int *start,
                                 int groups, int64_t *acc, int64_t *D, int ld, const Fixed *f);

/* layout_run: the end of the run of parameters from i (>= b_off[1]) that are all the weights
 * of wide layers (exact_wide_layer; *wide = 1: their exact sums in units Fixed.wide_inv) or
 * all not (*wide = 0: units Fixed.inv_scale). */
size_t layout_run(const Layout *lay, size_t i, int *wide);

/* model_hash: FNV-1a 64 of the parameter bytes (equal hashes = equal weights). */
uint64_t model_hash(const Model *m);

#endif
