/* input_plain.c: the first layer's integer outer products in plain int64 loops: the
 * kernel of the builds without vector ones, and the path of the examples whose deltas the
 * int16 pairs cannot hold. */
#include "kernels/kernels.h"

void input_plain_example(int64_t *restrict acc, const int64_t *D, int ld, const uint8_t *b,
                         int n_out, int cols, int stride)
{
    for (int j = 0; j < n_out; j++)
        for (int k = 0; k < cols; k++)
            acc[(size_t)j * stride + k] += D[(size_t)j * ld] * b[k];
}

void input_plain_region(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                        const uint8_t *const *rows, int n, int n_out, int c0, int c1)
{
    for (int i = 0; i < n; i++)
        input_plain_example(acc, D + i, ld, rows[i] + c0, n_out, c1 - c0, stride);
}

int input_plain_beyond(const int64_t *D, int ld, int n, int n_out, int64_t max)
{
    int any = 0;
    for (int j = 0; j < n_out; j++) /* one branchless pass */
        for (int i = 0; i < n; i++)
            any |= (D[(size_t)j * ld + i] > max) | (D[(size_t)j * ld + i] < -max);
    return any;
}

void wide_plain_outer(int64_t *restrict acc, int stride, const int64_t *D, int ld,
                      const int16_t *A, int lda, int n, int n_out, int n_in)
{
    for (int j = 0; j < n_out; j++) { /* row j of acc stays in cache over the examples */
        int64_t *row = acc + (size_t)j * stride;
        for (int i = 0; i < n; i++) {
            int64_t Dj = D[(size_t)j * ld + i];
            const int16_t *a = A + (size_t)i * lda;
            if (Dj != 0) /* relu's zero deltas */
                for (int k = 0; k < n_in; k++)
                    row[k] += Dj * a[k];
        }
    }
}
