/* shard.c: lane and block shards of an example set (see shard.h for the row order). */
#include "train/shard.h"

Shard shard_lanes(int64_t n, int64_t stride, int64_t lane0, int64_t lane1)
{
    Shard s = {n, stride, lane0, lane1};
    return s;
}

Shard shard_block(int64_t n, int rank, int ranks)
{
    int64_t a = n * rank / ranks, b = n * (rank + 1) / ranks;
    return shard_lanes(n, n > 0 ? n : 1, a, b);
}

int64_t shard_lane_length(const Shard *s, int64_t lane)
{
    if (lane >= s->n)
        return 0;
    return (s->n - lane + s->stride - 1) / s->stride;
}

int64_t shard_full_rounds(const Shard *s)
{
    if (s->lane1 <= s->lane0 || s->n < s->lane1)
        return 0;
    return (s->n - s->lane1) / s->stride + 1;
}

int64_t shard_rows(const Shard *s)
{
    int64_t width = s->lane1 - s->lane0, k = shard_full_rounds(s);
    int64_t rows = k * width;
    /* tail round k: lanes lane0 .. min(lane1, n - k*stride) - 1 */
    int64_t tail_end = s->n - k * s->stride;
    if (tail_end > s->lane0)
        rows += (tail_end < s->lane1 ? tail_end : s->lane1) - s->lane0;
    return rows;
}

int64_t shard_row(const Shard *s, int64_t lane, int64_t k)
{
    if (lane < s->lane0 || lane >= s->lane1 || k < 0 || k * s->stride + lane >= s->n)
        return -1;
    return k * (s->lane1 - s->lane0) + (lane - s->lane0);
}

int64_t shard_global(const Shard *s, int64_t row)
{
    int64_t width = s->lane1 - s->lane0;
    return (row / width) * s->stride + s->lane0 + row % width;
}
