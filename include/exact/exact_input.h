/* exact_input.h: the first layer's weight gradient, exactly, in integers. The inputs are
 * bytes b (x = b / 255); each example's delta is rounded once, D = round(d * 2^32), and
 * sum_i D[i][j] b[i][k] is formed in integer arithmetic (the kernels input_*.c: AMX tiles,
 * AVX-512 VNNI or AVX2 where the machine has them, else plain loops), so its bits depend
 * neither on the order nor on the instruction set.
 * These sums are in units of 2^-32 / EXACT_INPUT_DIV. */
#ifndef DOWNHILL_EXACT_INPUT_H
#define DOWNHILL_EXACT_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"
#include "exact/exact.h"
#include "kernels/input_amx.h"

#define EXACT_INPUT_DIV 255 /* an input byte b stands for b / 255 */

/* Scratch of exact_input_outer for up to cap examples of n_in bytes and n_out deltas. */
typedef struct {
    int16_t *pairs;  /* (cap / 2 rounded up, input_pairs_cols(n_in), 2) bytes of example pairs */
    int32_t *pieces; /* (cap / 2 rounded up, input_pairs_rows(n_out), 2) high and low 16-bit
                      * halves of D (kernels.h: the int16-pair layout) */
    int *slow;       /* (cap) examples whose D needs the plain path */
    InputAmx amx;    /* AMX tiles' scratch (amx.ready 0: not used) */
    int64_t *D;      /* (n_out, cap) fixed-point deltas of exact_input_outer */
    const uint8_t *const *packed; /* exact_input_pack's rows (NULL: none laid out ahead) */
    int packed_n, packed_c0, packed_c1;
} ExactInput;

/* exact_input_init / exact_input_free: scratch for batches of up to cap examples. */
int exact_input_init(ExactInput *s, int cap, int n_in, int n_out, Err *e);
void exact_input_free(ExactInput *s);

/* exact_input_round: D[j ld + i] = round(d[i][j] 2^32) for n examples (d (n, n_out); D
 * neuron-major, rows ld >= n apart); returns how many deltas were non-finite or so large
 * that the sum of f's terms could overflow (their D is 0). */
size_t exact_input_round(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                         const Fixed *f);

/* exact_input_round_plain: exact_input_round in plain C: its definition, the portable
 * build's code and the reference of the vector kernels (test_kernels). */
size_t exact_input_round_plain(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                               const Fixed *f);

/* exact_input_cols: the sums of input column k += sum_i D[j ld + i] rows[i][k] for the
 * columns k in [c0, c1) only, into dst (its split, acc[0] and acc[1] counted from column c0
 * and from dst->split); n examples, at most the scratch's cap, each product D b within 64
 * bits (as exact_input_round's). Returns 1 when dst->theta took the sums instead (the AMX
 * path: at most EXACT_AMX_WHOLE examples; see also exact_input_vector_spends), else 0: the
 * sums were added to acc. */
int exact_input_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                     int n, int n_out, int c0, int c1, ExactInput *s);

/* exact_input_pack: lays out the inputs of the next exact_input_cols with the same rows, n,
 * c0 and c1 ahead of it (it reads no delta, so it can run before they are ready); that
 * call then skips the work. Does nothing where that call would not use AMX tiles. */
void exact_input_pack(ExactInput *s, const uint8_t *const *rows, int n, int c0, int c1);

/* exact_input_vector_spends: 1 if this build's vector path (no AMX) can spend the sums on
 * weights too (AVX-512 builds: at most 240 examples, none beyond its int16 halves). */
int exact_input_vector_spends(void);

/* exact_input_outer: exact_input_round of d, then exact_input_cols over all columns;
 * returns exact_input_round's count. */
size_t exact_input_outer(int64_t *restrict acc, const Real *d, const uint8_t *const *rows,
                         int n, int n_out, int n_in, const Fixed *f, ExactInput *s);

/* exact_input_outer_ref: the same sums by plain int64 loops (the reference for tests). */
size_t exact_input_outer_ref(int64_t *restrict acc, const Real *d, const uint8_t *const *rows,
                             int n, int n_out, int n_in, const Fixed *f);

#endif
