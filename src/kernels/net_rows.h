/* net_rows.h: the row driver the vector dot-product kernels share (private to src/kernels).
 * Include it after defining INLINE and the file's register block
 * dot_block(W, ws, x, xs, len, ni, nj, z): z[r][q] = dot of W row q and x row r for ni <= 4
 * rows of x and nj <= 4 rows of W, in net_plain_dot's order; optionally ROWS_BLOCK_OUT(W, ws,
 * x, xs, len, out, n_out): a whole 4 x 4 block of rows whose length is a multiple of 16,
 * z[r][q] stored to out[r n_out + q]. */
#ifndef DOWNHILL_NET_ROWS_H
#define DOWNHILL_NET_ROWS_H

/* ROWS_PANEL_BYTES: the bytes of W one panel holds (rows_dot): well inside a core's L2 (1-2
 * MB on current x86 server cores), so a panel is read from memory once per call and from L2
 * by every block of examples. */
#define ROWS_PANEL_BYTES (384 * 1024)

/* rows_partial: out rows [i, i + ni) = W in for the outputs [j0, j1) (len columns; W rows ws
 * apart, in rows xs apart), outputs in blocks of 4 counted from j0. */
INLINE void rows_partial(const float *W, int ws, const float *in, int xs, int len, float *out,
                         int i, int ni, int n_out, int j0, int j1)
{
    float z[4][4];
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
#ifdef ROWS_BLOCK_OUT
        if (ni == 4 && len % 16 == 0) { /* the file's whole block, stored by itself */
            ROWS_BLOCK_OUT(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len,
                           out + (size_t)i * n_out + j, n_out);
            continue;
        }
#endif
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 4, z);
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < 4; q++)
                out[(size_t)(i + r) * n_out + j + q] = z[r][q];
    }
    for (; j < j1; j++) {
        dot_block(W + (size_t)j * ws, ws, in + (size_t)i * xs, xs, len, ni, 1, z);
        for (int r = 0; r < ni; r++)
            out[(size_t)(i + r) * n_out + j] = z[r][0];
    }
}

/* rows_dot: out (n, n_out) = the dot products of the n rows of in with the n_out rows of W:
 * W in panels of rows (a multiple of 4, ROWS_PANEL_BYTES), each panel through every block of
 * four examples (they share each load of W, and the panel stays in L2), by dot_block; the
 * last examples by net_plain_dot_rows (the same bits). Each output is one dot_block sum
 * whatever the panel, so the bits do not depend on it. */
INLINE void rows_dot(const float *W, int ws, const float *in, int xs, int len, float *out,
                     int n, int n_out)
{
    int panel = ROWS_PANEL_BYTES / (4 * (len > 0 ? len : 1)) / 4 * 4;
    if (panel < 4)
        panel = 4;
    int full = n / 4 * 4;
    for (int j0 = 0; j0 < n_out; j0 += panel) {
        int j1 = n_out - j0 < panel ? n_out : j0 + panel;
        for (int i = 0; i < full; i += 4)
            rows_partial(W, ws, in, xs, len, out, i, 4, n_out, j0, j1);
    }
    net_plain_dot_rows(W, ws, in + (size_t)full * xs, xs, len, out + (size_t)full * n_out,
                       n - full, n_out);
}

#endif
