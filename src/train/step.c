/* step.c: the step engine: the plan of a step, its phases in order, and trainer_steps, which
 * runs many steps in one OpenMP parallel region. Every thread runs every phase; the phases
 * are separated by the same barriers on every thread, and a thread writes only what it owns
 * (shares.h). Look-ahead: while a step waits for the others or the allreduce, threads load,
 * fetch or form what the next steps will read (the plan says which).
 *
 * A step on each thread ("|" a barrier; "[ a ]" a split barrier with work a between
 * arriving and waiting; phases in parentheses only where the plan says so):
 *
 *   (block sums |) (fetch next) chunks [odd threads load next, pack] finish
 *   (next block sums) prefetch rest [fetch after next]
 *
 *   finish, one rank, exact: result, W1 and wide layers' gradients (their update fused
 *                            where the kernel can), combine rest, update_apply
 *   finish, otherwise:       W1 and wide layers' gradients (exact), combine | master:
 *                            allreduce, the others: load next | update_apply
 *   finish, overlapped:      W1 and wide layers' gradients, combine rest (|) master: start
 *                            the rest's bucket; W1 gradient in pieces (the master moves
 *                            the sums on between them and starts a block's bucket when it
 *                            has formed the block) | master: the rest of the buckets, the
 *                            others: load next | update_apply
 *
 * With more than two threads, "next block sums" waits at a barrier first. */
#include "train/train.h"

#include <omp.h>

#include "comm/comm.h"
#include "train/chunks.h"
#include "train/first_layer.h"
#include "train/lanes.h"
#include "train/schedule.h"
#include "train/shares.h"
#include "train/sums.h"
#include "train/update.h"
#include "train/wide_layer.h"

/* What every thread of a step knows alike: where the step is and what each phase does. */
typedef struct {
    int64_t step, pos, epoch;
    double lr;
    int exact;       /* exact sums (else float) */
    int local;       /* exact sums on one rank: each thread finishes alone, no collective */
    int overlap;     /* exact sums on several ranks, train.overlap: the buckets of the sums
                      * start while W1's gradient is formed */
    int form_blocks; /* the step forms its own block sums first (the step before did not) */
    int fetch_next;  /* the next step's rows are asked for before the chunks (the step before
                      * did not ask) */
    int next_ahead;  /* the next step is in this epoch (exact sums): its inputs are loaded
                      * and, when this step updates, its block sums formed during this step */
    int odd_load;    /* the odd threads load the next step's inputs at the middle barrier */
    int fetch_after; /* the rows of the step after next are asked for at the step's end */
} StepPlan;

/* What the steps before did ahead for the coming ones (a step number; -1: nothing). */
typedef struct {
    int64_t formed;  /* the step whose block sums are in t->part */
    int64_t fetched; /* the step whose rows were asked for */
} Ahead;

/* odd_ahead: whether the odd threads load the next step's inputs at the step's middle
 * barrier, between arriving and waiting (one rank, exact sums, an odd thread's lanes in one
 * chunk); the even ones load theirs in first_forward (with two threads, faster than both
 * loading ahead and than neither). */
static int odd_ahead(const Trainer *t, int threads)
{
    return t->ranks == 1 && t->cfg->reduction == REDUCTION_EXACT && threads > 1 &&
           share_one_chunk(t, share_of(1, threads));
}

/* plan_step: the plan of step `step`, given what the steps before did ahead. */
static StepPlan plan_step(const Trainer *t, int threads, int64_t step, Ahead ahead)
{
    StepPlan p = {.step = step, .pos = step % t->steps_per_epoch,
                  .epoch = step / t->steps_per_epoch};
    p.lr = schedule_lr(t->cfg, step, t->steps_per_epoch) * t->lr_scale;
    p.exact = t->cfg->reduction == REDUCTION_EXACT;
    p.local = t->ranks == 1 && p.exact;
    p.overlap = p.exact && sums_overlap(t);
    p.form_blocks = p.exact && ahead.formed != step;
    p.next_ahead = p.exact && p.pos + 1 < t->steps_per_epoch;
    p.fetch_next = p.next_ahead && ahead.fetched != step + 1;
    p.odd_load = p.local && p.next_ahead && odd_ahead(t, threads);
    p.fetch_after = p.exact && p.pos + 2 < t->steps_per_epoch;
    return p;
}

/* phase_shuffle: at an epoch's first step, the lanes shuffled for it (every thread). */
static void phase_shuffle(Trainer *t, int tid, int64_t epoch)
{
    double clock = timer_now();
    lanes_shuffle(t, epoch);
    if (tid == 0) {
        t->shuffled_epoch = epoch;
        timer_add(&t->times, PHASE_DATA, &clock);
    }
}

/* phase_blocks: this step's block sums, then a barrier (the chunks read every thread's). */
static void phase_blocks(Trainer *t, ThreadState *s, int tid, int threads, const StepPlan *p)
{
    first_forward(t, s, tid, threads, p->pos, p->step);
    barrier_wait(t->barrier, threads);
}

/* phase_middle: the barrier after the chunks, split: between arriving and waiting, the work
 * that needs nothing of the other threads' chunks. */
static void phase_middle(Trainer *t, ThreadState *s, int tid, int threads, const StepPlan *p)
{
    long mid = barrier_arrive(t->barrier, threads);
    if (p->odd_load && tid % 2 == 1) /* see odd_ahead */
        first_load_ahead(t, s, tid, threads, p->pos + 1, p->step + 1);
    if (p->exact && !p->overlap) /* (the pieces of finish_overlap lay out their own) */
        first_pack(t, s, tid, threads, p->pos);
    barrier_wait_for(t->barrier, mid);
}

/* finish_local: one rank, exact sums, after every thread's chunks: the step's result, this
 * thread's columns of the first layer's gradient (the update fused where the kernel can),
 * its slice of the rest combined, and the update: no thread waits for another. Returns
 * the step's examples (<= 0: diverged, no update). */
static int64_t finish_local(Trainer *t, ThreadState *s, int tid, int threads,
                            const StepPlan *p, int requests, StepResult *r)
{
    double clock = timer_now();
    StepResult mine = sums_local(t, requests);
    if (tid == 0)
        *r = mine;
    first_gradient(t, s, tid, threads, p->pos, update_first_step(t, p->lr, mine.count));
    wide_gradient(t, s, tid, threads, update_wide_step(t, p->lr, mine.count));
    timer_add(&s->times, PHASE_BACKWARD, &clock);
    sums_combine_slice(t, t->model.layout.b_off[1], t->model.layout.n_params, tid, threads);
    timer_add(&s->times, PHASE_COMBINE, &clock);
    update_apply(t, s, tid, threads, p->lr, mine.count);
    timer_add(&s->times, PHASE_UPDATE, &clock);
    return mine.count;
}

/* rank_sums: after every thread's chunks: this thread's columns of the first layer's
 * gradient (exact) and its slice of the rank's combined sums of the rest. */
static void rank_sums(Trainer *t, ThreadState *s, int tid, int threads, const StepPlan *p)
{
    double clock = timer_now();
    size_t np = t->model.layout.n_params, w1 = 0;
    if (p->exact) {
        first_gradient(t, s, tid, threads, p->pos, 0);
        wide_gradient(t, s, tid, threads, 0);
        timer_add(&s->times, PHASE_BACKWARD, &clock);
        w1 = t->model.layout.b_off[1];
    }
    if (p->exact || t->threads > 1)
        sums_combine_slice(t, w1, np + SUM_EXTRA, tid, threads);
    timer_add(&s->times, PHASE_COMBINE, &clock);
}

/* finish_reduced: several ranks or float sums, after every thread's chunks: the rank's
 * sums, the collective (by the master, while the others load the next step's inputs)
 * between two barriers, and the update. Returns the step's examples (<= 0: diverged). */
static int64_t finish_reduced(Trainer *t, ThreadState *s, int tid, int threads,
                              const StepPlan *p, int requests, StepResult *r)
{
    rank_sums(t, s, tid, threads, p);
    barrier_wait(t->barrier, threads);
    if (tid == 0)
        *r = sums_reduce(t, requests);
    else if (p->next_ahead) /* while the master is in the allreduce */
        first_load_ahead(t, s, tid, threads, p->pos + 1, p->step + 1);
    barrier_wait(t->barrier, threads);
    double clock = timer_now();
    update_apply(t, s, tid, threads, p->lr, r->count);
    timer_add(&s->times, PHASE_UPDATE, &clock);
    return r->count;
}

/* between_pieces: the master's pause between two pieces of W1's gradient (finish_overlap):
 * a block it has formed whole (block >= 0) starts its bucket; the sums in flight move on. */
static void between_pieces(Trainer *t, int block)
{
    if (block >= 0) {
        int c0, c1;
        size_t off = layout_block(&t->model.layout, block, &c0, &c1);
        sums_start(t, off, off + (size_t)t->model.layout.n[1] * (size_t)(c1 - c0));
    }
    comm_progress();
}

/* finish_overlap: finish_reduced with train.overlap (exact sums, several ranks): the rest
 * combined first and its bucket started at once, then W1's gradient in pieces while the
 * sums travel, its blocks' buckets started as they are complete. The same sums, so the
 * same bits. A bucket starts only once every value in it is final on this rank: sums
 * formed after the chunks other than W1's must be formed before the rest's bucket starts.
 * Returns the step's examples (<= 0: diverged). */
static int64_t finish_overlap(Trainer *t, ThreadState *s, int tid, int threads,
                              const StepPlan *p, int requests, StepResult *r)
{
    double clock = timer_now();
    size_t np = t->model.layout.n_params, w1 = t->model.layout.b_off[1];
    wide_gradient(t, s, tid, threads, 0); /* in the rest's bucket: formed before it starts */
    timer_add(&s->times, PHASE_BACKWARD, &clock);
    sums_combine_slice(t, w1, np + SUM_EXTRA, tid, threads);
    timer_add(&s->times, PHASE_COMBINE, &clock);
    if (threads > 1) /* the rest is whole */
        barrier_wait(t->barrier, threads);
    if (tid == 0) {
        sums_begin(t, requests);
        sums_start(t, w1, np);
    }
    clock = timer_now();
    first_gradient_pieces(t, s, tid, threads, p->pos, tid == 0 ? between_pieces : NULL);
    timer_add(&s->times, PHASE_BACKWARD, &clock);
    barrier_wait(t->barrier, threads);
    if (tid == 0)
        *r = sums_finish(t);
    else if (p->next_ahead) /* while the master waits for the sums */
        first_load_ahead(t, s, tid, threads, p->pos + 1, p->step + 1);
    barrier_wait(t->barrier, threads);
    clock = timer_now();
    update_apply(t, s, tid, threads, p->lr, r->count);
    timer_add(&s->times, PHASE_UPDATE, &clock);
    return r->count;
}

/* phase_next_blocks: the next step's block sums, formed now. They need only this thread's
 * blocks of W1: with one or two threads it updated them alone just now (the step's end is
 * the wait); with more, a block's columns are shared, so all of them must be updated first. */
static void phase_next_blocks(Trainer *t, ThreadState *s, int tid, int threads,
                              const StepPlan *p)
{
    if (threads > 2)
        barrier_wait(t->barrier, threads);
    first_forward(t, s, tid, threads, p->pos + 1, p->step + 1);
}

/* prefetch_rest: the values after W1 another thread updated, asked for well before the
 * next step's forward pass reads them. */
static void prefetch_rest(const Trainer *t, int threads)
{
    if (threads > 1)
        for (size_t i = t->model.layout.b_off[1]; i < t->model.layout.n_params; i += 16)
            __builtin_prefetch(t->model.params + i, 0, 3);
}

/* step_body: thread tid's part of step p, from its first phase to before its end barrier;
 * r is the step's result (written by the master or, on one rank, thread 0; every thread
 * reads it after the step's end). */
static void step_body(Trainer *t, int tid, int threads, const StepPlan *p, int requests,
                      StepResult *r)
{
    ThreadState *s = &t->ts[tid]; /* each thread writes only what it owns */
    if (p->form_blocks)
        phase_blocks(t, s, tid, threads, p);
    if (p->fetch_next)
        first_fetch(t, tid, threads, p->pos + 1);
    chunks_gradient(t, s, tid, threads, p->pos);
    phase_middle(t, s, tid, threads, p);
    int64_t count = p->local     ? finish_local(t, s, tid, threads, p, requests, r)
                    : p->overlap ? finish_overlap(t, s, tid, threads, p, requests, r)
                                 : finish_reduced(t, s, tid, threads, p, requests, r);
    if (p->next_ahead && count > 0)
        phase_next_blocks(t, s, tid, threads, p);
    prefetch_rest(t, threads);
}

/* phase_end: the barrier that ends the step, split: until the others are done, the rows of
 * the step after next are asked for. */
static void phase_end(Trainer *t, int tid, int threads, const StepPlan *p)
{
    long end = barrier_arrive(t->barrier, threads);
    if (p->fetch_after)
        first_fetch(t, tid, threads, p->pos + 2);
    barrier_wait_for(t->barrier, end);
}

/* ahead_after: what step p (with count examples; <= 0: no update) did ahead. */
static Ahead ahead_after(const StepPlan *p, int64_t count)
{
    return (Ahead){.formed = p->next_ahead && count > 0 ? p->step + 1 : -1,
                   .fetched = p->fetch_after ? p->step + 2 : -1};
}

/* step_done: the master's bookkeeping of a finished step. */
static void step_done(Trainer *t, const StepPlan *p, const StepResult *r, Ahead ahead,
                      int *agreed)
{
    t->formed_step = ahead.formed;
    *agreed = r->agreed;
    if (r->count <= 0)
        return;
    t->epoch_cost += r->cost;
    t->epoch_count += r->count;
    t->step = p->step + 1;
}

int trainer_steps(Trainer *t, int64_t n, StepPoll poll, void *ctx, int *agreed, Err *e)
{
    (void)e;
    *agreed = 0;
    StepResult r = {0};
    barrier_reset(t->barrier);
    /* one parallel region for all n steps: a barrier ends each step (a region's start and
     * end cost more than a barrier) */
#pragma omp parallel num_threads(t->threads)
    {
        int tid = omp_get_thread_num(), threads = omp_get_num_threads();
        int64_t step = t->step, shuffled = t->shuffled_epoch; /* each thread's copy */
        Ahead ahead = {.formed = t->formed_step, .fetched = -1};
        for (int64_t k = 0; k < n; k++) {
            StepPlan p = plan_step(t, threads, step, ahead);
            if (p.epoch != shuffled)
                phase_shuffle(t, tid, p.epoch);
            shuffled = p.epoch;
            int requests = tid == 0 && poll ? poll(ctx) : 0;
            step_body(t, tid, threads, &p, requests, &r);
            phase_end(t, tid, threads, &p);
            /* every thread reads the step's result before the master can write the next
             * one (after the next step's first barrier) and decides alike */
            StepResult done = r;
            ahead = ahead_after(&p, done.count);
            if (tid == 0)
                step_done(t, &p, &done, ahead, agreed);
            step += done.count > 0;
            if (done.agreed)
                break;
        }
    }
    return 0;
}

/* fixed_requests: a StepPoll that always returns *(int *)ctx. */
static int fixed_requests(void *ctx)
{
    return *(const int *)ctx;
}

int trainer_step(Trainer *t, int requests, int *agreed, Err *e)
{
    return trainer_steps(t, 1, fixed_requests, &requests, agreed, e);
}
