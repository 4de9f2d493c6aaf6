/* update.h: THE update of a step, the one place the weights change in training:
 *
 *     theta <- theta - eta / count * sum
 *
 * for every parameter, with eta the step's learning rate, count the examples of the global
 * batch and sum the step's summed gradient: exact (t->sum, int64 fixed point: the first
 * layer's weights in units 2^-32 / EXACT_INPUT_DIV, wide layers' weights in units
 * Fixed.wide_inv (exact_wide.h), the rest in units 2^-32; exact_descend's arithmetic) or
 * float (t->fsum). The sums are left zero for the next step.
 *
 * Every path (one rank with exact sums, several ranks, float sums) calls update_apply once
 * per step and thread. One kernel may fuse the first layer's part into the gradient:
 * first_gradient, given update_first_step, lets exact_input_cols spend the sums of the
 * thread's W1 columns on the weights with this same arithmetic, and records in
 * s->first_spent that it did; update_apply then leaves those columns. wide_gradient does the
 * same for the thread's rows of the wide layers' weights (update_wide_step, s->wide_spent).
 * The caller never asks which happened.
 *
 * With train.momentum or train.weight_decay (not both 0) the rule is instead, per
 * parameter, from the mean gradient g = sum x unit (unit: 2^-32 / count, W1's
 * 2^-32 / 255 / count, wide layers' weights Fixed.wide_inv / count, float sums 1 / count),
 * all in double:
 *
 *     g <- fma(lambda, theta, g)  (weights only)    v <- fl(fma(mu, v, g))  (mu > 0)
 *     theta <- fl(fma(-eta, d, theta)),  d = v, fma(mu, v, g) (Nesterov), or g (mu = 0)
 *
 * with v the Trainer's velocity (stored in Real, the parameters' layout), each value
 * updated by the thread that updates its parameter; no kernel fuses it. */
#ifndef DOWNHILL_UPDATE_H
#define DOWNHILL_UPDATE_H

#include <stdint.h>
#include "train/train.h"

/* update_plain: 1 when the update is plain gradient descent (train.momentum and
 * train.weight_decay both 0: the seed's rule, exact_descend's arithmetic). */
int update_plain(const Config *c);

/* update_first_step: eta / count in the first layer's sum units (2^-32 / EXACT_INPUT_DIV
 * per unit): the step a fused first_gradient spends the sums with; 0 when count <= 0 or
 * when the update is not plain (momentum or weight decay: update_apply applies it). */
double update_first_step(const Trainer *t, double lr, int64_t count);

/* update_wide_step: eta / count, the step a fused wide_gradient spends the wide layers' sums
 * with (in units Fixed.wide_inv); 0 when count <= 0 or the update is not plain. */
double update_wide_step(const Trainer *t, double lr, int64_t count);

/* update_apply: THE update (above) of thread tid's share of the parameters: exact, its
 * columns of W1 (share_grad_cols; unless s->first_spent, which it resets), its rows of the
 * wide layers' weights (share_wide_rows; but those s->wide_spent names, which it resets) and
 * the rest of its slice after W1 (share_rest); float, its slice of all. count <= 0 (a diverged step): the sums
 * cleared, the weights unchanged. Called by every thread once the step's sums are whole
 * (combined over the threads, and over the ranks unless one rank sums exactly). */
void update_apply(Trainer *t, ThreadState *s, int tid, int threads, double lr, int64_t count);

#endif
