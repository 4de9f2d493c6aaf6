/* update.c: THE update of a step (see update.h). */
#include "train/update.h"

#include <math.h>
#include <string.h>

#include "train/shares.h"

int update_plain(const Config *c)
{
    return c->momentum == 0 && c->weight_decay == 0;
}

double update_first_step(const Trainer *t, double lr, int64_t count)
{
    if (!update_plain(t->cfg))
        return 0; /* the rule needs the velocity: update_apply, never a fused kernel */
    return count > 0 ? lr / (double)count / EXACT_INPUT_DIV : 0;
}

/* ---- momentum and weight decay (see update.h) ---------------------------------------- */

/* The step's rule beyond plain descent, alike on every thread and rank. */
typedef struct {
    double eta;      /* the step's learning rate */
    double unit;     /* the mean gradient of one unit of the sums: 2^-32 / count (exact sums
                      * after W1), 2^-32 / (255 count) (W1), 1 / count (float sums) */
    double mu;       /* train.momentum (0: no velocity) */
    double lambda;   /* train.weight_decay on this range (0 on biases) */
    int nesterov;    /* train.nesterov */
} Rule;

/* rule_step: one parameter's update from its mean gradient g (before weight decay):
 * g <- fma(lambda, theta, g); with momentum v <- fl(fma(mu, v, g)) and the direction
 * d = v (or fma(mu, v, g), Nesterov), else d = g; theta <- fl(fma(-eta, d, theta)). Every
 * operation in double, rounded to Real only where v and theta are stored. */
static inline void rule_step(Real *theta, Real *v, double g, const Rule *r)
{
    double th = (double)*theta, d = g;
    if (r->lambda != 0)
        d = g = fma(r->lambda, th, g);
    if (r->mu != 0) {
        Real vn = (Real)fma(r->mu, (double)*v, g);
        *v = vn;
        d = r->nesterov ? fma(r->mu, (double)vn, g) : (double)vn;
    }
    *theta = (Real)fma(-r->eta, d, th);
}

/* rule_sums: rule_step for parameters [i, i + n) from the exact sums (exact) or the float
 * sums, clearing them. */
static void rule_sums(Trainer *t, size_t i, size_t n, const Rule *r, int exact)
{
    Real *theta = t->model.params + i, *v = t->velocity ? t->velocity + i : NULL;
    int64_t *sum = t->sum + i;
    Real *fsum = t->fsum + i;
    for (size_t k = 0; k < n; k++) {
        double s = exact ? (double)sum[k] : (double)fsum[k];
        rule_step(theta + k, v ? v + k : NULL, s * r->unit, r);
        if (exact)
            sum[k] = 0;
        else
            fsum[k] = 0;
    }
}

/* rule_of: the rule of a step of learning rate lr over count examples, for sums whose unit
 * is `scale` (2^-32 for exact sums, 2^-32 / 255 for W1's, Fixed.wide_inv for wide layers'
 * weights, 1 for float sums). */
static Rule rule_of(const Trainer *t, double lr, int64_t count, double scale)
{
    return (Rule){.eta = lr, .unit = count > 0 ? scale / (double)count : 0, .mu = t->cfg->momentum,
                  .lambda = t->cfg->weight_decay, .nesterov = t->cfg->nesterov};
}

/* rule_range: the rule on parameters [i0, i1) of any layers: weight decay on the weights
 * [w_off[l], b_off[l]), none on the biases; exact or float sums. */
static void rule_range(Trainer *t, size_t i0, size_t i1, Rule r, int exact)
{
    const Layout *lay = &t->model.layout;
    double lambda = r.lambda;
    for (int l = 1; l < lay->n_layers && i0 < i1; l++) {
        size_t ends[2] = {lay->b_off[l], lay->b_off[l] + (size_t)lay->n[l]};
        for (int part = 0; part < 2 && i0 < i1; part++) { /* the weights, then the biases */
            size_t end = ends[part] < i1 ? ends[part] : i1;
            if (i0 >= end)
                continue;
            r.lambda = part == 0 ? lambda : 0;
            rule_sums(t, i0, end - i0, &r, exact);
            i0 = end;
        }
    }
}

/* update_first: the update of the thread's columns of the first layer's weights (those
 * whose sums it formed: share_cols of its blocks), clearing the sums. */
static void update_first(Trainer *t, double lr, int64_t count, int tid, int threads)
{
    const Layout *lay = &t->model.layout;
    int plain = update_plain(t->cfg);
    double step = count > 0 ? lr / (double)count / EXACT_INPUT_DIV : 0;
    Rule rule = rule_of(t, lr, count, ldexp(1.0, -EXACT_SCALE_BITS) / EXACT_INPUT_DIV);
    Share sh = share_of(tid, threads);
    for (int b = sh.b0; b < sh.b1; b++) {
        int c0, c1, cs, ce;
        size_t off = layout_block(lay, b, &c0, &c1);
        share_cols(lay, b, sh, &cs, &ce);
        int whole = cs == 0 && ce == c1 - c0; /* the block's rows are one range */
        size_t rows = whole ? 1 : (size_t)lay->n[1];
        size_t len = whole ? (size_t)lay->n[1] * (size_t)(c1 - c0) : (size_t)(ce - cs);
        for (size_t j = 0; j < rows; j++) {
            size_t at = off + j * (size_t)(c1 - c0) + (size_t)cs;
            if (count > 0 && plain)
                exact_descend(t->model.params + at, t->sum + at, len, step, &t->fixed);
            else if (count > 0)
                rule_sums(t, at, len, &rule, 1); /* W1: all weights */
            else
                memset(t->sum + at, 0, sizeof *t->sum * len);
        }
    }
}

#ifdef DOWNHILL_DOUBLE
#define FMA_REAL fma
#else
#define FMA_REAL fmaf
#endif

/* update_float: the update of parameters [i0, i1) from the float sums, clearing them:
 * theta <- theta - step sum, one fused multiply-add. */
static void update_float(Trainer *t, double step, size_t i0, size_t i1)
{
    Real *p = t->model.params;
    const Real rs = (Real)step;
    size_t i = i0;
    enum { BLOCK = 64, AHEAD = 4 * BLOCK }; /* sums a block, and how far ahead they are claimed */
    for (; i + BLOCK <= i1; i += BLOCK) { /* the sums' lines claimed ahead: see exact_descend */
        for (size_t k = i + AHEAD; k < i + AHEAD + BLOCK && k < i1; k += 64 / sizeof(Real))
            __builtin_prefetch(t->fsum + k, 1, 3); /* only this thread's slice */
        Real *restrict th = p + i, *restrict su = t->fsum + i;
        for (size_t k = 0; k < BLOCK; k++) {
            th[k] = FMA_REAL(-rs, su[k], th[k]);
            su[k] = 0;
        }
    }
    for (; i < i1; i++) {
        p[i] = FMA_REAL(-rs, t->fsum[i], p[i]);
        t->fsum[i] = 0;
    }
}

/* update_rest: the update of the thread's slice of the parameters after the first layer's
 * weights (exact), or of all parameters (float), clearing the sums. */
static void update_rest(Trainer *t, double lr, int64_t count, int tid, int threads)
{
    int exact = t->cfg->reduction == REDUCTION_EXACT;
    size_t np = t->model.layout.n_params, lo = exact ? t->model.layout.b_off[1] : 0;
    double step = count > 0 ? lr / (double)count : 0;
    size_t i0, i1;
    share_rest(lo, np, tid, threads, &i0, &i1);
    if (count <= 0 && exact)
        memset(t->sum + i0, 0, sizeof *t->sum * (i1 - i0));
    else if (count <= 0)
        memset(t->fsum + i0, 0, sizeof *t->fsum * (i1 - i0));
    else if (!exact && !update_plain(t->cfg))
        rule_range(t, i0, i1, rule_of(t, lr, count, 1), 0);
    else if (!exact)
        update_float(t, step, i0, i1);
    else
        for (size_t i = i0, end; i < i1; i = end) { /* the wide layers' weights: update_wide */
            int wide;
            end = layout_run(&t->model.layout, i, &wide);
            end = end < i1 ? end : i1;
            if (wide)
                continue;
            if (update_plain(t->cfg))
                exact_descend(t->model.params + i, t->sum + i, end - i, step, &t->fixed);
            else
                rule_range(t, i, end, rule_of(t, lr, count, t->fixed.inv_scale), 1);
        }
}

/* update_wide: the update of the thread's rows of the wide layers' weights (share_wide_rows)
 * but those wide_gradient spent (s->wide_spent), clearing the sums. */
static void update_wide(Trainer *t, ThreadState *s, double lr, int64_t count, int tid,
                        int threads)
{
    const Layout *lay = &t->model.layout;
    double step = count > 0 ? lr / (double)count : 0;
    for (int k = 0; k < t->n_wide; k++) {
        int l = t->wide[k].l, j0, j1;
        share_wide_rows(lay->n[l], tid, threads, &j0, &j1);
        if (j1 <= j0 || (s->wide_spent >> k & 1))
            continue;
        size_t i0 = lay->w_off[l] + (size_t)j0 * (size_t)lay->n[l - 1];
        size_t i1 = lay->w_off[l] + (size_t)j1 * (size_t)lay->n[l - 1];
        if (count <= 0)
            memset(t->sum + i0, 0, sizeof *t->sum * (i1 - i0));
        else if (update_plain(t->cfg))
            exact_descend_inv(t->model.params + i0, t->sum + i0, i1 - i0, step, t->fixed.wide_inv);
        else
            rule_range(t, i0, i1, rule_of(t, lr, count, t->fixed.wide_inv), 1);
    }
}

double update_wide_step(const Trainer *t, double lr, int64_t count)
{
    return update_plain(t->cfg) && count > 0 ? lr / (double)count : 0;
}

void update_apply(Trainer *t, ThreadState *s, int tid, int threads, double lr, int64_t count)
{
    if (t->cfg->reduction == REDUCTION_EXACT && !s->first_spent)
        update_first(t, lr, count, tid, threads);
    if (t->cfg->reduction == REDUCTION_EXACT)
        update_wide(t, s, lr, count, tid, threads);
    s->first_spent = 0;
    s->wide_spent = 0;
    update_rest(t, lr, count, tid, threads);
}
