/* lanes.c: the shuffled epoch's rows of the rank's lanes (see lanes.h). */
#include "train/lanes.h"
#include "train/wide_layer.h"

#include "core/rng.h"

/* lane_pixels: lane `lane`'s pixel rows at every position of the epoch into its column of
 * t->epoch_rows, from its shuffled positions (a short lane's last: row 0, unused). */
static void lane_pixels(Trainer *t, int64_t lane)
{
    const Shard *s = &t->train.shard;
    size_t slots = (size_t)t->slots, dim = (size_t)t->train.info.dim;
    for (int64_t pos = 0; pos < t->steps_per_epoch; pos++) {
        int64_t at = shard_row(s, lane, pos), row = at < 0 ? 0 : shard_row(s, lane, t->order[at]);
        t->epoch_rows[(size_t)pos * slots + (size_t)(lane - s->lane0)] =
            t->train.images + (size_t)row * dim;
    }
}

/* lanes_shuffle: a Fisher-Yates shuffle of each held lane's positions, from the stream
 * (seed, epoch, lane); then its pixel rows (lane_pixels). */
void lanes_shuffle(Trainer *t, int64_t epoch)
{
    const Shard *s = &t->train.shard;
#pragma omp for schedule(static)
    for (int64_t lane = s->lane0; lane < s->lane1; lane++) {
        int64_t len = shard_lane_length(s, lane);
        Rng r;
        rng_init(&r, rng_mix(t->cfg->seed ^ 0x73687566666c65ULL /* "shuffle" */,
                             (uint64_t)epoch, (uint64_t)lane));
        for (int64_t k = 0; k < len; k++)
            t->order[shard_row(s, lane, k)] = k;
        for (int64_t k = len - 1; k > 0; k--) {
            int64_t j = (int64_t)rng_below(&r, (uint64_t)k + 1);
            int64_t *a = &t->order[shard_row(s, lane, k)], *b = &t->order[shard_row(s, lane, j)];
            int64_t tmp = *a;
            *a = *b;
            *b = tmp;
        }
        lane_pixels(t, lane);
    }
}

const uint8_t *const *lanes_step_rows(const Trainer *t, int64_t pos)
{
    return t->epoch_rows + (size_t)pos * (size_t)t->slots;
}

int lanes_gather_group(const Trainer *t, ThreadState *s, int64_t g, int64_t pos, int n)
{
    const Shard *sh = &t->train.shard;
    int64_t end = (g + 1) * t->group < t->lanes ? (g + 1) * t->group : t->lanes;
    for (int64_t lane = g * t->group; lane < end; lane++) {
        int64_t at = shard_row(sh, lane, pos), slot = lane - sh->lane0;
        if (at < 0) { /* a short lane: the epoch's last batch is smaller */
            int n1 = t->model.layout.n[1];
            for (int j = 0; j < n1; j++) /* adds nothing */
                t->D[(size_t)j * (size_t)t->slots + (size_t)slot] = 0;
            wide_clear_lane(t, slot);
            continue;
        }
        int64_t row = shard_row(sh, lane, t->order[at]);
        s->rows[n] = t->train.images + (size_t)row * (size_t)t->train.info.dim;
        s->labels[n] = t->train.labels[row];
        s->slot[n] = slot;
        n++;
    }
    return n;
}
