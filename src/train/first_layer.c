/* first_layer.c: a step's work on the first layer by W1's column blocks (see first_layer.h). */
#include "train/first_layer.h"

#include "train/lanes.h"
#include "train/shares.h"

/* first_load: input columns [c0, c1) of lanes [a, a + n) at position pos into ws.x. */
static void first_load(Trainer *t, ThreadState *s, int64_t a, int n, int64_t pos, int c0,
                       int c1)
{
    model_load_columns(&t->model.layout, &s->ws, lanes_step_rows(t, pos) + a, n, c0, c1);
}

void first_load_ahead(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                      int64_t step)
{
    int c0, c1;
    int64_t a0, a1;
    Share sh = share_of(tid, threads);
    if (!share_one_chunk(t, sh))
        return;
    share_forward(t, sh, &c0, &c1, &a0, &a1);
    double clock = timer_now();
    first_load(t, s, a0, (int)(a1 - a0), pos, c0, c1);
    s->inputs_step = step;
    timer_add(&s->times, PHASE_DATA, &clock);
}

void first_fetch(const Trainer *t, int tid, int threads, int64_t pos)
{
    int c0, c1;
    int64_t a0, a1;
    share_forward(t, share_of(tid, threads), &c0, &c1, &a0, &a1);
    for (int64_t a = a0; a < a1; a++) {
        const uint8_t *row = lanes_step_rows(t, pos)[a];
        for (int k = c0; k < c1; k += 64)
            __builtin_prefetch(row + k);
        __builtin_prefetch(row + c1 - 1);
    }
}

void first_forward(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                   int64_t step)
{
    const Model *m = &t->model;
    int n1 = m->layout.n[1], c0, c1;
    int64_t a0, a1;
    Share sh = share_of(tid, threads);
    share_forward(t, sh, &c0, &c1, &a0, &a1);
    for (int64_t a = a0; a < a1; a += CHUNK_CAP) {
        double clock = timer_now();
        int n = (int)(a1 - a < CHUNK_CAP ? a1 - a : CHUNK_CAP);
        if (s->inputs_step != step) /* not loaded ahead */
            first_load(t, s, a, n, pos, c0, c1);
        s->inputs_step = -1;
        timer_add(&s->times, PHASE_DATA, &clock);
        for (int b = sh.b0; b < sh.b1; b++)
            model_first_partial(m, &s->ws, n, b,
                                t->part + ((size_t)b * (size_t)t->slots + (size_t)a) * n1);
        timer_add(&s->times, PHASE_FORWARD, &clock);
    }
}

void first_pack(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos)
{
    int from, to;
    if (t->slots > COLS_BLOCK)
        return;
    share_grad_cols(&t->model.layout, share_of(tid, threads), &from, &to);
    exact_input_pack(&s->cols, lanes_step_rows(t, pos), (int)t->slots, from, to);
}

/* first_sums: where the sums of share sh's columns [from, to) go (ColSums), with the
 * weights to spend them on when fuse_step > 0 and one call makes them whole. */
static ColSums first_sums(Trainer *t, Share sh, int from, int to, double fuse_step)
{
    const Layout *lay = &t->model.layout;
    int c0, c1, d0, d1;
    size_t off0 = layout_block(lay, 0, &c0, &c1), off1 = layout_block(lay, 1, &d0, &d1);
    ColSums dst = {.acc = {t->sum + off0, t->sum + off1}, .stride = {c1 - c0, d1 - d0},
                   .split = c1, .theta = {t->model.params + off0, t->model.params + off1},
                   .step = fuse_step, .inv = t->fixed.inv_scale};
    if (sh.b1 - sh.b0 == 1) { /* its columns of one block */
        int b = sh.b0;
        size_t off = (b ? off1 - (size_t)d0 : off0 - (size_t)c0) + (size_t)from;
        dst.acc[0] = t->sum + off, dst.theta[0] = t->model.params + off;
        dst.stride[0] = b ? d1 - d0 : c1 - c0, dst.split = to;
        dst.acc[1] = NULL, dst.theta[1] = NULL;
    }
    if (!(fuse_step > 0) || t->slots > COLS_BLOCK) /* the sums are whole after one call only */
        dst.theta[0] = dst.theta[1] = NULL;
    return dst;
}

void first_gradient(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                    double fuse_step)
{
    int from, to;
    Share sh = share_of(tid, threads);
    share_grad_cols(&t->model.layout, sh, &from, &to);
    ColSums dst = first_sums(t, sh, from, to, fuse_step);
    int spent = 0;
    for (int64_t i = 0; i < t->slots; i += COLS_BLOCK) {
        int n = (int)(t->slots - i < COLS_BLOCK ? t->slots - i : COLS_BLOCK);
        spent = exact_input_cols(&dst, t->D + i, (int)t->slots, lanes_step_rows(t, pos) + i, n,
                                 t->model.layout.n[1], from, to, &s->cols);
    }
    s->first_spent = spent;
}

/* piece_sums: where the sums of columns [from, to) of block b go (no spending). */
static ColSums piece_sums(Trainer *t, int b, int from, int to)
{
    int c0, c1;
    size_t off = layout_block(&t->model.layout, b, &c0, &c1) - (size_t)c0 + (size_t)from;
    return (ColSums){.acc = {t->sum + off, NULL}, .stride = {c1 - c0, 0}, .split = to,
                     .theta = {NULL, NULL}, .step = 0, .inv = t->fixed.inv_scale};
}

void first_gradient_pieces(Trainer *t, ThreadState *s, int tid, int threads, int64_t pos,
                           void (*between)(Trainer *t, int block))
{
    const Layout *lay = &t->model.layout;
    int from, to;
    share_grad_cols(lay, share_of(tid, threads), &from, &to);
    for (int b = 0; b < 2; b++) {
        int c0, c1;
        layout_block(lay, b, &c0, &c1);
        int lo = from > c0 ? from : c0, hi = to < c1 ? to : c1;
        for (int p = lo; p < hi; p += FIRST_PIECE_COLS) {
            int q = hi - p < FIRST_PIECE_COLS ? hi : p + FIRST_PIECE_COLS;
            ColSums dst = piece_sums(t, b, p, q);
            for (int64_t i = 0; i < t->slots; i += COLS_BLOCK) {
                int n = (int)(t->slots - i < COLS_BLOCK ? t->slots - i : COLS_BLOCK);
                exact_input_cols(&dst, t->D + i, (int)t->slots, lanes_step_rows(t, pos) + i, n,
                                 lay->n[1], p, q, &s->cols);
            }
            if (between)
                between(t, q == hi && lo == c0 && hi == c1 ? b : -1);
        }
    }
    s->first_spent = 0;
}
