/* test_comm: the exact sums' allreduce (comm_sum_i64, downhill's own Rabenseifner
 * algorithm) against sums every rank computes alone, for message lengths around the
 * halving splits (0, 1, fewer values than ranks, odd lengths, the trainer's 13,007) on
 * whatever rank count it is launched with (CTest: 2 to 7, powers of two and not). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm.h"

/* value: what rank r contributes at position i: large, of both signs, < 2^58 in size. */
static int64_t value(int r, size_t i)
{
    uint64_t h = (uint64_t)(r + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)i * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return (int64_t)(h >> 6) - ((int64_t)1 << 57);
}

int main(int argc, char **argv)
{
    int rank, size, fails = 0;
    comm_init(&argc, &argv, &rank, &size);
    const size_t lengths[] = {0, 1, 2, 3, 5, 7, 64, 1001, 13007, 100003};
    for (size_t t = 0; t < sizeof lengths / sizeof *lengths; t++) {
        size_t n = lengths[t];
        int64_t *buf = malloc((n ? n : 1) * sizeof *buf);
        if (!buf)
            return 1;
        for (size_t i = 0; i < n; i++)
            buf[i] = value(rank, i);
        comm_sum_i64(buf, n);
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t want = 0;
            for (int r = 0; r < size; r++)
                want += value(r, i);
            wrong += buf[i] != want;
        }
        if (wrong) {
            fprintf(stderr, "FAIL: rank %d of %d: %zu of %zu sums wrong\n", rank, size, wrong, n);
            fails++;
        }
        free(buf);
    }
    int first = comm_agree(fails);
    if (rank == 0)
        printf("%s: comm_sum_i64 on %d ranks\n", first < 0 ? "PASS" : "FAIL", size);
    comm_finalize();
    return first < 0 ? 0 : 1;
}
