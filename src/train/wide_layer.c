/* wide_layer.c: a step's work on the wide layers' weights by rows (see wide_layer.h). */
#include "train/wide_layer.h"

#include <stdlib.h>

#include "kernels/kernels.h"
#include "train/shares.h"

int wide_init(Trainer *t, Err *e)
{
    const Layout *lay = &t->model.layout;
    size_t slots = (size_t)(t->slots > 0 ? t->slots : 1);
    int n_in = 0, n_out = 0;
    t->n_wide = 0;
    for (int l = 2; l < lay->n_layers; l++) {
        if (!exact_wide_layer(l, lay->n[l - 1]))
            continue;
        WideTable *w = &t->wide[t->n_wide++];
        w->l = l;
        w->A = alloc_array(slots * (size_t)lay->n[l - 1], sizeof *w->A, "lane activations", e);
        w->D = alloc_array(slots * (size_t)lay->n[l], sizeof *w->D, "lane wide deltas", e);
        if (!w->A || !w->D)
            return -1;
        n_in = lay->n[l - 1] > n_in ? lay->n[l - 1] : n_in;
        n_out = lay->n[l] > n_out ? lay->n[l] : n_out;
    }
    int cap = (int)(slots < COLS_BLOCK ? slots : COLS_BLOCK);
    for (int k = 0; t->n_wide > 0 && k < t->threads; k++)
        if (kernels_wide_init(&t->ts[k].wide_sc, cap, n_in, n_out, e) != 0)
            return -1;
    return 0;
}

void wide_free(Trainer *t)
{
    for (int k = 0; k < t->n_wide; k++) {
        free(t->wide[k].A);
        free(t->wide[k].D);
        t->wide[k].A = NULL, t->wide[k].D = NULL;
    }
    for (int k = 0; t->ts && k < t->threads; k++)
        exact_input_free(&t->ts[k].wide_sc);
    t->n_wide = 0;
}

size_t wide_store(Trainer *t, ThreadState *s, int n)
{
    const Layout *lay = &t->model.layout;
    size_t bad = 0;
    for (int k = 0; k < t->n_wide; k++) {
        const WideTable *w = &t->wide[k];
        int n_in = lay->n[w->l - 1], n_out = lay->n[w->l];
        for (int i = 0, len; i < n; i += len) { /* runs of examples in consecutive lanes */
            size_t slot = (size_t)s->slot[i];
            for (len = 1; i + len < n && s->slot[i + len] == s->slot[i] + len; len++)
                ;
            bad += exact_wide_round(w->A + slot * (size_t)n_in, n_in, w->D + slot,
                                    (int)t->slots, s->ws.a[w->l - 1] + (size_t)i * n_in,
                                    s->ws.d[w->l] + (size_t)i * n_out, len, n_in, n_out,
                                    &t->fixed);
        }
    }
    return bad;
}

void wide_clear_lane(const Trainer *t, int64_t slot)
{
    for (int k = 0; k < t->n_wide; k++) {
        int n_out = t->model.layout.n[t->wide[k].l];
        for (int j = 0; j < n_out; j++) /* adds nothing */
            t->wide[k].D[(size_t)j * (size_t)t->slots + (size_t)slot] = 0;
    }
}

void wide_gradient(Trainer *t, ThreadState *s, int tid, int threads, double fuse_step)
{
    const Layout *lay = &t->model.layout;
    s->wide_spent = 0;
    for (int k = 0; k < t->n_wide; k++) {
        const WideTable *w = &t->wide[k];
        int n_in = lay->n[w->l - 1], j0, j1;
        share_wide_rows(lay->n[w->l], tid, threads, &j0, &j1);
        if (j1 <= j0)
            continue;
        size_t off = lay->w_off[w->l] + (size_t)j0 * (size_t)n_in;
        ColSums dst = {.acc = {t->sum + off, NULL}, .stride = {n_in, 0}, .split = n_in,
                       .theta = {NULL, NULL}, .step = fuse_step, .inv = t->fixed.wide_inv};
        if (fuse_step > 0 && t->slots <= COLS_BLOCK) /* whole after one call only */
            dst.theta[0] = t->model.params + off;
        int spent = 0;
        for (int64_t i = 0; i < t->slots; i += COLS_BLOCK) {
            int n = (int)(t->slots - i < COLS_BLOCK ? t->slots - i : COLS_BLOCK);
            spent = kernels_wide_cols(&dst, w->D + (size_t)j0 * (size_t)t->slots + i,
                                      (int)t->slots, w->A + (size_t)i * (size_t)n_in, n_in, n,
                                      j1 - j0, n_in, &s->wide_sc);
        }
        s->wide_spent |= (unsigned)spent << k;
    }
}
