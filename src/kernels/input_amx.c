/* input_amx.c: C[j][k] += sum_i A[j][i] B[i][k] on AMX tiles, TDPBSUD (signed bytes of D
 * times unsigned input bytes, 4 products per int32 lane). Tiles: C0..C3 (one per byte of
 * D, tmm0-3), A (tmm4, tmm6), B (tmm5); a step covers 16 rows x 16 columns x 64 examples.
 * The wide layers' sums (input_amx_wide) take B twice: the low bytes of their int16
 * activations (TDPBSUD) and the signed high bytes (TDPBSSD). Compiled only where the
 * compiler targets AMX (KERNELS_INPUT_AMX). */
#define _DEFAULT_SOURCE /* syscall */
#include "kernels/kernels.h"

#if KERNELS_INPUT_AMX
#include <cpuid.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
/* Blocks summed in the int32 tiles before widen: a digit sum is at most 4 * 64 examples *
 * 128 * 255 = 8,355,840, and widen's t0 + 2^8 t1 at most 257 times that, 2,147,450,880,
 * below 2^31. */
#define FLUSH_BLOCKS (EXACT_AMX_WHOLE / 64)
#define EX 64    /* examples per block (the K of a tile product) */
#define TILE 16  /* rows and columns of a result tile */
#define PLANES 8 /* digit planes of a block: L's four bytes, then H's (wide) */
#define PLANE (TILE * EX)
#define H_TILES (2 * 4 * TILE * TILE) /* H's four tiles: after both pieces' four of L */

static int pad16(int n)
{
    return (n + TILE - 1) / TILE * TILE;
}

/* amx_usable: the CPU has AMX-TILE and AMX-INT8, the OS grants the tile state, and
 * DOWNHILL_AMX is not "0". Asked once per process. */
static int amx_usable(void)
{
    static int state; /* 0 unknown, 1 yes, -1 no */
    if (state == 0) {
        unsigned a, b, c, d;
        const char *env = getenv("DOWNHILL_AMX");
        int cpu = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 25 & 1);
        int off = env && strcmp(env, "0") == 0;
        state = cpu && !off && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0
                    ? 1
                    : -1;
    }
    return state == 1;
}

int input_amx_init(InputAmx *s, int cap, int n_in, int n_out, Err *e)
{
    memset(s, 0, sizeof *s);
    if (!amx_usable())
        return 0;
    s->blocks = (cap + EX - 1) / EX;
    size_t blocks = (size_t)s->blocks, row_blocks = (size_t)pad16(n_out) / TILE;
    s->quads = alloc_array(blocks * EX * (size_t)pad16(n_in), 1, "workspace input quads", e);
    s->digits = alloc_array(row_blocks * blocks * PLANES * PLANE, 1, "workspace delta bytes", e);
    s->zeros = alloc_array((size_t)n_in, 1, "workspace zero row", e);
    /* two pieces of up to four passes of four tiles (input_amx_wide; the first layer uses half) */
    s->tiles = alloc_array(2 * 4 * 4 * TILE * TILE, sizeof(int32_t), "workspace tiles", e);
    if (!s->quads || !s->digits || !s->zeros || !s->tiles) {
        input_amx_free(s);
        return -1;
    }
    s->ready = 1;
    return 0;
}

void input_amx_free(InputAmx *s)
{
    free(s->quads);
    free(s->digits);
    free(s->zeros);
    free(s->tiles);
    memset(s, 0, sizeof *s);
}

/* pack_quads: the bytes of columns [c0, c0 + cols) of examples 4q .. 4q + 3 interleaved per
 * column (B tile rows), for the blocks of 64 examples in use; missing examples and padding
 * columns 0. */
static void pack_quads(InputAmx *s, const uint8_t *const *rows, int n, int c0, int cols)
{
    int np = pad16(cols), quads = (n + EX - 1) / EX * (EX / 4); /* whole blocks */
    for (int q = 0; q < quads; q++) {
        const uint8_t *r[4];
        for (int u = 0; u < 4; u++)
            r[u] = 4 * q + u < n ? rows[4 * q + u] + c0 : s->zeros;
        uint8_t *out = s->quads + (size_t)q * np * 4;
        int k = 0;
        for (; k + 16 <= cols; k += 16) { /* a 4 x 16 byte transpose */
            __m128i a = _mm_loadu_si128((const __m128i *)(r[0] + k));
            __m128i b = _mm_loadu_si128((const __m128i *)(r[1] + k));
            __m128i c = _mm_loadu_si128((const __m128i *)(r[2] + k));
            __m128i d = _mm_loadu_si128((const __m128i *)(r[3] + k));
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
            __m128i *o = (__m128i *)(out + (size_t)k * 4);
            _mm_storeu_si128(o, _mm_unpacklo_epi16(ab0, cd0));
            _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ab0, cd0));
            _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ab1, cd1));
            _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ab1, cd1));
        }
        for (; k < np; k++)
            for (int u = 0; u < 4; u++)
                out[(size_t)k * 4 + u] = k < cols ? r[u][k] : 0;
    }
}

/* pack_plane4: pack_digits' four digits of L (high 0) or of H (high 1) into their planes:
 * sixteen examples at a time where VBMI can pick their four digits in one permutation
 * (neighbours in D's row j; each digit's bytes stored along the row), else eight. */
static inline __attribute__((always_inline)) int pack_plane4(InputAmx *s, const int64_t *D,
                                                             int ld, int n, int n_out, int high)
{
    const __m512i bias = _mm512_set1_epi64(0x80808080LL);
    const __m512i max = _mm512_set1_epi64(EXACT_AMX_MAX);
    __mmask8 beyond = 0; /* L's packing: some |D| > EXACT_AMX_MAX (H's digits needed) */
#if KERNELS_VBMI
    uint8_t order[64]; /* output byte 16 p + q: digit p of example q of two vectors of 8 */
    for (int o = 0; o < 64; o++)
        order[o] = (uint8_t)(8 * (o % 16) + o / 16);
    const __m512i pick = _mm512_loadu_si512(order);
#endif
    for (int j = 0; j < n_out; j++) {
        int i = 0;
        /* row j of the first plane in the first block (block b: PLANES PLANE b further) */
        int8_t *row = s->digits + ((size_t)(j / TILE) * s->blocks * PLANES * TILE +
                                   (size_t)(j % TILE)) * EX + (high ? 4 * PLANE : 0);
#if KERNELS_VBMI
        for (; i + 16 <= n; i += 16) {
            const int64_t *d = D + (size_t)j * ld + i;
            __m512i da = _mm512_loadu_si512(d), db = _mm512_loadu_si512(d + 8);
            if (!high)
                beyond |= _mm512_cmpgt_epi64_mask(_mm512_abs_epi64(da), max) |
                          _mm512_cmpgt_epi64_mask(_mm512_abs_epi64(db), max);
            __m512i a = _mm512_add_epi64(da, bias);
            __m512i b = _mm512_add_epi64(db, bias);
            if (high) { /* H, biased in turn */
                a = _mm512_add_epi64(_mm512_srai_epi64(a, 32), bias);
                b = _mm512_add_epi64(_mm512_srai_epi64(b, 32), bias);
            }
            __m512i v = _mm512_permutex2var_epi8(_mm512_xor_si512(a, bias), pick,
                                                 _mm512_xor_si512(b, bias));
            int8_t *at = row + (size_t)(i / EX) * PLANES * PLANE + i % EX;
            _mm_storeu_si128((__m128i *)at, _mm512_castsi512_si128(v));
            _mm_storeu_si128((__m128i *)(at + PLANE), _mm512_extracti32x4_epi32(v, 1));
            _mm_storeu_si128((__m128i *)(at + 2 * PLANE), _mm512_extracti32x4_epi32(v, 2));
            _mm_storeu_si128((__m128i *)(at + 3 * PLANE), _mm512_extracti32x4_epi32(v, 3));
        }
#endif
        for (; i < n; i += 8) { /* along a tile row: example after example */
            int8_t *at = row + (size_t)(i / EX) * PLANES * PLANE + i % EX;
            __mmask8 k = (__mmask8)(n - i >= 8 ? 0xff : (1u << (n - i)) - 1);
            __m512i dv = _mm512_maskz_loadu_epi64(k, D + (size_t)j * ld + i);
            if (!high)
                beyond |= _mm512_cmpgt_epi64_mask(_mm512_abs_epi64(dv), max);
            __m512i v = _mm512_add_epi64(dv, bias);
            if (high)
                v = _mm512_add_epi64(_mm512_srai_epi64(v, 32), bias);
            __m512i w = _mm512_xor_si512(v, bias);
            for (int p = 0; p < 4; p++)
                _mm512_mask_cvtepi64_storeu_epi8(at + (size_t)p * PLANE, k,
                                                 _mm512_srli_epi64(w, 8 * p));
        }
    }
    return beyond != 0;
}

/* pack_digits: D = d0 + 2^8 d1 + 2^16 d2 + 2^24 d3 with signed bytes d (A tiles: row j,
 * example i within its block); missing examples and rows 0. With |D| <= EXACT_AMX_MAX,
 * D + 0x80808080 lies in [0, 2^32) and its bytes are d + 128: d = byte ^ 0x80. Beyond it
 * (wide, returns 1): the same for L, the low 32 bits of D + 0x80808080 less the bias, into
 * planes 0-3, and for H = (D + 0x80808080) >> 32 (D = L + 2^32 H) into planes 4-7. The
 * check rides on the packing of L: no pass of its own over D. */
static int pack_digits(InputAmx *s, const int64_t *D, int ld, int n, int n_out)
{
    int row_blocks = pad16(n_out) / TILE, used = (n + EX - 1) / EX;
    if (n % EX != 0 || n_out % TILE != 0) /* padding: some bytes are not written below */
        for (int rb = 0; rb < row_blocks; rb++)
            for (int b = 0; b < used; b++)
                memset(s->digits + ((size_t)rb * s->blocks + b) * PLANES * PLANE, 0,
                       (size_t)PLANES * PLANE);
    int wide = pack_plane4(s, D, ld, n, n_out, 0);
    if (wide)
        pack_plane4(s, D, ld, n, n_out, 1);
    return wide;
}

/* widen4: row r of four byte tiles at t weighted 2^0, 2^8, 2^16, 2^24, as 64-bit sums of
 * columns 0-7 (v[0]) and 8-15 (v[1]): (t0 + 2^8 t1) and (t2 + 2^8 t3) in int32 (|t| < 2^15
 * per example, at most FLUSH_BLOCKS * 64 examples), then 64-bit. */
static inline void widen4(const int32_t *t, int r, __m512i v[2])
{
    const int32_t *tr = t + r * TILE;
    __m512i lo = _mm512_add_epi32(_mm512_loadu_si512(tr),
                                  _mm512_slli_epi32(_mm512_loadu_si512(tr + 256), 8));
    __m512i hi = _mm512_add_epi32(_mm512_loadu_si512(tr + 512),
                                  _mm512_slli_epi32(_mm512_loadu_si512(tr + 768), 8));
    for (int h = 0; h < 2; h++) {
        __m256i l = h ? _mm512_extracti64x4_epi64(lo, 1) : _mm512_castsi512_si256(lo);
        __m256i u = h ? _mm512_extracti64x4_epi64(hi, 1) : _mm512_castsi512_si256(hi);
        v[h] = _mm512_add_epi64(_mm512_cvtepi32_epi64(l),
                                _mm512_slli_epi64(_mm512_cvtepi32_epi64(u), 16));
    }
}

/* widen: the sums of rows [j0, j0 + 16) x columns [c0, c0 + 16) (inside n_out x cols; where
 * dst puts them, or spent on dst->theta) += the byte tiles at t (widen4), with wide plus
 * 2^32 times H's four (at t + H_TILES). */
static inline __attribute__((always_inline)) void widen(const ColSums *dst, const int32_t *t,
                                                        int wide, int j0, int c0, int n_out,
                                                        int cols)
{
    int r2 = c0 >= dst->split; /* the column block lies in one region */
    int64_t *acc = dst->acc[r2] - (r2 ? dst->split : 0);
    Real *theta = dst->theta[r2] ? dst->theta[r2] - (r2 ? dst->split : 0) : NULL;
    int stride = dst->stride[r2];
    int m = cols - c0 < TILE ? cols - c0 : TILE;
    __mmask8 k0 = (__mmask8)(m >= 8 ? 0xff : (1u << m) - 1);
    __mmask8 k1 = (__mmask8)(m >= 16 ? 0xff : m > 8 ? (1u << (m - 8)) - 1 : 0);
    for (int r = 0; r < TILE && j0 + r < n_out; r++) {
        size_t at = (size_t)(j0 + r) * stride + c0;
        __m512i vs[2], hs[2];
        widen4(t, r, vs);
        if (wide)
            widen4(t + H_TILES, r, hs);
        for (int h = 0; h < 2; h++) {
            __mmask8 k = h ? k1 : k0;
            __m512i v = vs[h];
            if (wide) /* wrapping adds: exact whenever the sum fits in 64 bits */
                v = _mm512_add_epi64(v, _mm512_slli_epi64(hs[h], 32));
            if (theta)
                exact_descend8(theta + at + 8 * h, v, k, dst->step, dst->inv);
            else
                _mm512_mask_storeu_epi64(
                    acc + at + 8 * h, k,
                    _mm512_add_epi64(_mm512_maskz_loadu_epi64(k, acc + at + 8 * h), v));
        }
    }
}

/* Tile shapes: 16 rows of 64 bytes for all (C: 16 int32; A: 64 examples; B: 16 quads). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

static void tiles_configure(void)
{
    TileConfig c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 7; t++) {
        c.rows[t] = TILE;
        c.colsb[t] = 64;
    }
    _tile_loadconfig(&c);
}

/* block_product: C0..C3 of rows block rb, columns block cb, over example blocks [b0, b1),
 * from digit planes plane0 .. plane0 + 3. */
static void block_product(const InputAmx *s, int rb, int cb, int b0, int b1, int np, int plane0)
{
    for (int b = b0; b < b1; b++) {
        const int8_t *a = s->digits + (((size_t)rb * s->blocks + b) * PLANES + plane0) * PLANE;
        _tile_loadd(5, s->quads + ((size_t)b * (EX / 4) * np + (size_t)cb * TILE) * 4, np * 4);
        _tile_loadd(4, a, EX);
        _tile_dpbsud(0, 4, 5);
        _tile_loadd(6, a + TILE * EX, EX);
        _tile_dpbsud(1, 6, 5);
        _tile_loadd(4, a + 2 * TILE * EX, EX);
        _tile_dpbsud(2, 4, 5);
        _tile_loadd(6, a + 3 * TILE * EX, EX);
        _tile_dpbsud(3, 6, 5);
    }
}

/* One tile product of amx_outer: rows block rb, columns block cb, example blocks
 * [b0, b1). */
typedef struct {
    int rb, cb, b0, b1;
} Piece;

/* piece_start: C0..C3 of the piece formed from planes plane0 .. plane0 + 3 (the tile unit
 * runs on while the core goes on). */
static void piece_start(const InputAmx *s, Piece p, int np, int plane0)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    block_product(s, p.rb, p.cb, p.b0, p.b1, np, plane0);
}

/* piece_store: C0..C3 to t (4 tiles of 16 x 16 int32). */
static void piece_store(int32_t *t)
{
    _tile_stored(0, t, TILE * 4);
    _tile_stored(1, t + TILE * TILE, TILE * 4);
    _tile_stored(2, t + 2 * TILE * TILE, TILE * 4);
    _tile_stored(3, t + 3 * TILE * TILE, TILE * 4);
}

void input_amx_pack(InputAmx *s, const uint8_t *const *rows, int n, int c0, int cols)
{
    pack_quads(s, rows, n, c0, cols);
}

/* outer_pieces: amx_outer's tile products and widening, piece after piece: the
 * previous piece is widened while the tiles form the next (a software pipeline); wide a
 * constant at each call, so each loop is compiled for it. */
static inline __attribute__((always_inline)) void outer_pieces(const ColSums *dst, int n,
                                                               int n_out, int cols, int wide,
                                                               InputAmx *s)
{
    int np = pad16(cols), used = (n + EX - 1) / EX;
    const size_t tsize = 4 * TILE * TILE;
    Piece prev = {-1, 0, 0, 0};
    int buf = 0;
    for (int rb = 0; rb < pad16(n_out) / TILE; rb++)
        for (int cb = 0; cb < np / TILE; cb++)
            for (int b0 = 0; b0 < used; b0 += FLUSH_BLOCKS) {
                Piece p = {rb, cb, b0, b0 + FLUSH_BLOCKS < used ? b0 + FLUSH_BLOCKS : used};
                piece_start(s, p, np, 0);
                if (prev.rb >= 0)
                    widen(dst, s->tiles + (buf ^ 1) * tsize, wide, prev.rb * TILE,
                          prev.cb * TILE, n_out, cols);
                piece_store(s->tiles + buf * tsize);
                if (wide) { /* H's products */
                    piece_start(s, p, np, 4);
                    piece_store(s->tiles + buf * tsize + H_TILES);
                }
                buf ^= 1;
                prev = p;
            }
    if (prev.rb >= 0)
        widen(dst, s->tiles + (buf ^ 1) * tsize, wide, prev.rb * TILE, prev.cb * TILE, n_out,
              cols);
}

/* amx_outer: the sums of column k += sum_i D[j ld + i] rows[i][c0 + k] for k < cols, into
 * dst, for the n examples and columns input_amx_pack laid out, every |D| <=
 * EXACT_AMX_WIDE_MAX (beyond EXACT_AMX_MAX: twice the tile products). */
static void amx_outer(const ColSums *dst, const int64_t *D, int ld, int n, int n_out, int cols,
                      InputAmx *s)
{
    int wide = pack_digits(s, D, ld, n, n_out);
    tiles_configure();
    if (wide)
        outer_pieces(dst, n, n_out, cols, 1, s);
    else
        outer_pieces(dst, n, n_out, cols, 0, s);
    _tile_release();
}

/* ---- the wide layers' sums: int16 activations as two byte planes ---------------------- */

/* pack_quads16: pack_quads of int16 rows A (lda apart) split into bytes, A = lo + 2^8 hi:
 * the low bytes (unsigned) at s->quads, the high bytes (signed) hi_off bytes further. */
static void pack_quads16(InputAmx *s, const int16_t *A, int lda, int n, int cols, size_t hi_off)
{
    int np = pad16(cols), quads = (n + EX - 1) / EX * (EX / 4);
    const __m512i low = _mm512_set1_epi32(0xff);
    const int16_t zero16[TILE] = {0};
    for (int q = 0; q < quads; q++) {
        const int16_t *r[4];
        for (int u = 0; u < 4; u++)
            r[u] = 4 * q + u < n ? A + (size_t)(4 * q + u) * lda : NULL;
        uint8_t *lo = s->quads + (size_t)q * np * 4, *hi = lo + hi_off;
        for (int k = 0; k < np; k += TILE) { /* 16 columns: one int32 lane per column */
            int m = cols - k < TILE ? (cols - k > 0 ? cols - k : 0) : TILE;
            __mmask16 km = (__mmask16)((1u << m) - 1);
            __m512i l = _mm512_setzero_si512(), h = _mm512_setzero_si512();
            for (int u = 0; u < 4; u++) {
                const int16_t *src = r[u] ? r[u] + k : zero16;
                __m512i x = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(km, src));
                l = _mm512_or_si512(l, _mm512_slli_epi32(_mm512_and_si512(x, low), 8 * u));
                h = _mm512_or_si512(h, _mm512_slli_epi32(_mm512_srli_epi32(x, 8), 8 * u));
            }
            _mm512_storeu_si512(lo + (size_t)k * 4, l);
            _mm512_storeu_si512(hi + (size_t)k * 4, h);
        }
    }
}

/* wide_product: C0..C3 of rows block rb, columns block cb, over example blocks [b0, b1):
 * digit planes plane0 .. plane0 + 3 times the quads at q, their bytes unsigned (TDPBSUD) or
 * signed (sb, TDPBSSD). */
static inline __attribute__((always_inline)) void wide_product(const InputAmx *s,
                                                               const uint8_t *q, Piece p,
                                                               int np, int plane0, int sb)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int b = p.b0; b < p.b1; b++) {
        const int8_t *a = s->digits + (((size_t)p.rb * s->blocks + b) * PLANES + plane0) * PLANE;
        _tile_loadd(5, q + ((size_t)b * (EX / 4) * np + (size_t)p.cb * TILE) * 4, np * 4);
        _tile_loadd(4, a, EX);
        _tile_loadd(6, a + TILE * EX, EX);
        if (sb) {
            _tile_dpbssd(0, 4, 5);
            _tile_dpbssd(1, 6, 5);
        } else {
            _tile_dpbsud(0, 4, 5);
            _tile_dpbsud(1, 6, 5);
        }
        _tile_loadd(4, a + 2 * TILE * EX, EX);
        _tile_loadd(6, a + 3 * TILE * EX, EX);
        if (sb) {
            _tile_dpbssd(2, 4, 5);
            _tile_dpbssd(3, 6, 5);
        } else {
            _tile_dpbsud(2, 4, 5);
            _tile_dpbsud(3, 6, 5);
        }
    }
}

/* widen_wide: the sums of rows [j0, j0 + 16) x columns [c0, c0 + 16) (inside n_out x cols;
 * into dst->acc[0], rows dst->stride[0] apart, or spent on dst->theta[0]) += the passes'
 * tiles at t (four tiles each, 4 TILE TILE apart), pass q weighted 2^0, 2^8 (high bytes),
 * 2^32, 2^40 (H's digits): wrapping int64 adds, exact whenever the sum fits in 64 bits. A
 * digit sum of the high bytes is at most 4 * 64 * 128 * 128 per block, so widen4's int32
 * sums hold FLUSH_BLOCKS blocks as for the first layer's bytes. */
static inline __attribute__((always_inline)) void widen_wide(const ColSums *dst,
                                                             const int32_t *t, int passes,
                                                             int j0, int c0, int n_out, int cols)
{
    static const int shift[4] = {0, 8, 32, 40};
    int m = cols - c0 < TILE ? cols - c0 : TILE;
    __mmask8 k0 = (__mmask8)(m >= 8 ? 0xff : (1u << m) - 1);
    __mmask8 k1 = (__mmask8)(m >= 16 ? 0xff : m > 8 ? (1u << (m - 8)) - 1 : 0);
    for (int r = 0; r < TILE && j0 + r < n_out; r++) {
        __m512i v[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()}, w[2];
        for (int q = 0; q < passes; q++) {
            widen4(t + (size_t)q * 4 * TILE * TILE, r, w);
            v[0] = _mm512_add_epi64(v[0], _mm512_slli_epi64(w[0], shift[q]));
            v[1] = _mm512_add_epi64(v[1], _mm512_slli_epi64(w[1], shift[q]));
        }
        size_t at = (size_t)(j0 + r) * dst->stride[0] + c0;
        if (dst->theta[0]) {
            exact_descend8(dst->theta[0] + at, v[0], k0, dst->step, dst->inv);
            exact_descend8(dst->theta[0] + at + 8, v[1], k1, dst->step, dst->inv);
            continue;
        }
        int64_t *acc = dst->acc[0] + at;
        _mm512_mask_storeu_epi64(acc, k0, _mm512_add_epi64(_mm512_maskz_loadu_epi64(k0, acc), v[0]));
        _mm512_mask_storeu_epi64(acc + 8, k1,
                                 _mm512_add_epi64(_mm512_maskz_loadu_epi64(k1, acc + 8), v[1]));
    }
}

/* wide_pieces: input_amx_wide's tile products and widening, piece after piece (the previous
 * piece widened while the tiles form the next); passes 2 (L's digits times both byte planes)
 * or 4 (and H's), a constant at each call. */
static inline __attribute__((always_inline)) void wide_pieces(const ColSums *dst, int n,
                                                              int n_out, int cols, int passes,
                                                              size_t hi_off, InputAmx *s)
{
    int np = pad16(cols), used = (n + EX - 1) / EX;
    const size_t tsize = 4 * TILE * TILE, set = 4 * tsize; /* a pass, a piece's passes */
    Piece prev = {-1, 0, 0, 0};
    int buf = 0;
    for (int rb = 0; rb < pad16(n_out) / TILE; rb++)
        for (int cb = 0; cb < np / TILE; cb++)
            for (int b0 = 0; b0 < used; b0 += FLUSH_BLOCKS) {
                Piece p = {rb, cb, b0, b0 + FLUSH_BLOCKS < used ? b0 + FLUSH_BLOCKS : used};
                for (int q = 0; q < passes; q++) {
                    wide_product(s, s->quads + (q % 2 ? hi_off : 0), p, np, q / 2 * 4, q % 2);
                    if (q == 0 && prev.rb >= 0)
                        widen_wide(dst, s->tiles + (buf ^ 1) * set, passes, prev.rb * TILE,
                                   prev.cb * TILE, n_out, cols);
                    piece_store(s->tiles + buf * set + q * tsize);
                }
                buf ^= 1;
                prev = p;
            }
    if (prev.rb >= 0)
        widen_wide(dst, s->tiles + (buf ^ 1) * set, passes, prev.rb * TILE, prev.cb * TILE, n_out,
                   cols);
}

int input_amx_wide(const ColSums *dst, const int64_t *D, int ld, const int16_t *A, int lda,
                   int n, int n_out, int cols, InputAmx *s)
{
    size_t hi_off = (size_t)((n + EX - 1) / EX) * EX * (size_t)pad16(cols);
    pack_quads16(s, A, lda, n, cols, hi_off);
    int wide = pack_digits(s, D, ld, n, n_out);
    ColSums to = *dst;
    if (n > EXACT_AMX_WHOLE) /* the sums are whole only after one flush */
        to.theta[0] = NULL;
    tiles_configure();
    if (wide)
        wide_pieces(&to, n, n_out, cols, 4, hi_off, s);
    else
        wide_pieces(&to, n, n_out, cols, 2, hi_off, s);
    _tile_release();
    return to.theta[0] != NULL;
}

/* Eight digit planes hold every delta whose products with bytes fit in 64 bits. */
_Static_assert(INT64_MAX / 255 <= EXACT_AMX_WIDE_MAX, "eight digits hold every usable delta");

int input_amx_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                   int n, int n_out, int c0, int cols, int packed, InputAmx *s)
{
    for (int j = 0; j < n_out; j++) /* the deltas may come from another core: asked first */
        for (int i = 0; i < n; i += 64 / (int)sizeof *D)
            __builtin_prefetch(D + (size_t)j * ld + i);
    if (!packed)
        input_amx_pack(s, rows, n, c0, cols); /* meanwhile */
    ColSums to = *dst;
    if (n > EXACT_AMX_WHOLE)
        to.theta[0] = to.theta[1] = NULL;
    amx_outer(&to, D, ld, n, n_out, cols, s);
    return to.theta[0] != NULL || to.theta[1] != NULL;
}
#endif
