/* net_rows.h: the row driver the vector dot-product kernels share (private to src/kernels).
 * Include it after defining INLINE and the file's register block
 * dot_block(W, ws, x, xs, len, ni, nj, z): z[r][q] = dot of W row q and x row r for ni <= 4
 * rows of x and nj <= 4 rows of W, in net_plain_dot's order. */
#ifndef DOWNHILL_NET_ROWS_H
#define DOWNHILL_NET_ROWS_H

/* rows_partial: out rows [i, i + ni) = W in (len columns; W rows ws apart, in rows xs
 * apart), outputs in blocks of 4. */
INLINE void rows_partial(const float *W, int ws, const float *in, int xs, int len, float *out,
                         int i, int ni, int n_out)
{
    float z[4][4];
    int j = 0;
    for (; j + 4 <= n_out; j += 4) {
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 4, z);
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < 4; q++)
                out[(size_t)(i + r) * n_out + j + q] = z[r][q];
    }
    for (; j < n_out; j++) {
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 1, z);
        for (int r = 0; r < ni; r++)
            out[(size_t)(i + r) * n_out + j] = z[r][0];
    }
}

/* rows_dot: out (n, n_out) = the dot products of the n rows of in with the n_out rows of W:
 * four examples at a time through dot_block (they share each load of W), the rest by
 * net_plain_dot_rows (the same bits). */
INLINE void rows_dot(const float *W, int ws, const float *in, int xs, int len, float *out,
                     int n, int n_out)
{
    int i = 0;
    for (; i + 4 <= n; i += 4)
        rows_partial(W, ws, in, xs, len, out, i, 4, n_out);
    net_plain_dot_rows(W, ws, in + (size_t)i * xs, xs, len, out + (size_t)i * n_out, n - i,
                       n_out);
}

#endif
