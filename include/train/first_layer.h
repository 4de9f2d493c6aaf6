/* first_layer.h: a step's work on the first layer, by W1's column blocks (shares.h): the
 * block sums of every lane of the rank before the rest of the pass, and the weight gradient
 * from every lane's rounded deltas (t->D) after it. Each thread reads only its blocks'
 * inputs and weights. Exact sums only. */
#ifndef DOWNHILL_FIRST_LAYER_H
#define DOWNHILL_FIRST_LAYER_H

#include <stdint.h>
#include "train/train.h"

/* first_fetch: asks for thread tid's input columns of its lanes' rows at position pos (the
 * next steps': scattered over the training set) before first_forward reads them. */
void first_fetch(const Trainer *t, int tid, int threads, int64_t pos);

/* first_load_ahead: the inputs of step `step` (position pos) loaded now into s->ws.x for
 * its first_forward (s->inputs_step = step), when thread tid's lanes fit one chunk; else
 * nothing. */
void first_load_ahead(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                      int64_t step);

/* first_forward: the first layer's block sums (model_first_partial) of thread tid's share of
 * the rank's lanes for step `step` (position pos), into t->part; the inputs are loaded here
 * unless first_load_ahead did. */
void first_forward(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                   int64_t step);

/* first_pack: lays out thread tid's inputs of first_gradient ahead of it (they need no
 * delta, so while the other threads still form theirs), where one call takes every lane. */
void first_pack(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos);

/* first_gradient: thread tid's columns of the first layer's weight gradient over every lane
 * of the rank, added to t->sum (after every thread's chunks: it reads their deltas in t->D).
 * fuse_step > 0 (update_first_step of the step's learning rate and examples) lets the
 * kernel spend the sums on the weights at once, as update_apply would; s->first_spent
 * records whether it did, for update_apply. */
void first_gradient(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                    double fuse_step);

/* first_gradient_pieces: first_gradient without spending, in pieces of at most
 * FIRST_PIECE_COLS columns, each inside one block; after each piece, between(t, b) (when
 * not NULL) with b the block all of whose columns this thread has just finished (it owns
 * the whole block), else -1. */
enum { FIRST_PIECE_COLS = 208 };
void first_gradient_pieces(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                           void (*between)(Trainer *t, int block));

#endif
