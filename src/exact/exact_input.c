/* exact_input.c: sum_i D[i][j] b[i][k] with D = round(d 2^32) and bytes b, in integers.
 * The deltas are rounded by the kernels (kernels.h: AVX-512 or AVX2, else the plain C
 * here); the sums are formed by the kernels too: AMX tiles,
 * int16 pairs on AVX-512 VNNI or AVX2, or plain int64 loops. Every path gives the same
 * integers. */
#include "exact/exact_input.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int exact_input_init(ExactInput *s, int cap, int n_in, int n_out, Err *e)
{
    memset(s, 0, sizeof *s);
    size_t pairs = ((size_t)cap + 1) / 2;
    s->pairs = alloc_array(pairs * (size_t)input_pairs_cols(n_in) * 2, sizeof(int16_t),
                           "workspace input pairs", e);
    s->pieces = alloc_array(pairs * (size_t)input_pairs_rows(n_out) * 2, sizeof(int32_t),
                            "workspace deltas", e);
    s->slow = alloc_array((size_t)cap + 1, sizeof(int), "workspace slow list", e);
    s->D = alloc_array((size_t)cap * (size_t)n_out, sizeof(int64_t), "workspace deltas", e);
    if (!s->pairs || !s->pieces || !s->slow || !s->D ||
        kernels_amx_init(&s->amx, cap, n_in, n_out, e) != 0) {
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
    kernels_amx_free(&s->amx);
    memset(s, 0, sizeof *s);
}

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
    return kernels_input_round(D, ld, d, n, n_out, f);
}

size_t exact_input_round_plain(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                               const Fixed *f)
{
    size_t bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++)
            D[(size_t)j * ld + i] = fixed_delta(d[(size_t)i * n_out + j], f, &bad);
    return bad;
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

int exact_input_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                     int n, int n_out, int c0, int c1, ExactInput *s)
{
    int packed = s->packed == rows && s->packed_n == n && s->packed_c0 == c0 &&
                 s->packed_c1 == c1;
    s->packed = NULL; /* laid out for this call only */
    if (n <= 0 || c1 <= c0)
        return 0;
    return kernels_input_cols(dst, D, ld, rows, n, n_out, c0, c1, packed, s);
}

void exact_input_pack(ExactInput *s, const uint8_t *const *rows, int n, int c0, int c1)
{
    s->packed = NULL;
    if (!kernels_input_pack(s, rows, n, c0, c1))
        return;
    s->packed = rows, s->packed_n = n, s->packed_c0 = c0, s->packed_c1 = c1;
}

int exact_input_vector_spends(void)
{
    return kernels_input_vector_spends();
}

size_t exact_input_outer(int64_t *restrict acc, const Real *d, const uint8_t *const *rows,
                         int n, int n_out, int n_in, const Fixed *f, ExactInput *s)
{
    size_t bad = exact_input_round(s->D, n, d, n, n_out, f);
    ColSums dst = {.acc = {acc, NULL}, .stride = {n_in, 0}, .split = n_in};
    exact_input_cols(&dst, s->D, n, rows, n, n_out, 0, n_in, s);
    return bad;
}
