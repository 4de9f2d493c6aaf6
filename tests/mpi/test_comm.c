/* test_comm: the exact sums' allreduce (comm_sum_i64: the node's shared window, or with
 * DOWNHILL_NODE_SUM=0 downhill's own Rabenseifner algorithm) against sums every rank
 * computes alone, for message lengths around the splits (0, 1, fewer values than ranks,
 * odd lengths, the trainer's 13,007), three rounds each, on whatever rank count it is
 * launched with (CTest: 2 to 7, powers of two and not; both paths). Then comm_sum_packed at
 * widths 5 and 6: values within every rank's share of the width (some exactly at it) give
 * the int64 sums without falling back; one value past it anywhere makes every rank send the
 * sums again as int64, with the same totals. Then the jobs (comm_sum_start, comm_progress,
 * comm_sum_wait): several buckets in flight at once, of several widths, one of them past
 * its width (it alone falls back), started and progressed between pieces of work, against
 * the same sums by comm_sum_i64; the peak each reports; float jobs against comm_sum_real.
 * Then comm_sum_start_blocks: a width per block of 4096 values (2 to 8 bytes), every block
 * within its share or one value past it, against the sums, its peaks and its bytes. */
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

/* block_width: the width of block b in check_blocks: 2 to 8 bytes, in turn. */
static int block_width(size_t b)
{
    return 2 + (int)(b * 3 % 7);
}

/* check_blocks: comm_sum_start_blocks of n values, block b at block_width(b) bytes (its
 * values within their share, some at it; one value past it at index past < n), and 2 side
 * values: the sums, whether it fell back, each block's peak (the largest |value| of any
 * rank) and the bytes rank 0 sent (two blocks' share less than one width for all would). */
static void check_blocks(int rank, int size, size_t n, size_t past)
{
    enum { SIDE = 2 };
    size_t nb = packed_blocks(n);
    int64_t *buf = malloc((n + SIDE) * sizeof *buf), *peaks = malloc((nb + 1) * sizeof *peaks);
    uint8_t *widths = malloc(nb + 1);
    if (!CHECK(buf && peaks && widths, "rank %d: out of memory for %zu sums", rank, n))
        return;
    for (size_t i = 0; i < n; i++) {
        size_t b = i / PACKED_BLOCK;
        widths[b] = (uint8_t)block_width(b);
        buf[i] = packed_value(rank, i, packed_bound(block_width(b), size), past);
    }
    for (size_t k = 0; k < SIDE; k++)
        buf[n + k] = value(rank, 3000000 + k);
    long before = comm_sum_fallbacks();
    long long sent = comm_sum_sent();
    int64_t peak = comm_sum_wait(comm_sum_start_blocks(buf, n, SIDE, widths, peaks));
    size_t wrong = 0, wrong_peaks = 0;
    for (size_t i = 0; i < n + SIDE; i++) {
        int64_t want = 0;
        for (int r = 0; r < size; r++)
            want += i < n ? packed_value(r, i, packed_bound(block_width(i / PACKED_BLOCK), size), past)
                          : value(r, 3000000 + i - n);
        wrong += buf[i] != want;
    }
    int64_t top = -1;
    for (size_t b = 0; b < nb; b++) {
        int64_t want = 0;
        for (size_t i = b * PACKED_BLOCK; i < n && i < (b + 1) * PACKED_BLOCK; i++)
            for (int r = 0; r < size; r++) {
                int64_t v = packed_value(r, i, packed_bound(block_width(b), size), past);
                want = (v < 0 ? -v : v) > want ? (v < 0 ? -v : v) : want;
            }
        want = want < PACKED_PEAK_CAP ? want : PACKED_PEAK_CAP; /* as packed_scan reports */
        wrong_peaks += comm_sum_messages() && peaks[b] != want;
        top = want > top ? want : top;
    }
    CHECK(wrong == 0, "rank %d of %d: %zu of %zu sums in blocks of widths 2..8 wrong", rank,
          size, wrong, n);
    long fell = comm_sum_fallbacks() - before, want_fell = comm_sum_messages() && past < n;
    CHECK(fell == want_fell, "rank %d of %d: %zu sums in blocks fell back %ld times, not %ld",
          rank, size, n, fell, want_fell);
    CHECK(wrong_peaks == 0 && peak == (comm_sum_messages() && n ? top : -1),
          "rank %d of %d: %zu of %zu block peaks wrong, or the job's peak %lld (want %lld)",
          rank, size, wrong_peaks, nb, (long long)peak, (long long)top);
    /* at 2 ranks without a fallback rank 0 sends each value once: its block's width */
    size_t packed = 0;
    for (size_t b = 0; b < nb; b++)
        packed += (size_t)block_width(b) * (n - b * PACKED_BLOCK < PACKED_BLOCK ? n - b * PACKED_BLOCK : PACKED_BLOCK);
    long long got = comm_sum_sent() - sent;
    CHECK(size != 2 || !comm_sum_messages() || past < n || rank != 0 ||
              (got >= (long long)packed && got < (long long)packed + 8 * (long long)(SIDE + 1 + nb) * 2),
          "rank 0 of 2: %zu sums in blocks sent %lld bytes, want %zu plus the trailers", n, got,
          packed);
    free(buf), free(peaks), free(widths);
}

/* check_jobs: round k of five exact jobs in flight together over one buffer cut in buckets
 * of several widths (bucket 2 with a value past its share: it alone falls back by
 * messages), plus a float job, against comm_sum_i64 and comm_sum_real of copies. */
static void check_jobs(int rank, int size, size_t k)
{
    enum { JOBS = 5, SIDE = 2 };
    const size_t len[JOBS] = {1001, 7, 100003, 0, 13007};
    const int bytes[JOBS] = {5, 3, 4, 8, 6};
    size_t at[JOBS + 1] = {0}, total;
    for (int j = 0; j < JOBS; j++)
        at[j + 1] = at[j] + len[j] + SIDE;
    total = at[JOBS];
    int64_t *buf = malloc(total * sizeof *buf), *want = malloc(total * sizeof *want);
    Real *f = malloc(1000 * sizeof *f), *fw = malloc(1000 * sizeof *fw);
    if (!CHECK(buf && want && f && fw, "rank %d: out of memory for the jobs", rank))
        return;
    for (int j = 0; j < JOBS; j++) {
        int64_t bound = packed_bound(bytes[j], size);
        for (size_t i = 0; i < len[j]; i++) /* bucket 2: one value past its share */
            buf[at[j] + i] = packed_value(rank, i, bound, j == 2 ? len[j] / 3 : len[j]);
        for (size_t i = 0; i < SIDE; i++)
            buf[at[j] + len[j] + i] = value(rank, 2000000 + i + k);
    }
    for (size_t i = 0; i < 1000; i++)
        f[i] = fw[i] = (Real)(int)(value(rank, i) % 1000); /* integers: exact float sums */
    memcpy(want, buf, total * sizeof *buf);
    comm_sum_i64(want, total);
    comm_sum_real(fw, 1000);
    long before = comm_sum_fallbacks(), ticket[JOBS];
    comm_sum_reserve(total);
    for (int j = 0; j < JOBS; j++) {
        ticket[j] = comm_sum_start(buf + at[j], len[j], SIDE, bytes[j]);
        for (int piece = 0; piece < 3; piece++) /* "work", then the sums move on */
            comm_progress();
    }
    long fticket = comm_real_start(f, 1000);
    int64_t peak[JOBS];
    for (int j = JOBS - 1; j >= 0; j--) /* the last first: it waits for those before too */
        peak[j] = comm_sum_wait(ticket[j]);
    comm_sum_wait(fticket);
    size_t wrong = 0, fwrong = 0;
    for (size_t i = 0; i < total; i++)
        wrong += buf[i] != want[i];
    for (size_t i = 0; i < 1000; i++)
        fwrong += f[i] != fw[i];
    CHECK(wrong == 0 && fwrong == 0, "rank %d of %d: jobs round %zu: %zu of %zu exact and %zu "
          "of 1000 float sums wrong", rank, size, k, wrong, total, fwrong);
    long fell = comm_sum_fallbacks() - before, want_fell = comm_sum_messages();
    CHECK(fell == want_fell, "rank %d of %d: jobs round %zu fell back %ld times, not %ld", rank,
          size, k, fell, want_fell);
    for (int j = 0; j < JOBS; j++) { /* the peak: the largest |value| sent packed, anywhere */
        int64_t bound = packed_bound(bytes[j], size);
        int64_t expect = !comm_sum_messages() || bytes[j] == 8 || len[j] == 0 ? -1
                         : j == 2                                       ? bound + 1
                                                                        : bound;
        CHECK(peak[j] == expect, "rank %d of %d: job %d's peak %lld, not %lld", rank, size, j,
              (long long)peak[j], (long long)expect);
    }
    free(buf), free(want), free(f), free(fw);
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
    const size_t block_lengths[] = {1, 4096, 4097, 3 * 4096 + 5, 100003};
    for (size_t t = 0; t < sizeof block_lengths / sizeof *block_lengths; t++) {
        size_t n = block_lengths[t];
        check_blocks(rank, size, n, n);     /* all within */
        check_blocks(rank, size, n, n / 2); /* one past, in the middle */
        check_blocks(rank, size, n, n - 1); /* one past, the last */
    }
    for (size_t k = 0; k < 3; k++) /* again: the node path's two sets in turn */
        check_jobs(rank, size, k);
    int first = comm_agree(check_failed());
    if (rank == 0)
        printf("%s: comm_sum_i64, comm_sum_packed, the jobs and the blocks on %d ranks (%s path)\n", first < 0 ? "PASS" : "FAIL", size,
               path);
    comm_finalize();
    return first < 0 ? 0 : 1;
}
