/* test_packed: the packed exact sums (comm/packed.h): store and load round-trip every width
 * 2..8 at lengths around the whole-word tail, negative values and values at the bound
 * included; packed_add's sums equal the int64 sums, in any order of additions, for as many
 * participants as the bound allows; packed_beyond counts exactly the values past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comm/packed.h"

/* value: participant p's value i, of both signs, within bound (every 7th at +-bound). */
static int64_t value(int p, size_t i, int64_t bound)
{
    uint64_t h = (uint64_t)(p + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(i + 1) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    if (i % 7 == 3)
        return (h & 1) ? bound : -bound;
    if (bound == INT64_MAX)
        return (int64_t)(h >> 1) - (int64_t)(h & 1) * INT64_MAX; /* both signs, full range */
    return (int64_t)(h % (2 * (uint64_t)bound + 1)) - bound;
}

/* check_round_trip: store then load gives back every value of n, at width bytes. */
static void check_round_trip(int bytes, size_t n)
{
    int64_t bound = packed_bound(bytes, 1), *v = malloc(n * sizeof *v), *back = malloc(n * sizeof *back);
    uint8_t *p = malloc(n * (size_t)bytes + 1);
    if (!CHECK(v && back && p, "out of memory"))
        goto done;
    for (size_t i = 0; i < n; i++)
        v[i] = value(0, i, bound);
    p[n * (size_t)bytes] = 0xA5; /* the byte after the values stays untouched */
    packed_store(p, v, n, bytes);
    packed_load(back, p, n, bytes);
    CHECK(memcmp(v, back, n * sizeof *v) == 0, "width %d, %zu values: load(store(v)) != v", bytes, n);
    CHECK(p[n * (size_t)bytes] == 0xA5, "width %d, %zu values: store wrote past its end", bytes, n);
done:
    free(v), free(back), free(p);
}

/* check_sums: `parts` participants' values summed packed (in two orders) against int64. */
static void check_sums(int bytes, size_t n, int parts)
{
    int64_t bound = packed_bound(bytes, parts), *v = malloc(n * sizeof *v);
    int64_t *want = calloc(n, sizeof *want), *got = malloc(n * sizeof *got);
    uint8_t *a = malloc(n * (size_t)bytes + 1), *b = malloc(n * (size_t)bytes + 1);
    uint8_t *c = malloc(n * (size_t)bytes + 1);
    if (!CHECK(v && want && got && a && b && c, "out of memory"))
        goto done;
    for (int p = 0; p < parts; p++) { /* a: forward order; c: backward (a tree is an order) */
        for (size_t i = 0; i < n; i++)
            v[i] = value(p, i, bound), want[i] += v[i];
        packed_store(b, v, n, bytes);
        if (p == 0)
            memcpy(a, b, n * (size_t)bytes);
        else
            packed_add(a, b, n, bytes);
    }
    for (int p = parts - 1; p >= 0; p--) {
        for (size_t i = 0; i < n; i++)
            v[i] = value(p, i, bound);
        packed_store(b, v, n, bytes);
        if (p == parts - 1)
            memcpy(c, b, n * (size_t)bytes);
        else
            packed_add(c, b, n, bytes);
    }
    packed_load(got, a, n, bytes);
    CHECK(memcmp(got, want, n * sizeof *got) == 0, "width %d, %d parts, %zu values: packed sums "
          "differ from the int64 sums", bytes, parts, n);
    CHECK(memcmp(a, c, n * (size_t)bytes) == 0, "width %d, %d parts: the order changed the sums",
          bytes, parts);
done:
    free(v), free(want), free(got), free(a), free(b), free(c);
}

int main(void)
{
    const size_t lengths[] = {1, 2, 3, 7, 8, 9, 17, 1000, 13007};
    for (int bytes = PACKED_MIN_BYTES; bytes <= PACKED_MAX_BYTES; bytes++)
        for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
            check_round_trip(bytes, lengths[k]);
            for (int parts = 2; parts <= 7; parts += 5)
                check_sums(bytes, lengths[k], parts);
        }
    /* the bound: P values at +-bound sum to at most 2^(8w-1) - 1 in size, one more does not */
    CHECK(packed_bound(5, 1) == ((int64_t)1 << 39) - 1, "packed_bound(5, 1) = %lld",
          (long long)packed_bound(5, 1));
    CHECK(packed_bound(6, 3) == (((int64_t)1 << 47) - 1) / 3, "packed_bound(6, 3)");
    CHECK(packed_bound(8, 1) == INT64_MAX, "packed_bound(8, 1)");
    int64_t edge[] = {0, 100, -100, 101, -101, INT64_MIN, INT64_MAX};
    CHECK(packed_beyond(edge, 7, 100) == 4, "packed_beyond counts %zu values past 100, not 4",
          packed_beyond(edge, 7, 100));
    /* a sum past the width wraps (what the bound check exists to prevent) */
    int64_t big[2] = {packed_bound(2, 1), 1}, got;
    uint8_t x[2], y[2];
    packed_store(x, &big[0], 1, 2), packed_store(y, &big[1], 1, 2);
    packed_add(x, y, 1, 2);
    packed_load(&got, x, 1, 2);
    CHECK(got == -32768, "32767 + 1 in 2 bytes gives %lld, not the wrapped -32768", (long long)got);
    return check_report("test_packed");
}
