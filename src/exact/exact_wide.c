/* exact_wide.c: a wide layer's weight gradient in integers (see exact_wide.h): each example's
 * activations and deltas rounded once (by the kernels, kernels.h: AVX-512 or AVX2, else the
 * plain C here), the products summed by the kernels (AMX tiles, int16 pairs on AVX-512 VNNI
 * or AVX2, else plain int64 loops). Every path gives the same integers. */
#include "exact/exact_wide.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int exact_wide_layer(int l, int n_in)
{
    return l >= 2 && n_in >= EXACT_WIDE_MIN;
}

int exact_wide_init(ExactWide *s, int cap, int n_in, int n_out, Err *e)
{
    memset(s, 0, sizeof *s);
    if (n_in <= 0)
        return 0;
    s->cap = cap, s->n_in = n_in, s->n_out = n_out;
    s->A = alloc_array((size_t)cap * (size_t)n_in, sizeof *s->A, "workspace wide activations", e);
    s->D = alloc_array((size_t)cap * (size_t)n_out, sizeof *s->D, "workspace wide deltas", e);
    if (!s->A || !s->D || kernels_wide_init(&s->sc, cap, n_in, n_out, e) != 0) {
        exact_wide_free(s);
        return -1;
    }
    return 0;
}

void exact_wide_free(ExactWide *s)
{
    free(s->A);
    free(s->D);
    exact_input_free(&s->sc);
    memset(s, 0, sizeof *s);
}

#ifdef DOWNHILL_DOUBLE
typedef uint64_t RealBits; /* a Real's bits */
#define REAL_ABS_BITS 0x7fffffffffffffffULL
#define REAL_INF_BITS 0x7ff0000000000000ULL
#else
typedef uint32_t RealBits;
#define REAL_ABS_BITS 0x7fffffffu
#define REAL_INF_BITS 0x7f800000u
#endif

/* wide_exponent: e with max |a[k]| < 2^e (the smallest; 0 when all are 0), or 1 in *bad when
 * some a[k] is not finite. The largest |a| by its bits (sign cleared, they order as the
 * magnitudes do; infinity and NaN above every finite value): an integer maximum, which
 * vectorises. */
static int wide_exponent(const Real *a, int n_in, int *bad)
{
    RealBits top = 0;
    for (int k = 0; k < n_in; k++) {
        RealBits b;
        memcpy(&b, a + k, sizeof b);
        b &= REAL_ABS_BITS;
        top = b > top ? b : top;
    }
    *bad = top >= REAL_INF_BITS;
    Real m;
    memcpy(&m, &top, sizeof m);
    int e = 0;
    if (!*bad && m > 0)
        frexp((double)m, &e); /* m = f 2^e, f in [0.5, 1) */
    return e;
}

/* wide_activations: A (n_in) of one example's activations a, as exact_wide.h says; returns
 * the scale of its deltas, 2^(F + e), or 0 when a is not all finite (A is then 0). */
static double wide_activations(int16_t *restrict A, const Real *a, int n_in, const Fixed *f)
{
    const int32_t top = (1 << EXACT_WIDE_ABITS) - 1;
    int nonfinite, e = wide_exponent(a, n_in, &nonfinite);
    if (nonfinite) {
        memset(A, 0, sizeof *A * (size_t)n_in);
        return 0;
    }
    const double sa = ldexp(1.0, EXACT_WIDE_ABITS - e);
    for (int k = 0; k < n_in; k++) { /* exact products, |y| < 2^15: round half to even */
        int64_t v = kernels_round_scaled((double)a[k] * sa);
        A[k] = (int16_t)(v < top ? v : top);
    }
    return ldexp(1.0, f->delta_bits + e);
}

size_t exact_wide_round(int16_t *restrict A, int lda, int64_t *restrict D, int ld, const Real *a,
                        const Real *d, int n, int n_in, int n_out, const Fixed *f)
{
    return kernels_wide_round(A, lda, D, ld, a, d, n, n_in, n_out, f);
}

size_t exact_wide_round_plain(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                              const Real *a, const Real *d, int n, int n_in, int n_out,
                              const Fixed *f)
{
    enum { BLOCK = 64 }; /* examples whose deltas are rounded together, neuron by neuron */
    const double lim = f->limit / (double)(1 << EXACT_WIDE_ABITS); /* |D| 2^15 <= limit */
    size_t bad = 0;
    for (int i0 = 0; i0 < n; i0 += BLOCK) {
        int nb = n - i0 < BLOCK ? n - i0 : BLOCK;
        double sd[BLOCK];
        for (int i = 0; i < nb; i++) {
            sd[i] = wide_activations(A + (size_t)(i0 + i) * lda, a + (size_t)(i0 + i) * n_in,
                                     n_in, f);
            bad += sd[i] == 0; /* not finite: the example adds nothing */
        }
        for (int j = 0; j < n_out; j++) { /* D's row j: the block's examples side by side */
            int64_t *Dj = D + (size_t)j * ld + i0;
            const Real *dj = d + (size_t)i0 * n_out + j;
            for (int i = 0; i < nb; i++) {
                double y = (double)dj[(size_t)i * n_out] * sd[i];
                int ok = fabs(y) <= lim || sd[i] == 0;
                bad += !ok;
                Dj[i] = ok && sd[i] != 0 ? kernels_round_scaled(y) : 0;
            }
        }
    }
    return bad;
}

size_t exact_wide_outer(int64_t *restrict acc, const Real *a, const Real *d, int n, int n_in,
                        int n_out, const Fixed *f, ExactWide *s)
{
    if (n <= 0)
        return 0;
    size_t bad = exact_wide_round(s->A, n_in, s->D, s->cap, a, d, n, n_in, n_out, f);
    ColSums dst = {.acc = {acc, NULL}, .stride = {n_in, 0}, .split = n_in};
    kernels_wide_cols(&dst, s->D, s->cap, s->A, n_in, n, n_out, n_in, &s->sc);
    return bad;
}

size_t exact_wide_outer_ref(int64_t *restrict acc, const Real *a, const Real *d, int n,
                            int n_in, int n_out, const Fixed *f)
{
    int16_t *A = malloc(sizeof *A * (size_t)(n > 0 ? n : 1) * (size_t)n_in);
    int64_t *D = malloc(sizeof *D * (size_t)(n > 0 ? n : 1) * (size_t)n_out);
    if (!A || !D)
        abort(); /* a test helper */
    size_t bad = exact_wide_round_plain(A, n_in, D, n, a, d, n, n_in, n_out, f);
    wide_plain_outer(acc, n_in, D, n, A, n_in, n, n_out, n_in);
    free(A);
    free(D);
    return bad;
}
