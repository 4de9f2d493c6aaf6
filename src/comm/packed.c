/* packed.c: exact sums in `bytes` bytes each (see packed.h). The loops read and write whole
 * 8-byte words at byte offsets i * bytes (memcpy: no alignment assumed) while a whole word
 * stays inside the array, and go byte by byte for the last few values. */
#include "comm/packed.h"

#include <string.h>

int64_t packed_bound(int bytes, int participants)
{
    int64_t top = bytes >= 8 ? INT64_MAX : ((int64_t)1 << (8 * bytes - 1)) - 1;
    return top / (participants > 0 ? participants : 1);
}

size_t packed_beyond(const int64_t *v, size_t n, int64_t bound)
{
    size_t beyond = 0;
    for (size_t i = 0; i < n; i++) /* -bound..bound; INT64_MIN is beyond any bound */
        beyond += v[i] > bound || v[i] < -bound;
    return beyond;
}

size_t packed_scan(const int64_t *v, size_t n, int64_t bound, int64_t *peak)
{
    size_t beyond = 0;
    uint64_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = v[i] < 0 ? 0 - (uint64_t)v[i] : (uint64_t)v[i];
        top = a > top ? a : top;
        beyond += v[i] > bound || v[i] < -bound;
    }
    *peak = top > (uint64_t)PACKED_PEAK_CAP ? PACKED_PEAK_CAP : (int64_t)top;
    return beyond;
}

/* whole_words: how many of n packed values start a whole 8-byte word inside n * bytes. */
static size_t whole_words(size_t n, int bytes)
{
    size_t tail = (size_t)(8 + bytes - 1) / (size_t)bytes; /* values within 8 bytes of the end */
    return n > tail ? n - tail : 0;
}

/* sign_extend: the low 8 bytes * 8 bits of w as a signed integer. */
static int64_t sign_extend(uint64_t w, int bytes)
{
    int shift = 64 - 8 * bytes;
    return shift ? (int64_t)(w << shift) >> shift : (int64_t)w;
}

static uint64_t load_word(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* load_bytes / store_bytes: one value of `bytes` bytes, little-endian, byte by byte. */
static uint64_t load_bytes(const uint8_t *p, int bytes)
{
    uint64_t w = 0;
    for (int b = 0; b < bytes; b++)
        w |= (uint64_t)p[b] << (8 * b);
    return w;
}

static void store_bytes(uint8_t *p, uint64_t w, int bytes)
{
    for (int b = 0; b < bytes; b++)
        p[b] = (uint8_t)(w >> (8 * b));
}

void packed_store(uint8_t *restrict dst, const int64_t *restrict src, size_t n, int bytes)
{
    size_t whole = whole_words(n, bytes), i = 0;
    for (; i < whole; i++) /* the word's upper bytes are overwritten by the next value */
        memcpy(dst + i * (size_t)bytes, &src[i], 8);
    for (; i < n; i++)
        store_bytes(dst + i * (size_t)bytes, (uint64_t)src[i], bytes);
}

void packed_load(int64_t *restrict dst, const uint8_t *restrict src, size_t n, int bytes)
{
    size_t whole = whole_words(n, bytes), i = 0;
    for (; i < whole; i++)
        dst[i] = sign_extend(load_word(src + i * (size_t)bytes), bytes);
    for (; i < n; i++)
        dst[i] = sign_extend(load_bytes(src + i * (size_t)bytes, bytes), bytes);
}

void packed_add(uint8_t *restrict inout, const uint8_t *restrict in, size_t n, int bytes)
{
    const uint64_t mask = bytes >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * bytes)) - 1;
    size_t whole = whole_words(n, bytes), i = 0;
    for (; i < whole; i++) { /* the word's upper bytes (the next value's) are kept */
        uint8_t *p = inout + i * (size_t)bytes;
        uint64_t w = load_word(p), s = w + load_word(in + i * (size_t)bytes);
        w = (s & mask) | (w & ~mask);
        memcpy(p, &w, 8);
    }
    for (; i < n; i++) {
        uint8_t *p = inout + i * (size_t)bytes;
        store_bytes(p, load_bytes(p, bytes) + load_bytes(in + i * (size_t)bytes, bytes), bytes);
    }
}
