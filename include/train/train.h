/* train.h: data-parallel gradient descent. The global batch is `lanes` lanes (example i
 * is in lane i % lanes); each lane is shuffled every epoch from (seed, epoch, lane); rank r
 * holds a contiguous block of lane groups. Each group's gradient is summed in floating
 * point in a fixed order, then all groups are added exactly (fixed point), so the weights
 * are bitwise the same for any number of ranks and threads. Within a rank (exact sums) a
 * step has three phases: the first layer's block sums of every lane (threads split W1's
 * two column blocks), the rest of each example's forward and backward pass (threads
 * split the lanes), then the first layer's gradient and update (by blocks again) and the
 * other parameters' (by slices; on one rank at small batches by the even threads alone,
 * while the odd ones load the next step's inputs). trainer_steps runs many steps in one
 * OpenMP parallel region.
 *
 * The engine, one concept a file (src/train/, private headers in include/train/):
 * trainer.c set-up and free; lanes.c the shuffled epoch's rows; shares.c which thread owns
 * what; first_layer.c the work on W1 by column blocks; wide_layer.c the wide layers' weights
 * by rows; chunks.c the per-example passes;
 * sums.c combining threads' and ranks' sums; update.c THE update; step.c the step's plan
 * and phases. */
#ifndef DOWNHILL_TRAIN_H
#define DOWNHILL_TRAIN_H

#include <stdint.h>
#include <stdio.h>
#include "core/barrier.h"
#include "core/common.h"
#include "run/config.h"
#include "io/data.h"
#include "train/evaluate.h"
#include "exact/exact.h"
#include "exact/exact_input.h"
#include "net/model.h"
#include "core/timer.h"

/* Entries after the gradient in the step sums: batch cost, examples, bad values, and the
 * ranks asking to stop or to checkpoint (agreed in the step's one collective). */
enum { SUM_COST = 0, SUM_COUNT = 1, SUM_BAD = 2, SUM_STOP = 3, SUM_CKPT = 4, SUM_EXTRA = 5 };

/* Requests a rank passes to trainer_step; the step returns those of any rank. */
enum { STEP_STOP = 1, STEP_CHECKPOINT = 2, STEP_DIVERGED = 4 };

/* What one thread owns during a step. */
typedef struct {
    Workspace ws;
    Real *grad;            /* (n_params) float gradient of the current group (or thread sum) */
    int64_t *acc;          /* (n_params + SUM_EXTRA) exact partial sums */
    const uint8_t **rows;  /* (ws.cap) pixel rows of the current chunk of groups */
    uint8_t *labels;       /* (ws.cap) labels of the current chunk */
    int *start;            /* (ws.cap + 1) first example of each group of the chunk */
    int64_t *slot;         /* (ws.cap) each chunk example's lane, counted from the rank's first */
    ExactInput cols;       /* scratch of this thread's columns of the first layer's gradient */
    double *costs;         /* (ws.cap) cost of each example of the chunk */
    double cost;           /* float path: summed cost */
    int64_t count;         /* float path: examples */
    PhaseTimes times;      /* this thread's data, forward and backward time */
    int64_t inputs_step;   /* the step whose first-layer inputs first_load_ahead put in ws.x
                            * (-1: none; first_forward uses them, then sets -1) */
    int first_spent;       /* 1: first_gradient's kernel spent this step's sums of the thread's
                            * W1 columns on the weights (update_apply reads and resets it) */
    ExactInput wide_sc;    /* kernel scratch of this thread's rows of the wide layers' gradient */
    unsigned wide_spent;   /* bit k: wide_gradient spent the sums of the thread's rows of
                            * t->wide[k] on the weights (update_apply reads and resets it) */
} ThreadState;

/* One bucket of the step's sums (several ranks, sums.h): values [lo, hi) of the step sums
 * and the `side` values after them (the extras), reduced as one job. */
enum { SUM_BUCKETS_MAX = 8 };
typedef struct {
    size_t lo, hi;
    int side;
    long ticket;  /* this step's job (-1: not started yet) */
    size_t block; /* its first block of PACKED_BLOCK values in t->sum_peaks, t->sum_widths */
} SumBucket;

/* A wide layer's step table (train/wide_layer.h): each lane's rounded activations and deltas
 * (exact_wide.h), written by the thread that runs the lane's example, read by all after the
 * chunks. */
typedef struct {
    int l;                 /* the weight layer (>= 2, exact_wide_layer) */
    int16_t *A;            /* (slots, n[l-1]) rounded activations of layer l - 1, by lane */
    int64_t *D;            /* (n[l], slots) rounded deltas of layer l, neuron-major, by lane */
} WideTable;

/* A training run in progress on one rank. */
typedef struct {
    const Config *cfg;     /* not owned */
    int rank, ranks, threads;
    Model model;
    Dataset train, test;
    int64_t n_train;         /* training examples used */
    int64_t lanes;           /* global batch B (n_train for full batch) */
    int64_t group;           /* lanes per exactly-summed group */
    int64_t n_groups;        /* groups in a step, over all ranks */
    int64_t group0, group1;  /* this rank's groups [group0, group1) */
    int64_t steps_per_epoch;
    int64_t step;            /* updates done so far */
    int64_t shuffled_epoch;  /* epoch whose lane order is in `order` (-1: none) */
    double lr_scale;         /* factor on the scheduled learning rate (rollbacks lower it) */
    uint64_t fingerprint;    /* order-independent hash of the training examples (all ranks) */
    int64_t *order;          /* (train.rows) per lane, the shuffled lane positions */
    ThreadState *ts;         /* (threads) */
    int64_t *sum;            /* (n_params + SUM_EXTRA) exact step sums */
    int64_t slots;           /* lanes this rank holds */
    int64_t *D;              /* (n[1], slots) the step's rounded first-layer deltas, by lane */
    const uint8_t **epoch_rows; /* (steps_per_epoch, slots) the pixel row of each lane at each
                                 * position of the shuffled epoch (a short lane's: unused) */
    Real *part;              /* (2, slots, n[1]) the first layer's block sums, by lane */
    int n_wide;              /* wide layers (exact sums), each with its table: */
    WideTable wide[MODEL_MAX_LAYERS];
    int64_t formed_step;     /* the step whose block sums the step before formed (-1: none) */
    Real *fsum;              /* (n_params + SUM_EXTRA) float step sums (reduction = float) */
    SumBucket bucket[SUM_BUCKETS_MAX]; /* the step sums' buckets, in the order the backward
                                        * pass completes them (sums_plan) */
    int n_buckets;
    int64_t *sum_peaks;      /* (3 sum_blocks) the buckets' blocks' peaks: the window before,
                              * this window, this step's job (sums.c; train.sum_bytes = auto;
                              * -1: not known) */
    uint8_t *sum_widths;     /* (sum_blocks) the buckets' blocks' widths on the wire */
    size_t sum_blocks;       /* room for this many blocks */
    Real *velocity;          /* (n_params) the momentum's velocity in the parameters' layout
                              * (each value written by the thread updating its parameter);
                              * NULL when train.momentum = 0 */
    Fixed fixed;
    Barrier *barrier;        /* where the threads of a step wait for each other */
    PhaseTimes times;        /* this rank's time per phase since the last take */
    double epoch_cost;       /* summed batch costs of the current epoch */
    int64_t epoch_count;     /* examples seen in the current epoch */
} Trainer;

/* trainer_init: validates c against the data, loads this rank's shards, initialises the
 * model; collective, errors agreed across ranks. Free with trainer_free. */
int trainer_init(Trainer *t, const Config *c, int rank, int ranks, int threads, Err *e);

/* trainer_free: releases everything trainer_init allocated (safe after a failed init). */
void trainer_free(Trainer *t);

/* trainer_step: one update with the gradient of the next global batch (collective);
 * `requests` (STEP_* bits) of this rank are OR-ed over all ranks into *agreed. When the
 * batch cost or gradient is not finite (or too large) no update is made and *agreed has
 * STEP_DIVERGED, on every rank alike. */
int trainer_step(Trainer *t, int requests, int *agreed, Err *e);

/* A rank's requests (STEP_* bits) before a step, asked by trainer_steps of its caller. */
typedef int (*StepPoll)(void *ctx);

/* trainer_steps: up to n steps as trainer_step, in one OpenMP parallel region, each asking
 * poll(ctx) (NULL: none) for this rank's requests; stops after a step whose *agreed is not
 * 0 (a request of any rank, or STEP_DIVERGED). t->step tells how many steps updated. */
int trainer_steps(Trainer *t, int64_t n, StepPoll poll, void *ctx, int *agreed, Err *e);

/* trainer_restore: continues from a checkpoint: weights, velocity (NULL: zero; the
 * parameters' layout; ignored when train.momentum = 0), step, the epoch's running cost and
 * the learning-rate factor. */
void trainer_restore(Trainer *t, const Real *params, const Real *velocity, int64_t step,
                     double epoch_cost, int64_t epoch_count, double lr_scale);

/* trainer_take_times: this rank's seconds per phase since the last call (thread phases:
 * the slowest thread), and resets them. */
void trainer_take_times(Trainer *t, PhaseTimes *out);

/* trainer_take_epoch_cost: mean batch cost of the current epoch so far, and resets it. */
double trainer_take_epoch_cost(Trainer *t);

#endif
