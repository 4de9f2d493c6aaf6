/* hash.h: FNV-1a 64, the one hash of bytes downhill uses (weights hash, data fingerprint). */
#ifndef DOWNHILL_HASH_H
#define DOWNHILL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_BASIS 0xcbf29ce484222325ULL /* the hash of no bytes */

/* hash_fnv1a: continues the FNV-1a 64 hash h over n bytes at p (start with HASH_FNV_BASIS). */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

#endif
