/* net_plain.c: the network's kernels in plain C: the references the vector kernels are
 * tested against, and the kernels of the builds without them (float64, portable). Each
 * multiply-add the vector kernels fuse is written out as kernels_madd (the library is built
 * without contraction). */
#include "kernels/kernels.h"

#include <math.h>


void net_plain_scale_bytes(Real *restrict x, const uint8_t *restrict px, int n)
{
#ifdef DOWNHILL_DOUBLE
    for (int k = 0; k < n; k++)
        x[k] = (Real)px[k] / (Real)255;
#else
    /* (float)b / 255 for every byte b: b * fl(1/255), corrected once by its exact
     * residual (checked for all 256 bytes by test_kernels) */
    const float inv = 1.0f / 255.0f;
    for (int k = 0; k < n; k++) {
        float b = (float)px[k], q = b * inv;
        x[k] = fmaf(fmaf(-q, 255.0f, b), inv, q);
    }
#endif
}

Real net_plain_dot(const Real *restrict a, const Real *restrict b, int n)
{
    Real s[KERNELS_DOT_LANES] = {0};
    int k = 0;
    for (; k + KERNELS_DOT_LANES <= n; k += KERNELS_DOT_LANES)
#pragma GCC unroll 1 /* kept a loop, the lanes become one vector (gcc unrolls fmaf calls) */
        for (int u = 0; u < KERNELS_DOT_LANES; u++)
            s[u] = kernels_madd(a[k + u], b[k + u], s[u]);
    for (int u = 0; u < 8; u++)
        s[u] = s[u] + s[u + 8];
    Real t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; k < n; k++)
        t = kernels_madd(a[k], b[k], t);
    return t;
}

void net_plain_dot_rows(const Real *W, int ws, const Real *in, int xs, int len, Real *out,
                        int n, int n_out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n_out; j++)
            out[(size_t)i * n_out + j] =
                net_plain_dot(W + (size_t)j * ws, in + (size_t)i * xs, len);
}

#ifdef DOWNHILL_DOUBLE
void net_plain_sigmoid(Real *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        v[k] = 1.0 / (1.0 + exp(-v[k]));
}

Real net_plain_exp(Real x)
{
    return exp(x);
}
#else
/* cephes_exp: e^x as Cephes' expf (x clamped to [-88, 88], x = m ln2 + r with m = round(x
 * log2 e) and ln2 in two parts, a degree-7 polynomial in r, scaled by 2^m in one rounding);
 * NaN stays NaN. */
static inline float cephes_exp(float x)
{
    if (x > 88.0f)
        x = 88.0f;
    if (x < -88.0f)
        x = -88.0f;
    float m = nearbyintf(x * 1.44269504088896341f);
    float r = fmaf(-m, 0.693359375f, x);
    r = fmaf(-m, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    return x == x ? ldexpf(y, (int)m) : x; /* NaN stays NaN */
}

Real net_plain_exp(Real x)
{
    return cephes_exp(x);
}

/* sigmoid: the reference's sigmoid: 1 / (1 + e^-z), e^-z by cephes_exp. */
static float sigmoid(float z)
{
    return 1.0f / (1.0f + cephes_exp(0.0f - z));
}

void net_plain_sigmoid(Real *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        v[k] = sigmoid(v[k]);
}
#endif

/* derivative: dp[k] *= g(ap[k]) for k < n, g the derivative of act from its output. */
static void derivative(Real *restrict dp, const Real *ap, int n, Activation act)
{
    if (act == ACT_TANH)
        for (int k = 0; k < n; k++)
            dp[k] *= kernels_madd(-ap[k], ap[k], (Real)1);
    else if (act == ACT_RELU)
        for (int k = 0; k < n; k++)
            dp[k] *= ap[k] > 0 ? (Real)1 : (Real)0;
    else
        for (int k = 0; k < n; k++)
            dp[k] *= ap[k] * ((Real)1 - ap[k]);
}

void net_plain_hidden_deltas(const Real *W, const Real *d_out, const Real *a, Real *d_in, int n,
                             int n_in, int n_out, Activation act)
{
    for (int i = 0; i < n; i++) {
        Real *restrict dp = d_in + (size_t)i * n_in;
        const Real *ap = a + (size_t)i * n_in, *dl = d_out + (size_t)i * n_out;
        memset(dp, 0, sizeof(Real) * (size_t)n_in);
        for (int j = 0; j < n_out; j++)
            for (int k = 0; k < n_in; k++)
                dp[k] = kernels_madd(W[(size_t)j * n_in + k], dl[j], dp[k]);
        derivative(dp, ap, n_in, act);
    }
}

void net_plain_outer_add(Real *restrict gW, int gs, const Real *d, const Real *x, int xs,
                         int cols, int n, int n_out)
{
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n; i++) {
            Real dj = d[(size_t)i * n_out + j];
            const Real *xi = x + (size_t)i * xs;
            for (int k = 0; k < cols; k++)
                gW[(size_t)j * gs + k] = kernels_madd(dj, xi[k], gW[(size_t)j * gs + k]);
        }
}
