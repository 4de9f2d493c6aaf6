/* test_comm: the exact sums' allreduce (comm_sum_i64: the node's shared window, or with
 * DOWNHILL_NODE_SUM=0 downhill's own Rabenseifner algorithm) against sums every rank
 * computes alone, for message lengths around the splits (0, 1, fewer values than ranks,
 * odd lengths, the trainer's 13,007), three rounds each, on whatever rank count it is
 * launched with (CTest: 2 to 7, powers of two and not; both paths). Then comm_sum_packed at
 * widths 5 and 6: values within every rank's share of the width (some exactly at it) give
 * the int64 sums without falling back; one value past it anywhere makes every rank send the
 * sums again as int64, with the same totals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comm/comm.h"
#include "comm/packed.h"

/* value: what rank r contributes at position i: large, of both signs, < 2^58 in size. */
static int64_t value(int r, size_t i)
{
    uint64_t h = (uint64_t)(r + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)i * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return (int64_t)(h >> 6) - ((int64_t)1 << 57);
}

/* check_sums: comm_sum_i64 of n values (round k: each rank's values shifted by k) against
 * the sums computed here. */
static void check_sums(int rank, int size, size_t n, size_t k)
{
    int64_t *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!CHECK(buf != NULL, "rank %d: out of memory for %zu sums", rank, n))
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = value(rank, i + k);
    comm_sum_i64(buf, n);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t want = 0;
        for (int r = 0; r < size; r++)
            want += value(r, i + k);
        wrong += buf[i] != want;
    }
    CHECK(wrong == 0, "rank %d of %d: %zu of %zu sums wrong (round %zu)", rank, size, wrong, n,
          k);
    free(buf);
}

/* packed_value: rank r's value i within bound (every 5th at +-bound), or past it at i = past. */
static int64_t packed_value(int r, size_t i, int64_t bound, size_t past)
{
    int64_t v = value(r, i) % (bound + 1);
    if (i % 5 == 2)
        v = (i + (size_t)r) % 2 ? bound : -bound;
    return i == past && r == 1 ? bound + 1 : v;
}

/* check_packed: comm_sum_packed of n values at `bytes` bytes (one value past this rank's
 * share when past < n) and 3 side values of full size after them, against the sums
 * computed here, and whether it fell back. */
static void check_packed(int rank, int size, size_t n, int bytes, size_t past)
{
    enum { SIDE = 3 };
    int64_t bound = packed_bound(bytes, size), *buf = malloc((n + SIDE) * sizeof *buf);
    if (!CHECK(buf != NULL, "rank %d: out of memory for %zu sums", rank, n))
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = packed_value(rank, i, bound, past);
    for (size_t k = 0; k < SIDE; k++)
        buf[n + k] = value(rank, 1000000 + k);
    long before = comm_sum_fallbacks();
    comm_sum_packed(buf, n, SIDE, bytes);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t want = 0;
        for (int r = 0; r < size; r++)
            want += packed_value(r, i, bound, past);
        wrong += buf[i] != want;
    }
    for (size_t k = 0; k < SIDE; k++) {
        int64_t want = 0;
        for (int r = 0; r < size; r++)
            want += value(r, 1000000 + k);
        wrong += buf[n + k] != want;
    }
    CHECK(wrong == 0, "rank %d of %d: %zu of %zu packed sums (%d bytes) wrong", rank, size,
          wrong, n, bytes);
    long fell = comm_sum_fallbacks() - before, want_fell = comm_sum_messages() && past < n;
    CHECK(fell == want_fell, "rank %d of %d: %zu sums at %d bytes fell back %ld times, not %ld",
          rank, size, n, bytes, fell, want_fell);
    free(buf);
}

int main(int argc, char **argv)
{
    int rank, size;
    comm_init(&argc, &argv, &rank, &size);
    /* DOWNHILL_NODE_SUM=0: the point-to-point algorithm; else (all ranks on this machine)
     * the node's shared window. */
    const char *env = getenv("DOWNHILL_NODE_SUM"), *path = comm_sum_path();
    const char *want = env && strcmp(env, "0") == 0 ? "messages" : "node";
    CHECK(strncmp(path, want, strlen(want)) == 0, "rank %d: the sums take the %s path, not %s",
          rank, path, want);
    const size_t lengths[] = {0, 1, 2, 3, 5, 7, 64, 1001, 13007, 100003};
    for (size_t t = 0; t < sizeof lengths / sizeof *lengths; t++)
        for (size_t k = 0; k < 3; k++) /* again: the node path's two sets in turn */
            check_sums(rank, size, lengths[t], k);
    const size_t packed_lengths[] = {1, 3, 7, 1001, 100003};
    for (size_t t = 0; t < sizeof packed_lengths / sizeof *packed_lengths; t++)
        for (int bytes = 5; bytes <= 6; bytes++) {
            size_t n = packed_lengths[t];
            check_packed(rank, size, n, bytes, n);         /* all within */
            check_packed(rank, size, n, bytes, n / 2);     /* one past, in the middle */
            check_packed(rank, size, n, bytes, n - 1);     /* one past, the last */
        }
    int first = comm_agree(check_failed());
    if (rank == 0)
        printf("%s: comm_sum_i64 and comm_sum_packed on %d ranks (%s path)\n", first < 0 ? "PASS" : "FAIL", size,
               path);
    comm_finalize();
    return first < 0 ? 0 : 1;
}
