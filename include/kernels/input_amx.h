/* input_amx.h: integer outer products on Intel AMX tiles (AMX-INT8): sum_i D[i][j] b[i][k]
 * for bytes b and |D| <= EXACT_AMX_MAX, split into four signed bytes, or (wide) |D| <=
 * EXACT_AMX_WIDE_MAX, split into eight: D = L + 2^32 H with four bytes each; the same
 * integers as any other order or instruction set; and the wide layers' sums of D times
 * int16 activations (input_amx_wide). Used by exact_input and exact_wide where the compiler
 * targets AMX (KERNELS_INPUT_AMX) and the CPU and the OS allow it (DOWNHILL_AMX=0 in the
 * environment turns it off); the functions below exist only in such builds (kernels.c
 * calls them). The types and limits are every build's. */
#ifndef DOWNHILL_KERNELS_INPUT_AMX_H
#define DOWNHILL_KERNELS_INPUT_AMX_H

#include <stdint.h>
#include "core/common.h"

#define EXACT_AMX_MAX 2139062143LL /* 127 * (1 + 2^8 + 2^16 + 2^24): four signed bytes */
#define EXACT_AMX_WIDE_MAX (EXACT_AMX_MAX * 4294967296LL) /* eight: H within EXACT_AMX_MAX */
#define EXACT_AMX_WHOLE 256 /* examples whose sums the tiles hold whole (FLUSH_BLOCKS * 64) */

/* Scratch for up to cap examples of n_in bytes and n_out deltas. */
typedef struct {
    int ready;         /* 1: AMX tiles usable by this process (CPU, OS, not turned off) */
    int blocks;        /* blocks of 64 examples the scratch holds */
    uint8_t *quads;    /* (blocks * 16, n_in padded to 16, 4) bytes of 4 examples, interleaved */
    int8_t *digits;    /* (row blocks of 16, blocks, 8, 16, 64) the bytes of D (of L, H) */
    uint8_t *zeros;    /* (n_in) a missing example's bytes */
    int32_t *tiles;    /* (2 + 2, 4, 16, 16) tile results: two pieces (a software pipeline),
                        * L's then H's */
} InputAmx;

/* Where the sums of columns [0, cols) of a range go (rows j of n_out): column k < split to
 * acc[0][j stride[0] + k], column k >= split to acc[1][j stride[1] + k - split]. With theta
 * set (and the sums zero, and one call making them whole), the sums are not stored but
 * spent at once: theta <- theta - step * (sum * inv), exact_descend's arithmetic, theta[r]
 * laid out as acc[r]. */
typedef struct {
    int64_t *acc[2];
    int stride[2];
    int split;        /* a multiple of 16 for the AMX tiles (>= cols: one region) */
    Real *theta[2];   /* NULL: add to acc */
    double step, inv; /* for theta */
} ColSums;

/* input_amx_init: scratch (empty, ready = 0, when AMX is not usable); -1 out of memory. */
int input_amx_init(InputAmx *s, int cap, int n_in, int n_out, Err *e);

/* input_amx_free: releases the scratch of input_amx_init. */
void input_amx_free(InputAmx *s);

/* input_amx_pack: the input bytes of columns [c0, c0 + cols) of n examples (n <= cap) laid
 * out for the tiles; before input_amx_cols (it reads no delta, so it can run while the
 * deltas are still on their way from another core). Only when s->ready. */
void input_amx_pack(InputAmx *s, const uint8_t *const *rows, int n, int c0, int cols);

/* input_amx_cols: exact_input_cols on the tiles: the sums of column k += sum_i D[j ld + i]
 * rows[i][c0 + k] for k < cols, into dst (its split relative to c0, a multiple of 16);
 * packed 1: input_amx_pack already laid out these rows and columns. Deltas beyond
 * EXACT_AMX_MAX take eight digit planes. The sums are spent on dst->theta when it is set and
 * n <= EXACT_AMX_WHOLE; returns 1 then, else 0. Only when s->ready. */
int input_amx_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                   int n, int n_out, int c0, int cols, int packed, InputAmx *s);

/* input_amx_wide: exact_wide's sums on the tiles: the sums of row j < n_out, column k < cols
 * (in dst->acc[0], rows dst->stride[0] apart) += sum_i D[j ld + i] A[i lda + k], A int16
 * (|A| <= 2^15) split into a low (unsigned) and a high (signed) byte, A = lo + 2^8 hi; every
 * |D| <= EXACT_AMX_WIDE_MAX. With dst->theta[0] (laid out as acc[0]) and n <=
 * EXACT_AMX_WHOLE the whole sums are spent on the weights instead (returns 1), else 0. s
 * from input_amx_init with 2 pad16(cols) inputs. Only when s->ready. */
int input_amx_wide(const ColSums *dst, const int64_t *D, int ld, const int16_t *A, int lda,
                   int n, int n_out, int cols, InputAmx *s);

#endif
