/* step_ref.h: the reference of downhill's exact training step: plain, single-threaded C with
 * no SIMD, no look-ahead and no blocked layout, written to be read beside the math in
 * docs/DESIGN.md ("The reference step"). It is the specification of what the engine
 * (src/train and the kernels) computes: test_reference checks the engine against it bit for
 * bit on every machine shape. Float32 builds only (the float64 build has no reference). */
#ifndef DOWNHILL_STEP_REF_H
#define DOWNHILL_STEP_REF_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"
#include "net/kind.h"

#define REF_MAX_LAYERS 16

/* A network in the files' layout: one buffer W1 (n1, n0) row-major, b1 (n1), W2, b2, ... */
typedef struct {
    int n_layers;              /* sizes, inputs included: L + 1 */
    int n[REF_MAX_LAYERS];     /* n[0] inputs ... n[L] outputs */
    int split;                 /* W1's dot products are summed over [0, split), [split, n0) */
    size_t n_params;
    Real *params;              /* (n_params), owned */
    Real *W[REF_MAX_LAYERS];   /* W[l] (n[l], n[l-1]) row-major, into params (l = 1..L) */
    Real *b[REF_MAX_LAYERS];   /* b[l] (n[l]), into params */
    NetKind kind;              /* hidden activation, output, cost */
} RefNet;

/* One global batch of `lanes` lanes in lane order; a lane with no example this step (the
 * short lanes of an epoch's last batch) has rows[lane] == NULL. */
typedef struct {
    int64_t lanes;              /* B, the global batch (the fixed-point limit's term count) */
    int64_t group;              /* lanes per group (train.exact_group) */
    const uint8_t **rows;       /* (lanes) pixel bytes of each lane's example, n0 each */
    const uint8_t *labels;      /* (lanes) labels (unused where rows[lane] is NULL) */
} RefBatch;

/* What a step did. */
typedef struct {
    int64_t count;  /* examples in the batch */
    int64_t cost;   /* the batch's summed cost in fixed point (units 2^-32) */
    int diverged;   /* 1: a value was not finite or beyond its bound: no update was made */
} RefResult;

/* ref_net_init: sizes and the initial weights drawn from seed, as model_init's spec says
 * (W_l[j][k] ~ N(0, 1 / n[l-1]) from stream (seed, "weights", row-major index); biases 0).
 * Free with ref_net_free. */
int ref_net_init(RefNet *net, const int *sizes, int n_layers, uint64_t seed, Err *e);

/* ref_net_init_kind: ref_net_init for a network of this kind, its weights drawn with init's
 * standard deviation (AUTO by kind->hidden; GLOROT sqrt(2 / (n[l-1] + n[l])), HE
 * sqrt(2 / n[l-1])) from the same streams. */
int ref_net_init_kind(RefNet *net, const int *sizes, int n_layers, uint64_t seed,
                      const NetKind *kind, InitKind init, Err *e);

/* ref_net_free: releases the parameters. */
void ref_net_free(RefNet *net);

/* ref_lane_example: the training example (global index) lane `lane` of a batch of `lanes`
 * lanes takes at position pos of epoch `epoch` over n examples, or -1 when the lane is
 * short there: lane j holds examples j, j + B, j + 2B, ... in an order shuffled every epoch
 * by Fisher-Yates from the stream (seed ^ "shuffle", epoch, lane). */
int64_t ref_lane_example(int64_t n, int64_t lanes, uint64_t seed, int64_t epoch, int64_t lane,
                         int64_t pos);

/* ref_step: one exact step on net: the gradient of batch's examples summed exactly, then
 * theta <- theta - lr / count * sum (unless the step diverged). */
RefResult ref_step(RefNet *net, const RefBatch *batch, double lr);

/* The update rule beyond plain descent (train.momentum, train.nesterov, train.weight_decay;
 * docs/DESIGN.md, "The reference step", Update). */
typedef struct {
    double momentum;     /* mu in [0, 1); 0: no velocity */
    double weight_decay; /* lambda >= 0 on the weights (not the biases) */
    int nesterov;        /* 1: theta moves by g + mu v instead of v */
    Real *velocity;      /* (n_params) in the files' order, 0 at the start (caller's; unused
                          * when momentum = 0) */
} RefOptim;

/* ref_step_optim: ref_step with the update rule opt (NULL, or momentum and weight_decay
 * both 0: plain descent, ref_step's update). */
RefResult ref_step_optim(RefNet *net, const RefBatch *batch, double lr, RefOptim *opt);

/* ref_matches_build: 1 if this build's kernels compute the reference's arithmetic (every
 * float build: AVX-512, AVX2 and plain kernels alike). */
int ref_matches_build(void);

/* ref_build_arithmetic: one line naming this build's arithmetic (for a skip message). */
const char *ref_build_arithmetic(void);

#endif
