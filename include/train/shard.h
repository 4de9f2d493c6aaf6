/* shard.h: which examples a rank holds. The set is split into `stride` lanes
 * (example i is in lane i % stride); a rank holds the lanes [lane0, lane1).
 * Local rows are in increasing example order: row = k * (lane1 - lane0) + (lane - lane0)
 * for the k-th example of a lane. A contiguous block [a, b) is stride = n, lanes [a, b). */
#ifndef DOWNHILL_SHARD_H
#define DOWNHILL_SHARD_H

#include <stdint.h>

typedef struct {
    int64_t n;      /* examples in the whole set */
    int64_t stride; /* number of lanes, >= 1 */
    int64_t lane0;  /* first lane held */
    int64_t lane1;  /* one past the last lane held */
} Shard;

/* shard_lanes: the shard of lanes [lane0, lane1) out of `stride` over n examples. */
Shard shard_lanes(int64_t n, int64_t stride, int64_t lane0, int64_t lane1);

/* shard_block: the contiguous block of rank `rank` of `ranks` (sizes differ by at most 1). */
Shard shard_block(int64_t n, int rank, int ranks);

/* shard_lane_length: examples in lane `lane` (ceil((n - lane) / stride), 0 if lane >= n). */
int64_t shard_lane_length(const Shard *s, int64_t lane);

/* shard_rows: number of examples the shard holds. */
int64_t shard_rows(const Shard *s);

/* shard_full_rounds: rounds k in which every held lane has an example (k*stride + lane1 <= n). */
int64_t shard_full_rounds(const Shard *s);

/* shard_row: local row of the k-th example of lane `lane`, or -1 when it does not exist. */
int64_t shard_row(const Shard *s, int64_t lane, int64_t k);

/* shard_global: global example index of local row `row`. */
int64_t shard_global(const Shard *s, int64_t row);

#endif
