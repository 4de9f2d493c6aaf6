/* kernels.h: the numeric inner loops of the network (net_*), of the float outer products
 * rounded to fixed point (exact_*) and of the first layer's and the wide layers' integer
 * outer products (input_*), and the rounding of those layers' deltas and activations to
 * integers (round_*), one file per instruction set under src/kernels/. model.c, exact.c,
 * exact_input.c and exact_wide.c call the kernels_* functions, which run this build's
 * kernel of each family (isa.h picks them; kernels.c calls them). The plain-C kernels are
 * every build's: the references the vector kernels are tested against (test_kernels), bit
 * for bit unless noted, and the fallback where a build has no vector kernel. */
#ifndef DOWNHILL_KERNELS_H
#define DOWNHILL_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/common.h"
#include "exact/exact.h"
#include "exact/exact_input.h"
#include "kernels/input_amx.h"
#include "kernels/isa.h"
#include "net/kind.h"

/* The fixed-point rounding of exact.c: y + 1.5 * 2^52, for |y| < 2^51, holds
 * round-to-nearest-even(y) in its low mantissa bits. */
#define KERNELS_MAGIC 6755399441055744.0      /* 1.5 * 2^52 */
#define KERNELS_MAGIC_BITS 0x4338000000000000LL /* its bit pattern */

/* kernels_round_scaled: round(y) for |y| < 2^51 (beyond: garbage, never trapped). */
static inline int64_t kernels_round_scaled(double y)
{
    double t = y + KERNELS_MAGIC;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits - KERNELS_MAGIC_BITS;
}

/* Partial sums of a dot product: sixteen, the reference's, on every path (one AVX-512
 * vector, two AVX2 vectors, sixteen plain sums), so every path gives its bits. */
#define KERNELS_DOT_LANES 16

/* kernels_madd: a b + c in one rounding, as the reference's fmaf: the FMA instruction where
 * the target has it, else libm's fmaf / fma (correct, slower). Every multiply-add of the
 * plain kernels is written so: the library is compiled without contraction
 * (-ffp-contract=off), so nothing fuses unless the source says so. */
static inline Real kernels_madd(Real a, Real b, Real c)
{
#ifdef DOWNHILL_DOUBLE
    return fma(a, b, c);
#else
    return fmaf(a, b, c);
#endif
}

/* The int16-pair layout of the VNNI and AVX2 input kernels (input_pairs.c): examples 2p and
 * 2p + 1 side by side, each fixed-point delta D split into 16-bit halves. */
#define KERNELS_PAIRS_PAD 48 /* packed rows are padded to whole tiles of 3 vectors */
/* Largest |D| the 16-bit halves can hold: H = (D - L) / 2^16 with L in [-2^15, 2^15). */
#define KERNELS_PAIRS_MAX 2147418112LL /* 2^31 - 2^16 */
/* Pairs per int32 window: one product pair adds at most 2 * 2^15 * 255 < 2^24. */
#define KERNELS_PAIRS_WINDOW 120

/* Where a kernel spends whole sums instead of storing them: theta (laid out as the sums),
 * with exact_descend's step and scale. */
typedef struct {
    Real *theta;
    double step, inv;
} KernelSpend;

/* ---- This build's kernels: what model.c, exact.c and exact_input.c call ---- */

/* kernels_describe: the instruction set of each family in this build, e.g. "net avx512,
 * exact avx512, input vnni" (static storage). */
const char *kernels_describe(void);

/* kernels_scale_bytes: x[k] = (Real)px[k] / 255 exactly, for k < n. */
void kernels_scale_bytes(Real *restrict x, const uint8_t *restrict px, int n);

/* kernels_dot_rows: out[i][j] = net_plain_dot(W row j, in row i, len) for n examples and
 * n_out rows of W (W rows ws apart, in rows xs apart, out (n, n_out)): the same bits on every
 * path. */
void kernels_dot_rows(const Real *W, int ws, const Real *in, int xs, int len, Real *out, int n,
                      int n_out);

/* kernels_sigmoid: v[k] <- 1 / (1 + e^-v[k]) for k < n; NaN stays NaN. In float, every
 * kernel is the reference's Cephes expf operation by operation (within 2 ulp of libm's; the
 * same value for a given input on every path, lane and batch). */
void kernels_sigmoid(Real *v, size_t n);

/* kernels_hidden_deltas: d_in[i] = (W^T d_out[i]) * g(a[i]) for n examples, g the
 * derivative of activation act from its output a: sigmoid a (1 - a), tanh fma(-a, a, 1),
 * relu (a > 0 ? 1 : 0); W (n_out, n_in) row-major, d_out (n, n_out), a and d_in (n, n_in);
 * each sum over j in order, one fused multiply-add per term (kernels_madd). */
void kernels_hidden_deltas(const Real *W, const Real *d_out, const Real *a, Real *d_in, int n,
                           int n_in, int n_out, Activation act);

/* kernels_outer_add: gW (n_out, cols; rows gs apart) += d^T x over n examples (d (n, n_out),
 * x rows xs apart), each entry summed in order of the examples. */
void kernels_outer_add(Real *restrict gW, int gs, const Real *d, const Real *x, int xs, int cols,
                       int n, int n_out);

/* kernels_exact_outer: exact_outer (exact.h) on this build's kernel. */
size_t kernels_exact_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                           int groups, int n_out, int n_in, const Fixed *f, double *bound);

/* kernels_input_round: exact_input_round (exact_input.h) on this build's kernel; the
 * integers and the count of exact_input_round_plain. */
size_t kernels_input_round(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                           const Fixed *f);

/* kernels_wide_round: exact_wide_round (exact_wide.h) on this build's kernel; the integers
 * and the count of exact_wide_round_plain. */
size_t kernels_wide_round(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                          const Real *a, const Real *d, int n, int n_in, int n_out,
                          const Fixed *f);

/* kernels_amx_init / kernels_amx_free: the AMX scratch where the build and the machine have
 * the tiles, else an empty one (ready 0); -1 out of memory. */
int kernels_amx_init(InputAmx *s, int cap, int n_in, int n_out, Err *e);
void kernels_amx_free(InputAmx *s);

/* kernels_input_pack: exact_input_pack's work: lays out the inputs for the AMX tiles and
 * returns 1 where exact_input_cols with these n, c0, c1 will use them, else does nothing and
 * returns 0. */
int kernels_input_pack(ExactInput *s, const uint8_t *const *rows, int n, int c0, int c1);

/* kernels_input_cols: exact_input_cols (exact_input.h) for n > 0 and c1 > c0 on the AMX tiles
 * (at run time: usable, n large enough, dst's split on a tile edge) or this build's vector
 * or plain kernel; packed 1: kernels_input_pack laid out these rows and columns. Returns 1
 * when the sums were spent on dst->theta, else 0. */
int kernels_input_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                       int n, int n_out, int c0, int c1, int packed, ExactInput *s);

/* kernels_wide_init: the scratch of the wide layers' kernels (two byte planes of n_in int16
 * activations, n_out deltas, cap examples: int16 pairs, and the AMX tiles' where usable);
 * -1 out of memory. Freed by exact_input_free. */
int kernels_wide_init(ExactInput *s, int cap, int n_in, int n_out, Err *e);

/* kernels_wide_cols: the sums of row j < n_out, column k < n_in (dst->acc[0], rows
 * dst->stride[0] apart) += sum_i D[j ld + i] A[i lda + k] over n examples (exact_wide.h:
 * |A| <= 2^15, |D| 2^15 within 64 bits) on the AMX tiles where amx is ready (which spend the
 * whole sums on dst->theta[0] where set and n <= EXACT_AMX_WHOLE: returns 1), else on
 * AVX-512 VNNI (input_vnni_wide), AVX2 (input_avx2_wide) or by wide_plain_outer (returns
 * 0); the same integers on every path. */
int kernels_wide_cols(const ColSums *dst, const int64_t *D, int ld, const int16_t *A, int lda,
                      int n, int n_out, int n_in, ExactInput *s);

/* kernels_input_vector_spends: 1 if this build's vector input kernel (no AMX) can spend
 * sums on weights (the VNNI kernel: at most 2 KERNELS_PAIRS_WINDOW examples, every |D| <=
 * KERNELS_PAIRS_MAX). */
int kernels_input_vector_spends(void);

/* ---- The plain-C kernels (net_plain.c, exact_plain.c, input_plain.c) ---- */

/* net_plain_dot: sum_k a[k] b[k] as the reference's dot: KERNELS_DOT_LANES partial sums
 * (k mod 16, one fused multiply-add per term), folded to eight (s[u] + s[u + 8]), combined
 * as ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)); the rest added in order by fused
 * multiply-adds. */
Real net_plain_dot(const Real *restrict a, const Real *restrict b, int n);

/* net_plain_scale_bytes, net_plain_dot_rows, net_plain_sigmoid (float: the reference's
 * Cephes expf, the vector kernels' bits; float64: through libm's exp),
 * net_plain_hidden_deltas, net_plain_outer_add: as the kernels_* of the same name. */
void net_plain_scale_bytes(Real *restrict x, const uint8_t *restrict px, int n);
void net_plain_dot_rows(const Real *W, int ws, const Real *in, int xs, int len, Real *out,
                        int n, int n_out);
void net_plain_sigmoid(Real *v, size_t n);
void net_plain_hidden_deltas(const Real *W, const Real *d_out, const Real *a, Real *d_in, int n,
                             int n_in, int n_out, Activation act);

/* net_plain_exp: e^x as the sigmoid computes it (float: the reference's Cephes expf, x
 * clamped to [-88, 88], NaN kept; float64: libm's exp). */
Real net_plain_exp(Real x);
void net_plain_outer_add(Real *restrict gW, int gs, const Real *d, const Real *x, int xs,
                         int cols, int n, int n_out);

/* exact_plain_outer_rows: acc[j][k] (rows n_in apart) += round(scale * s) for the columns
 * [c0, c1) of row j, s the float sum of d[i][j] x[i][k] over the rows [i0, i1) (d (., n_out),
 * x (., n_in)); returns how many sums were non-finite or beyond the limit (they still add
 * kernels_round_scaled's value: the caller must take the sums as lost). */
size_t exact_plain_outer_rows(int64_t *restrict acc, const Real *d, const Real *x, int i0, int i1,
                              int j, int n_out, int n_in, int c0, int c1, const Fixed *f);

/* exact_plain_outer: exact_outer by exact_plain_outer_rows for every group and row. */
size_t exact_plain_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                         int groups, int n_out, int n_in, const Fixed *f);

/* input_plain_example: acc[j][k] (rows stride apart) += D[j ld] b[k] for k < cols, j < n_out:
 * one example, its deltas ld apart. */
void input_plain_example(int64_t *restrict acc, const int64_t *D, int ld, const uint8_t *b,
                         int n_out, int cols, int stride);

/* input_plain_region: input_plain_example for the n examples (deltas D + i, bytes rows[i] +
 * c0) over columns [c0, c1), into acc (rows stride apart, from column c0). */
void input_plain_region(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                        const uint8_t *const *rows, int n, int n_out, int c0, int c1);

/* wide_plain_outer: acc[j stride + k] += sum_i D[j ld + i] A[i lda + k] for j < n_out,
 * k < n_in, in plain int64 loops (the reference of kernels_wide_cols). */
void wide_plain_outer(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                      const int16_t *A, int lda, int n, int n_out, int n_in);

/* input_plain_beyond: 1 if some |D[j ld + i]| of the n examples exceeds max. */
int input_plain_beyond(const int64_t *D, int ld, int n, int n_out, int64_t max);

/* input_pairs_cols / input_pairs_rows: n_in and n_out padded as the pair layout stores them. */
int input_pairs_cols(int n_in);
int input_pairs_rows(int n_out);

/* input_pairs_pack: examples 2p and 2p + 1 of n (bytes rows[i] + c0, cols of them) as int16
 * pairs into s->pairs, the 16-bit halves of their deltas into s->pieces; a pair with a delta
 * beyond KERNELS_PAIRS_MAX gets zero halves and its examples go to s->slow. Returns how many
 * examples s->slow lists. */
int input_pairs_pack(ExactInput *s, const int64_t *D, int ld, const uint8_t *const *rows, int n,
                     int n_out, int c0, int cols);

/* input_pairs_pack16: input_pairs_pack for a wide layer's int16 activations A (rows lda
 * apart, columns [0, cols)): their low bytes (A & 255, high 0) or their signed high bytes
 * (A >> 8, high 1) as the pairs; returns how many examples s->slow lists. */
int input_pairs_pack16(ExactInput *s, const int64_t *D, int ld, const int16_t *A, int lda, int n,
                       int n_out, int cols, int high);

/* input_pairs_slow: input_plain_example for the n_slow examples listed in s->slow. */
void input_pairs_slow(int64_t *restrict acc, const int64_t *D, int ld, const uint8_t *const *rows,
                      int n_out, int c0, int cols, int stride, const ExactInput *s, int n_slow);

/* input_pairs_slow16: wide_plain_outer for the n_slow examples listed in s->slow (rows of A
 * lda apart), the wide layers' input_pairs_slow. */
void input_pairs_slow16(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                        const int16_t *A, int lda, int n_out, int cols, const ExactInput *s,
                        int n_slow);

/* ---- Each instruction set's kernels (compiled only where isa.h enables them) ---- */

#if KERNELS_NET_AVX512
void net_avx512_dot_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                         int n, int n_out);
void net_avx512_sigmoid(float *v, size_t n);
void net_avx512_hidden_deltas(const float *W, const float *d_out, const float *a, float *d_in,
                              int n, int n_in, int n_out, Activation act);
void net_avx512_outer_add(float *restrict gW, int gs, const float *d, const float *x, int xs,
                          int cols, int n, int n_out);
#endif
#if KERNELS_NET_AVX2
void net_avx2_dot_rows(const float *W, int ws, const float *in, int xs, int len, float *out,
                       int n, int n_out);
void net_avx2_sigmoid(float *v, size_t n);
void net_avx2_outer_add(float *restrict gW, int gs, const float *d, const float *x, int xs,
                        int cols, int n, int n_out);
#endif
#if KERNELS_EXACT_AVX2
/* exact_avx2_row_max: max |x[k]| for k < n, or infinity when a value is NaN. */
float exact_avx2_row_max(const float *x, int n);
size_t exact_avx2_outer(int64_t *restrict acc, const float *d, const float *x, const int *start,
                        int groups, int n_out, int n_in, const Fixed *f, double *bound);
#endif
#if KERNELS_EXACT_AVX512
size_t exact_avx512_outer(int64_t *restrict acc, const float *d, const float *x,
                          const int *start, int groups, int n_out, int n_in, const Fixed *f,
                          double *bound);
#endif
#if KERNELS_ROUND_AVX512
/* round_avx512_input / round_avx512_wide: kernels_input_round / kernels_wide_round on
 * AVX-512 (float). */
size_t round_avx512_input(int64_t *restrict D, int ld, const float *d, int n, int n_out,
                          const Fixed *f);
size_t round_avx512_wide(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                         const float *a, const float *d, int n, int n_in, int n_out,
                         const Fixed *f);
#endif
#if KERNELS_ROUND_AVX2
/* round_avx2_input / round_avx2_wide: kernels_input_round / kernels_wide_round on AVX2
 * (float). */
size_t round_avx2_input(int64_t *restrict D, int ld, const float *d, int n, int n_out,
                        const Fixed *f);
size_t round_avx2_wide(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                       const float *a, const float *d, int n, int n_in, int n_out,
                       const Fixed *f);
#endif
#if KERNELS_INPUT_VNNI
/* input_vnni_spends: 1 if input_vnni_region can spend the sums of these n examples. */
int input_vnni_spends(const int64_t *D, int ld, int n, int n_out);
/* input_vnni_region: input_plain_region on int16 pairs; sp (only where input_vnni_spends):
 * the whole sums spent on sp->theta instead. */
void input_vnni_region(int64_t *restrict acc, const KernelSpend *sp, int stride,
                       const int64_t *D, int ld, const uint8_t *const *rows, int n, int n_out,
                       int c0, int c1, ExactInput *s);
#endif
#if KERNELS_INPUT_VNNI
/* input_vnni_wide: kernels_wide_cols's sums on int16 pairs: the low and the high byte planes
 * of A (the high ones weighted 2^8), the examples whose deltas the halves cannot hold by
 * wide_plain_outer; into acc (rows stride apart). */
void input_vnni_wide(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                     const int16_t *A, int lda, int n, int n_out, int cols, ExactInput *s);
#endif
#if KERNELS_INPUT_AVX2
/* input_avx2_region: input_plain_region on int16 pairs. */
void input_avx2_region(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                       const uint8_t *const *rows, int n, int n_out, int c0, int c1,
                       ExactInput *s);
/* input_avx2_wide: input_vnni_wide on AVX2. */
void input_avx2_wide(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                     const int16_t *A, int lda, int n, int n_out, int cols, ExactInput *s);
#endif

#endif
