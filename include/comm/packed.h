/* packed.h: exact sums in fewer bytes. An int64 sum whose magnitude is known to stay below
 * 2^(8 w - 1) travels as its low w bytes (little-endian two's complement) and is added in
 * that form; packed_bound gives each of P participants its share of the width, so that the
 * sum of any of them (every partial sum of any reduction order) fits. No MPI here. */
#ifndef DOWNHILL_PACKED_H
#define DOWNHILL_PACKED_H

#include <stddef.h>
#include <stdint.h>

/* Narrowest and widest packed width in bytes (8: the plain int64). */
enum { PACKED_MIN_BYTES = 2, PACKED_MAX_BYTES = 8 };

/* Most int64 values a packed reduction carries in full beside the packed ones (the step's
 * extras: cost, count, flags). */
enum { PACKED_MAX_SIDE = 8 };

/* Values per block: a packed reduction may give each block of PACKED_BLOCK values its own
 * width (the last block may be shorter). */
enum { PACKED_BLOCK = 4096 };

/* packed_blocks: how many blocks n values make. */
static inline size_t packed_blocks(size_t n)
{
    return (n + PACKED_BLOCK - 1) / PACKED_BLOCK;
}

/* packed_bound: the largest |value| each of `participants` (>= 1) may contribute so that
 * any sum of their values fits in `bytes` bytes: floor((2^(8 bytes - 1) - 1) / participants). */
int64_t packed_bound(int bytes, int participants);

/* packed_beyond: how many of v[0 .. n) have |v| > bound. */
size_t packed_beyond(const int64_t *v, size_t n, int64_t bound);

/* The largest peak packed_scan reports (larger values are reported as this): far beyond
 * any packed width, and small enough that sums of peaks never overflow. */
#define PACKED_PEAK_CAP ((int64_t)1 << 56)

/* packed_scan: packed_beyond of v[0 .. n), and in *peak the largest |v| (at most
 * PACKED_PEAK_CAP), in one pass. */
size_t packed_scan(const int64_t *v, size_t n, int64_t bound, int64_t *peak);

/* packed_store: dst (n * bytes) <- the low `bytes` bytes of each src value, little-endian. */
void packed_store(uint8_t *restrict dst, const int64_t *restrict src, size_t n, int bytes);

/* packed_load: dst[i] <- the packed value i of src (n * bytes), sign-extended. */
void packed_load(int64_t *restrict dst, const uint8_t *restrict src, size_t n, int bytes);

/* packed_add: inout[i] += in[i] for n packed values of `bytes` bytes (both n * bytes),
 * modulo 2^(8 bytes): exact when the true sum fits (packed_bound); the order of additions
 * never matters (integer addition is associative and commutative). */
void packed_add(uint8_t *restrict inout, const uint8_t *restrict in, size_t n, int bytes);

#endif
