/* shares.h: which part of a step's work each thread owns. W1 has two column blocks
 * (layout_block): with one thread it takes both; otherwise thread tid takes block tid % 2
 * with the other threads on that block, so with two threads each owns one block: its
 * weights, sums and inputs never move between cores. The parameters after W1 are split
 * into slices, the rank's groups into contiguous runs. Every function here is pure: the
 * same arguments give every thread the same answer. */
#ifndef DOWNHILL_SHARES_H
#define DOWNHILL_SHARES_H

#include <stddef.h>
#include <stdint.h>
#include "train/train.h"

/* Examples a thread runs through one batched forward and backward pass (at least one
 * group): the inputs of a chunk stay in L1/L2 while the weight gradient is formed. */
#define CHUNK_CAP 64

/* Examples per call of the first layer's column gradient: four AMX blocks of 64 are summed
 * in the tiles before they are widened. */
#define COLS_BLOCK 256

/* A thread's share of the work on W1's blocks: blocks [b0, b1) and part i of k of each (of
 * its lanes or its columns). */
typedef struct {
    int b0, b1, i, k;
} Share;

/* share_of: thread tid's share of W1's blocks, with `threads` threads. */
Share share_of(int tid, int threads);

/* share_cols: the columns [*cs, *ce) of block b (counted from its first column) that share
 * sh holds: whole cache lines of weights where the sizes allow. */
void share_cols(const Layout *lay, int b, Share sh, int *cs, int *ce);

/* share_forward: the input columns [*c0, *c1) and the lanes [*a0, *a1) (counted from the
 * rank's first) of share sh of the first layer's block sums. */
void share_forward(const Trainer *t, Share sh, int *c0, int *c1, int64_t *a0, int64_t *a1);

/* share_one_chunk: whether share sh's lanes of the block sums fit one chunk (CHUNK_CAP), so
 * that its inputs can be loaded ahead. */
int share_one_chunk(const Trainer *t, Share sh);

/* share_grad_cols: the input columns [*from, *to) of the first layer's weight gradient that
 * share sh forms and updates (both blocks whole with one thread, else its columns of one
 * block). */
void share_grad_cols(const Layout *lay, Share sh, int *from, int *to);

/* share_rest: thread tid's slice [*i0, *i1) of [lo, hi), the values after W1 it combines
 * and updates: in reverse thread order, so the slice next to W1's last block is its owner's
 * (no cache line of one thread's next to another's where a thread streams to its end). */
void share_rest(size_t lo, size_t hi, int tid, int threads, size_t *i0, size_t *i1);

/* share_wide_rows: thread tid's rows [*j0, *j1) of a wide layer of n_out rows (whole tiles of
 * 16 rows, contiguous, in thread order; possibly none). */
void share_wide_rows(int n_out, int tid, int threads, int *j0, int *j1);

/* share_groups: thread tid's contiguous run [*g0, *g1) of the rank's groups. */
void share_groups(const Trainer *t, int tid, int threads, int64_t *g0, int64_t *g1);

#endif
