/* shares.c: which part of a step's work each thread owns (see shares.h). */
#include "train/shares.h"

Share share_of(int tid, int threads)
{
    if (threads == 1)
        return (Share){.b0 = 0, .b1 = 2, .i = 0, .k = 1};
    return (Share){.b0 = tid % 2, .b1 = tid % 2 + 1, .i = tid / 2,
                   .k = (threads + 1 - tid % 2) / 2};
}

void share_cols(const Layout *lay, int b, Share sh, int *cs, int *ce)
{
    int c0, c1;
    layout_block(lay, b, &c0, &c1);
    int w = c1 - c0, a = (w * sh.i / sh.k + 8) / 16 * 16, z = (w * (sh.i + 1) / sh.k + 8) / 16 * 16;
    *cs = sh.i == 0 ? 0 : a < w ? a : w;
    *ce = sh.i + 1 == sh.k ? w : z < w ? z : w;
}

void share_forward(const Trainer *t, Share sh, int *c0, int *c1, int64_t *a0, int64_t *a1)
{
    int unused;
    layout_block(&t->model.layout, sh.b0, c0, &unused);
    layout_block(&t->model.layout, sh.b1 - 1, &unused, c1);
    *a0 = t->slots * sh.i / sh.k, *a1 = t->slots * (sh.i + 1) / sh.k;
}

int share_one_chunk(const Trainer *t, Share sh)
{
    int c0, c1;
    int64_t a0, a1;
    share_forward(t, sh, &c0, &c1, &a0, &a1);
    return a1 > a0 && a1 - a0 <= CHUNK_CAP;
}

void share_grad_cols(const Layout *lay, Share sh, int *from, int *to)
{
    int c0, c1, d0, d1;
    layout_block(lay, 0, &c0, &c1);
    layout_block(lay, 1, &d0, &d1);
    *from = c0, *to = d1;
    if (sh.b1 - sh.b0 == 1) {
        int cs, ce, b0 = sh.b0 ? d0 : c0;
        share_cols(lay, sh.b0, sh, &cs, &ce);
        *from = b0 + cs, *to = b0 + ce;
    }
}

void share_rest(size_t lo, size_t hi, int tid, int threads, size_t *i0, size_t *i1)
{
    size_t k = (size_t)threads, q = (size_t)(threads - 1 - tid);
    *i0 = lo + (hi - lo) * q / k;
    *i1 = lo + (hi - lo) * (q + 1) / k;
}

void share_wide_rows(int n_out, int tid, int threads, int *j0, int *j1)
{
    int tiles = (n_out + 15) / 16, a = 16 * (tiles * tid / threads);
    int z = 16 * (tiles * (tid + 1) / threads);
    *j0 = a < n_out ? a : n_out;
    *j1 = z < n_out ? z : n_out;
}

void share_groups(const Trainer *t, int tid, int threads, int64_t *g0, int64_t *g1)
{
    int64_t n_groups = t->group1 - t->group0;
    *g0 = t->group0 + n_groups * tid / threads;
    *g1 = t->group0 + n_groups * (tid + 1) / threads;
}
