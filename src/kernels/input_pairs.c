/* input_pairs.c: the int16-pair layout the VNNI and AVX2 input kernels read (plain C):
 * the bytes of examples 2p and 2p + 1 side by side, b[2p][k] and b[2p + 1][k] one int32
 * lane, and each fixed-point delta split into 16-bit halves, D = 2^16 H + L, the halves of
 * the pair's two deltas side by side likewise. */
#include "kernels/kernels.h"

int input_pairs_cols(int n_in)
{
    return (n_in + KERNELS_PAIRS_PAD - 1) / KERNELS_PAIRS_PAD * KERNELS_PAIRS_PAD;
}

int input_pairs_rows(int n_out)
{
    return (n_out + 3) / 4 * 4;
}

/* too_large: 1 if some |D[j ld]| of the example exceeds max. */
static int too_large(const int64_t *D, int ld, int n_out, int64_t max)
{
    for (int j = 0; j < n_out; j++)
        if (D[(size_t)j * ld] > max || D[(size_t)j * ld] < -max)
            return 1;
    return 0;
}

/* half16: the 16-bit halves of D (|D| <= KERNELS_PAIRS_MAX): L = D mod 2^16 in
 * [-2^15, 2^15), H = (D - L) / 2^16. */
static void half16(int64_t D, uint16_t *hi, uint16_t *lo)
{
    int32_t l = (int32_t)(int16_t)(uint16_t)(D & 0xffff);
    *lo = (uint16_t)l;
    *hi = (uint16_t)(int16_t)((D - l) / 65536);
}

int input_pairs_pack(ExactInput *s, const int64_t *D, int ld, const uint8_t *const *rows, int n,
                     int n_out, int c0, int cols)
{
    int np = input_pairs_cols(cols), nr = input_pairs_rows(n_out), n_slow = 0;
    int *slow = s->slow;
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
        if (too_large(D0, ld, n_out, KERNELS_PAIRS_MAX) ||
            (b1 && too_large(D1, ld, n_out, KERNELS_PAIRS_MAX))) {
            slow[n_slow++] = 2 * p; /* both examples of the pair take the plain path */
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

void input_pairs_slow(int64_t *restrict acc, const int64_t *D, int ld, const uint8_t *const *rows,
                      int n_out, int c0, int cols, int stride, const ExactInput *s, int n_slow)
{
    for (int q = 0; q < n_slow; q++)
        input_plain_example(acc, D + s->slow[q], ld, rows[s->slow[q]] + c0, n_out, cols, stride);
}

void input_pairs_slow16(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                        const int16_t *A, int lda, int n_out, int cols, const ExactInput *s,
                        int n_slow)
{
    for (int q = 0; q < n_slow; q++) /* deltas beyond the halves: whole int16 products */
        wide_plain_outer(acc, stride, D + s->slow[q], ld, A + (size_t)s->slow[q] * lda, lda, 1,
                         n_out, cols);
}

/* pack_pieces: the 16-bit halves of the deltas of examples 2p and 2p + 1 (has1: the second
 * exists) into w (input_pairs_rows(n_out) pairs of int32); 0 when a delta is beyond
 * KERNELS_PAIRS_MAX (the halves are then left 0). */
static int pack_pieces(int32_t *w, const int64_t *D0, int ld, int has1, int n_out, int nr)
{
    const int64_t *D1 = D0 + 1;
    memset(w, 0, sizeof(int32_t) * 2 * (size_t)nr);
    if (too_large(D0, ld, n_out, KERNELS_PAIRS_MAX) ||
        (has1 && too_large(D1, ld, n_out, KERNELS_PAIRS_MAX)))
        return 0;
    for (int j = 0; j < n_out; j++) {
        uint16_t h0, l0, h1 = 0, l1 = 0;
        half16(D0[(size_t)j * ld], &h0, &l0);
        if (has1)
            half16(D1[(size_t)j * ld], &h1, &l1);
        w[2 * j] = (int32_t)((uint32_t)h0 | (uint32_t)h1 << 16);
        w[2 * j + 1] = (int32_t)((uint32_t)l0 | (uint32_t)l1 << 16);
    }
    return 1;
}

int input_pairs_pack16(ExactInput *s, const int64_t *D, int ld, const int16_t *A, int lda, int n,
                       int n_out, int cols, int high)
{
    int np = input_pairs_cols(cols), nr = input_pairs_rows(n_out), n_slow = 0;
    for (int p = 0; 2 * p < n; p++) {
        int has1 = 2 * p + 1 < n;
        const int16_t *a0 = A + (size_t)(2 * p) * lda, *a1 = has1 ? a0 + lda : NULL;
        int16_t *out = s->pairs + (size_t)p * np * 2;
        for (int k = 0; k < cols; k++) { /* lo: A & 255 (unsigned); hi: A >> 8 (signed) */
            out[2 * k] = (int16_t)(high ? a0[k] >> 8 : a0[k] & 255);
            out[2 * k + 1] = (int16_t)(a1 ? (high ? a1[k] >> 8 : a1[k] & 255) : 0);
        }
        memset(out + 2 * cols, 0, sizeof(int16_t) * 2 * (size_t)(np - cols));
        if (!pack_pieces(s->pieces + (size_t)p * nr * 2, D + 2 * p, ld, has1, n_out, nr)) {
            s->slow[n_slow++] = 2 * p; /* both examples of the pair take the plain path */
            if (has1)
                s->slow[n_slow++] = 2 * p + 1;
        }
    }
    return n_slow;
}
