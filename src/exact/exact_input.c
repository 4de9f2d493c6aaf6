/* exact_input.c: sum_i D[i][j] b[i][k] with D = round(d 2^32) and bytes b, in integers.
 * Fast path: D is split into 16-bit halves, D = 2^16 H + L, and pairs of examples are
 * multiplied as int16 pairs (VPDPWSSD on AVX-512 VNNI, VPMADDWD on AVX2) into int32 window
 * sums, widened to int64 before they can overflow. Every path gives the same integers. */
#include "exact/exact_input.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define VEC 16 /* int32 lanes per vector */
typedef __m512i Vec;
#define vzero() _mm512_setzero_si512()
#define vload(p) _mm512_loadu_si512((const void *)(p))
#define vset1(v) _mm512_set1_epi32(v)
#define vdot(acc, x, w) _mm512_dpwssd_epi32((acc), (x), (w))
#elif defined(__AVX2__)
#include <immintrin.h>
#define VEC 8
typedef __m256i Vec;
#define vzero() _mm256_setzero_si256()
#define vload(p) _mm256_loadu_si256((const __m256i *)(p))
#define vset1(v) _mm256_set1_epi32(v)
#define vdot(acc, x, w) _mm256_add_epi32((acc), _mm256_madd_epi16((x), (w)))
#endif

#define INLINE static inline __attribute__((always_inline))
/* Fewer examples than this take the vector path even where AMX is usable: a call on the
 * tiles costs about one block of 64 examples (measured crossover: 24 to 32). */
#define AMX_MIN_EXAMPLES 32
#define PAD 48 /* packed rows are padded to whole tiles of 3 vectors (AVX-512 or AVX2) */
/* Largest |D| the 16-bit halves can hold: H = (D - L) / 2^16 with L in [-2^15, 2^15). */
#define FAST_MAX 2147418112LL /* 2^31 - 2^16 */
/* Pairs per int32 window: one product pair adds at most 2 * 2^15 * 255 < 2^24. */
#define WINDOW 120

static int pad_cols(int n_in)
{
    return (n_in + PAD - 1) / PAD * PAD;
}

static int pad_rows(int n_out)
{
    return (n_out + 3) / 4 * 4;
}

int exact_input_init(ExactInput *s, int cap, int n_in, int n_out, Err *e)
{
    memset(s, 0, sizeof *s);
    size_t pairs = ((size_t)cap + 1) / 2;
    s->pairs = alloc_array(pairs * (size_t)pad_cols(n_in) * 2, sizeof(int16_t),
                           "workspace input pairs", e);
    s->pieces = alloc_array(pairs * (size_t)pad_rows(n_out) * 2, sizeof(int32_t),
                            "workspace deltas", e);
    s->slow = alloc_array((size_t)cap + 1, sizeof(int), "workspace slow list", e);
    s->D = alloc_array((size_t)cap * (size_t)n_out, sizeof(int64_t), "workspace deltas", e);
    if (!s->pairs || !s->pieces || !s->slow || !s->D ||
        exact_amx_init(&s->amx, cap, n_in, n_out, e) != 0) {
        exact_input_free(s);
        return -1;
    }
    return 0;
}

void exact_input_free(ExactInput *s)
{
    free(s->pairs);
    free(s->pieces);
    free(s->slow);
    free(s->D);
    exact_amx_free(&s->amx);
    memset(s, 0, sizeof *s);
}

/* Where a tile's sums go when they are spent on weights instead of stored: theta (laid out
 * as the sums), with exact_descend's step and scale. */
typedef struct {
    Real *theta;
    double step, inv;
} Spend;

/* fixed_delta: round(d 2^32); 0 and counted bad when a term D b could push the sum of
 * f's terms past 2^62 (or d is not finite). */
static int64_t fixed_delta(Real d, const Fixed *f, size_t *bad)
{
    double y = (double)d * f->scale;
    if (!(fabs(y) * EXACT_INPUT_DIV <= f->limit)) {
        ++*bad;
        return 0;
    }
    return (int64_t)nearbyint(y); /* round half to even, as exact_round */
}

size_t exact_input_round(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                         const Fixed *f)
{
    size_t bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++)
            D[(size_t)j * ld + i] = fixed_delta(d[(size_t)i * n_out + j], f, &bad);
    return bad;
}

/* outer_one: acc[j][k] += D[j ld] b[k] for columns k < cols (acc rows `stride` apart): one
 * example, its deltas ld apart. */
static void outer_one(int64_t *restrict acc, const int64_t *D, int ld, const uint8_t *b,
                      int n_out, int cols, int stride)
{
    for (int j = 0; j < n_out; j++)
        for (int k = 0; k < cols; k++)
            acc[(size_t)j * stride + k] += D[(size_t)j * ld] * b[k];
}

/* any_beyond: 1 if some |D[j ld + i]| of the n examples exceeds max (one branchless pass). */
static int any_beyond(const int64_t *D, int ld, int n, int n_out, int64_t max)
{
    int any = 0;
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n; i++)
            any |= (D[(size_t)j * ld + i] > max) | (D[(size_t)j * ld + i] < -max);
    return any;
}

size_t exact_input_outer_ref(int64_t *restrict acc, const Real *d, const uint8_t *const *rows,
                             int n, int n_out, int n_in, const Fixed *f)
{
    size_t bad = 0;
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n; i++) {
            int64_t D = fixed_delta(d[(size_t)i * n_out + j], f, &bad);
            const uint8_t *b = rows[i];
            int64_t *row = acc + (size_t)j * n_in;
            for (int k = 0; k < n_in; k++)
                row[k] += D * b[k];
        }
    return bad;
}

#ifdef VEC
/* too_large: 1 if some |D[j ld]| of the example exceeds max. */
static int too_large(const int64_t *D, int ld, int n_out, int64_t max)
{
    for (int j = 0; j < n_out; j++)
        if (D[(size_t)j * ld] > max || D[(size_t)j * ld] < -max)
            return 1;
    return 0;
}

/* half16: the 16-bit halves of D (|D| <= FAST_MAX): L = D mod 2^16 in [-2^15, 2^15),
 * H = (D - L) / 2^16. */
static void half16(int64_t D, uint16_t *hi, uint16_t *lo)
{
    int32_t l = (int32_t)(int16_t)(uint16_t)(D & 0xffff);
    *lo = (uint16_t)l;
    *hi = (uint16_t)(int16_t)((D - l) / 65536);
}

/* pack: examples 2p and 2p + 1 as int16 pairs (b[2p][c0 + k], b[2p+1][c0 + k]) for k <
 * cols, padded with 0, and the 16-bit halves of their fixed-point deltas D. A pair with a
 * delta too large for the halves gets zero halves and its examples are listed in slow[] for
 * the reference path; returns how many. */
static int pack(ExactInput *s, const int64_t *D, int ld, const uint8_t *const *rows, int n,
                int n_out, int c0, int cols, int *slow)
{
    int np = pad_cols(cols), nr = pad_rows(n_out), n_slow = 0;
    for (int p = 0; 2 * p < n; p++) {
        const uint8_t *b0 = rows[2 * p] + c0, *b1 = 2 * p + 1 < n ? rows[2 * p + 1] + c0 : NULL;
        const int64_t *D0 = D + 2 * p, *D1 = D0 + 1; /* deltas of neuron j: ld apart */
        int16_t *out = s->pairs + (size_t)p * np * 2;
        for (int k = 0; k < cols; k++) {
            out[2 * k] = b0[k];
            out[2 * k + 1] = b1 ? b1[k] : 0;
        }
        memset(out + 2 * cols, 0, sizeof(int16_t) * 2 * (size_t)(np - cols));
        int32_t *w = s->pieces + (size_t)p * nr * 2;
        memset(w, 0, sizeof(int32_t) * 2 * (size_t)nr);
        if (too_large(D0, ld, n_out, FAST_MAX) || (b1 && too_large(D1, ld, n_out, FAST_MAX))) {
            slow[n_slow++] = 2 * p; /* both examples of the pair take the reference path */
            if (b1)
                slow[n_slow++] = 2 * p + 1;
            continue;
        }
        for (int j = 0; j < n_out; j++) {
            uint16_t h0, l0, h1 = 0, l1 = 0;
            half16(D0[(size_t)j * ld], &h0, &l0);
            if (b1)
                half16(D1[(size_t)j * ld], &h1, &l1);
            w[2 * j] = (int32_t)((uint32_t)h0 | (uint32_t)h1 << 16);
            w[2 * j + 1] = (int32_t)((uint32_t)l0 | (uint32_t)l1 << 16);
        }
    }
    return n_slow;
}

#if VEC == 16 && defined(EXACT_DESCEND8)
#define CAN_SPEND 1
/* widen_add: acc[0 .. 8) (first m < 8 only) += 2^16 h + l for 8 int32 lanes each, or
 * (sp) those whole sums spent on theta[0 .. 8). */
INLINE void widen_add(int64_t *acc, Real *theta, const Spend *sp, __m256i h, __m256i l, int m)
{
    __m512i v = _mm512_add_epi64(_mm512_slli_epi64(_mm512_cvtepi32_epi64(h), 16),
                                 _mm512_cvtepi32_epi64(l));
    __mmask8 k = m >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (m > 0 ? m : 0)) - 1);
    if (sp)
        exact_descend8(theta, v, k, sp->step, sp->inv);
    else
        _mm512_mask_storeu_epi64(acc, k, _mm512_add_epi64(_mm512_maskz_loadu_epi64(k, acc), v));
}

/* flush: acc[c .. c + 16) (only columns < cols) += 2^16 H + L, or spent on theta. */
INLINE void flush(int64_t *restrict acc, Real *theta, const Spend *sp, Vec H, Vec L, int c,
                  int cols)
{
    widen_add(acc + c, theta + c, sp, _mm512_castsi512_si256(H), _mm512_castsi512_si256(L),
              cols - c);
    widen_add(acc + c + 8, theta + c + 8, sp, _mm512_extracti64x4_epi64(H, 1),
              _mm512_extracti64x4_epi64(L, 1), cols - c - 8);
}
#else
/* flush: acc[c .. c + VEC) (only columns < cols) += 2^16 H + L (never spent: sp is NULL). */
INLINE void flush(int64_t *restrict acc, Real *theta, const Spend *sp, Vec H, Vec L, int c,
                  int cols)
{
    (void)theta, (void)sp;
    int32_t h[VEC], l[VEC];
    _mm256_storeu_si256((__m256i *)h, H);
    _mm256_storeu_si256((__m256i *)l, L);
    int m = cols - c < VEC ? cols - c : VEC;
    for (int t = 0; t < m; t++)
        acc[c + t] += (int64_t)h[t] * 65536 + l[t];
}
#endif

/* The 4 x 3 register tile: rows r of 4, column vectors 0..2, high (h) and low (l) halves. */
#define TILE_ZERO(r) Vec h##r##0 = vzero(), h##r##1 = vzero(), h##r##2 = vzero(), \
    l##r##0 = vzero(), l##r##1 = vzero(), l##r##2 = vzero()
#define TILE_STEP(r)                                                                        \
    do {                                                                                    \
        Vec wh = vset1(w[2 * (r)]), wl = vset1(w[2 * (r) + 1]);                             \
        h##r##0 = vdot(h##r##0, x0, wh), h##r##1 = vdot(h##r##1, x1, wh);                   \
        h##r##2 = vdot(h##r##2, x2, wh), l##r##0 = vdot(l##r##0, x0, wl);                   \
        l##r##1 = vdot(l##r##1, x1, wl), l##r##2 = vdot(l##r##2, x2, wl);                   \
    } while (0)
#define TILE_FLUSH(r)                                                                       \
    do {                                                                                    \
        if (j + (r) < n_out) {                                                              \
            int64_t *row = acc + (size_t)(j + (r)) * stride;                                \
            Real *th = sp ? sp->theta + (size_t)(j + (r)) * stride : NULL;                  \
            flush(row, th, sp, h##r##0, l##r##0, c, cols);                                  \
            flush(row, th, sp, h##r##1, l##r##1, c + VEC, cols);                            \
            flush(row, th, sp, h##r##2, l##r##2, c + 2 * VEC, cols);                        \
        }                                                                                   \
        h##r##0 = h##r##1 = h##r##2 = l##r##0 = l##r##1 = l##r##2 = vzero();               \
    } while (0)

/* tile: rows [j, j + 4) and columns [c, c + 3 VEC) of acc (rows `stride` apart) over all
 * pairs, in registers, flushed every WINDOW pairs (rows and columns beyond the padding are
 * zeros, not stored); sp: at most WINDOW pairs, their whole sums spent on sp->theta. */
static void tile(int64_t *restrict acc, const Spend *sp, const ExactInput *s, int pairs,
                 int n_out, int cols, int stride, int j, int c)
{
    const int np = pad_cols(cols), nr = pad_rows(n_out);
    TILE_ZERO(0);
    TILE_ZERO(1);
    TILE_ZERO(2);
    TILE_ZERO(3);
    for (int p0 = 0; p0 < pairs; p0 += WINDOW) {
        int p1 = p0 + WINDOW < pairs ? p0 + WINDOW : pairs;
        for (int p = p0; p < p1; p++) {
            const int16_t *x = s->pairs + ((size_t)p * np + c) * 2;
            const int32_t *w = s->pieces + ((size_t)p * nr + j) * 2;
            Vec x0 = vload(x), x1 = vload(x + 2 * VEC), x2 = vload(x + 4 * VEC);
            TILE_STEP(0);
            TILE_STEP(1);
            TILE_STEP(2);
            TILE_STEP(3);
        }
        TILE_FLUSH(0);
        TILE_FLUSH(1);
        TILE_FLUSH(2);
        TILE_FLUSH(3);
    }
}

/* pairs_outer: every tile; the x columns of a tile stay in L1 across its rows. */
static void pairs_outer(int64_t *restrict acc, const Spend *sp, const ExactInput *s, int pairs,
                        int n_out, int cols, int stride)
{
    for (int c = 0; c < cols; c += 3 * VEC)
        for (int j = 0; j < n_out; j += 4)
            tile(acc, sp, s, pairs, n_out, cols, stride, j, c);
}

/* slow_examples: the reference path for the n_slow listed examples. */
static void slow_examples(int64_t *restrict acc, const int64_t *D, int ld,
                          const uint8_t *const *rows, int n_out, int c0, int cols, int stride,
                          const int *slow, int n_slow)
{
    for (int q = 0; q < n_slow; q++)
        outer_one(acc, D + slow[q], ld, rows[slow[q]] + c0, n_out, cols, stride);
}
#endif

/* amx_cols: exact_input_cols on AMX tiles (dst's split relative to c0, a multiple of 16);
 * with a delta beyond EXACT_AMX_MAX the tiles take eight digits (wide: every D whose
 * products with bytes fit in 64 bits is within EXACT_AMX_WIDE_MAX). */
_Static_assert(INT64_MAX / 255 <= EXACT_AMX_WIDE_MAX, "eight digits hold every usable delta");
static int amx_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                    int n, int n_out, int c0, int cols, int packed, ExactInput *s)
{
    for (int j = 0; j < n_out; j++) /* the deltas may come from another core: asked first */
        for (int i = 0; i < n; i += 64 / (int)sizeof *D)
            __builtin_prefetch(D + (size_t)j * ld + i);
    if (!packed)
        exact_amx_pack(&s->amx, rows, n, c0, cols); /* meanwhile */
    int wide = any_beyond(D, ld, n, n_out, EXACT_AMX_MAX);
    ColSums to = *dst;
    if (n > EXACT_AMX_WHOLE)
        to.theta[0] = to.theta[1] = NULL;
    exact_amx_outer(&to, D, ld, n, n_out, cols, wide, &s->amx);
    return to.theta[0] != NULL || to.theta[1] != NULL;
}

/* region_cols: exact_input_cols into one region: acc (rows `stride` apart) for columns
 * [c0, c1), without AMX; sp (only when no delta needs the reference path and the pairs fit
 * one window): the sums spent on weights instead. */
static void region_cols(int64_t *restrict acc, const Spend *sp, int stride, const int64_t *D,
                        int ld, const uint8_t *const *rows, int n, int n_out, int c0, int c1,
                        ExactInput *s)
{
    int cols = c1 - c0;
    if (cols <= 0)
        return;
#ifdef VEC
    int n_slow = pack(s, D, ld, rows, n, n_out, c0, cols, s->slow);
    pairs_outer(acc, sp, s, (n + 1) / 2, n_out, cols, stride);
    slow_examples(acc, D, ld, rows, n_out, c0, cols, stride, s->slow, n_slow);
#else
    (void)sp;
    for (int i = 0; i < n; i++)
        outer_one(acc, D + i, ld, rows[i] + c0, n_out, cols, stride);
#endif
}

int exact_input_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                     int n, int n_out, int c0, int c1, ExactInput *s)
{
    int cols = c1 - c0, split = dst->split - c0; /* relative to c0 */
    int packed = s->packed == rows && s->packed_n == n && s->packed_c0 == c0 &&
                 s->packed_c1 == c1;
    s->packed = NULL; /* laid out for this call only */
    if (n <= 0 || cols <= 0)
        return 0;
    if (s->amx.ready && n >= AMX_MIN_EXAMPLES && (split >= cols || split % 16 == 0)) {
        ColSums rel = *dst;
        rel.split = split < 0 ? 0 : split;
        return amx_cols(&rel, D, ld, rows, n, n_out, c0, cols, packed, s);
    }
    int mid = split < 0 ? c0 : split < cols ? c0 + split : c1, spend = 0;
#ifdef CAN_SPEND /* the sums are whole after one window, and no example is slow */
    spend = (dst->theta[0] || dst->theta[1]) && n <= 2 * WINDOW &&
            !any_beyond(D, ld, n, n_out, FAST_MAX);
#endif
    Spend sp[2] = {{dst->theta[0], dst->step, dst->inv}, {dst->theta[1], dst->step, dst->inv}};
    region_cols(dst->acc[0], spend ? &sp[0] : NULL, dst->stride[0], D, ld, rows, n, n_out, c0,
                mid, s);
    region_cols(dst->acc[1], spend ? &sp[1] : NULL, dst->stride[1], D, ld, rows, n, n_out, mid,
                c1, s);
    return spend;
}

void exact_input_pack(ExactInput *s, const uint8_t *const *rows, int n, int c0, int c1)
{
    s->packed = NULL;
    if (!s->amx.ready || n < AMX_MIN_EXAMPLES || n > s->amx.blocks * 64 || c1 <= c0)
        return;
    exact_amx_pack(&s->amx, rows, n, c0, c1 - c0);
    s->packed = rows, s->packed_n = n, s->packed_c0 = c0, s->packed_c1 = c1;
}

int exact_input_vector_spends(void)
{
#ifdef CAN_SPEND
    return 1;
#else
    return 0;
#endif
}

size_t exact_input_outer(int64_t *restrict acc, const Real *d, const uint8_t *const *rows,
                         int n, int n_out, int n_in, const Fixed *f, ExactInput *s)
{
    size_t bad = exact_input_round(s->D, n, d, n, n_out, f);
    ColSums dst = {.acc = {acc, NULL}, .stride = {n_in, 0}, .split = n_in};
    exact_input_cols(&dst, s->D, n, rows, n, n_out, 0, n_in, s);
    return bad;
}
