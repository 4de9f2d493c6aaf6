/* update.c: THE update of a step (see update.h). */
#include "train/update.h"

#include <math.h>
#include <string.h>

#include "train/shares.h"

double update_first_step(double lr, int64_t count)
{
    return count > 0 ? lr / (double)count / EXACT_INPUT_DIV : 0;
}

/* update_first: the update of the thread's columns of the first layer's weights (those
 * whose sums it formed: share_cols of its blocks), clearing the sums. */
static void update_first(Trainer *t, double lr, int64_t count, int tid, int threads)
{
    const Layout *lay = &t->model.layout;
    double step = update_first_step(lr, count);
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
            if (count > 0)
                exact_descend(t->model.params + at, t->sum + at, len, step, &t->fixed);
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
    else if (exact)
        exact_descend(t->model.params + i0, t->sum + i0, i1 - i0, step, &t->fixed);
    else
        update_float(t, step, i0, i1);
}

void update_apply(Trainer *t, ThreadState *s, int tid, int threads, double lr, int64_t count)
{
    if (t->cfg->reduction == REDUCTION_EXACT && !s->first_spent)
        update_first(t, lr, count, tid, threads);
    s->first_spent = 0;
    update_rest(t, lr, count, tid, threads);
}
