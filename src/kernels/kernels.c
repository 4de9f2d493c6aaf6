/* kernels.c: each family's kernel for this build: the vector kernel isa.h enables, else
 * the plain one; and, at run time, the AMX tiles for the first layer's integer sums where
 * the build, the CPU and the OS allow them (DOWNHILL_AMX=0 turns them off). */
#include "kernels/kernels.h"
#include "exact/exact_wide.h"

/* Fewer examples than this take the vector path even where AMX is usable: a call on the
 * tiles costs about as much as a block of 64 examples. */
#define AMX_MIN_EXAMPLES 32

const char *kernels_describe(void)
{
    return "net " /* one string per build, spelled out */
#if KERNELS_NET_AVX512
           "avx512"
#elif KERNELS_NET_AVX2
           "avx2"
#else
           "plain"
#endif
           ", exact "
#if KERNELS_EXACT_AVX512
           "avx512"
#elif KERNELS_EXACT_AVX2
           "avx2"
#else
           "plain"
#endif
           ", round "
#if KERNELS_ROUND_AVX512
           "avx512"
#elif KERNELS_ROUND_AVX2
           "avx2"
#else
           "plain"
#endif
           ", input "
#if KERNELS_INPUT_VNNI
           "vnni"
#elif KERNELS_INPUT_AVX2
           "avx2"
#else
           "plain"
#endif
#if KERNELS_INPUT_AMX
           " (amx where usable)"
#endif
        ;
}

void kernels_scale_bytes(Real *restrict x, const uint8_t *restrict px, int n)
{
    net_plain_scale_bytes(x, px, n);
}

void kernels_dot_rows(const Real *W, int ws, const Real *in, int xs, int len, Real *out, int n,
                      int n_out)
{
#if KERNELS_NET_AVX512
    net_avx512_dot_rows(W, ws, in, xs, len, out, n, n_out);
#elif KERNELS_NET_AVX2
    net_avx2_dot_rows(W, ws, in, xs, len, out, n, n_out);
#else
    net_plain_dot_rows(W, ws, in, xs, len, out, n, n_out);
#endif
}

void kernels_sigmoid(Real *v, size_t n)
{
#if KERNELS_NET_AVX512
    net_avx512_sigmoid(v, n);
#elif KERNELS_NET_AVX2
    net_avx2_sigmoid(v, n);
#else
    net_plain_sigmoid(v, n);
#endif
}

void kernels_hidden_deltas(const Real *W, const Real *d_out, const Real *a, Real *d_in, int n,
                           int n_in, int n_out, Activation act)
{
#if KERNELS_NET_AVX512
    net_avx512_hidden_deltas(W, d_out, a, d_in, n, n_in, n_out, act);
#else
    net_plain_hidden_deltas(W, d_out, a, d_in, n, n_in, n_out, act);
#endif
}

void kernels_outer_add(Real *restrict gW, int gs, const Real *d, const Real *x, int xs, int cols,
                       int n, int n_out)
{
#if KERNELS_NET_AVX512
    net_avx512_outer_add(gW, gs, d, x, xs, cols, n, n_out);
#elif KERNELS_NET_AVX2
    net_avx2_outer_add(gW, gs, d, x, xs, cols, n, n_out);
#else
    net_plain_outer_add(gW, gs, d, x, xs, cols, n, n_out);
#endif
}

size_t kernels_exact_outer(int64_t *restrict acc, const Real *d, const Real *x, const int *start,
                           int groups, int n_out, int n_in, const Fixed *f, double *bound)
{
#if KERNELS_EXACT_AVX512
    return exact_avx512_outer(acc, d, x, start, groups, n_out, n_in, f, bound);
#elif KERNELS_EXACT_AVX2
    return exact_avx2_outer(acc, d, x, start, groups, n_out, n_in, f, bound);
#else
    (void)bound;
    return exact_plain_outer(acc, d, x, start, groups, n_out, n_in, f);
#endif
}

size_t kernels_input_round(int64_t *restrict D, int ld, const Real *d, int n, int n_out,
                           const Fixed *f)
{
#if KERNELS_ROUND_AVX512
    return round_avx512_input(D, ld, d, n, n_out, f);
#elif KERNELS_ROUND_AVX2
    return round_avx2_input(D, ld, d, n, n_out, f);
#else
    return exact_input_round_plain(D, ld, d, n, n_out, f);
#endif
}

size_t kernels_wide_round(int16_t *restrict A, int lda, int64_t *restrict D, int ld,
                          const Real *a, const Real *d, int n, int n_in, int n_out,
                          const Fixed *f)
{
#if KERNELS_ROUND_AVX512
    return round_avx512_wide(A, lda, D, ld, a, d, n, n_in, n_out, f);
#elif KERNELS_ROUND_AVX2
    return round_avx2_wide(A, lda, D, ld, a, d, n, n_in, n_out, f);
#else
    return exact_wide_round_plain(A, lda, D, ld, a, d, n, n_in, n_out, f);
#endif
}

int kernels_amx_init(InputAmx *s, int cap, int n_in, int n_out, Err *e)
{
#if KERNELS_INPUT_AMX
    return input_amx_init(s, cap, n_in, n_out, e);
#else
    (void)cap, (void)n_in, (void)n_out, (void)e;
    memset(s, 0, sizeof *s);
    return 0;
#endif
}

void kernels_amx_free(InputAmx *s)
{
#if KERNELS_INPUT_AMX
    input_amx_free(s);
#else
    memset(s, 0, sizeof *s);
#endif
}

int kernels_input_pack(ExactInput *s, const uint8_t *const *rows, int n, int c0, int c1)
{
#if KERNELS_INPUT_AMX
    if (!s->amx.ready || n < AMX_MIN_EXAMPLES || n > s->amx.blocks * 64 || c1 <= c0)
        return 0;
    input_amx_pack(&s->amx, rows, n, c0, c1 - c0);
    return 1;
#else
    (void)s, (void)rows, (void)n, (void)c0, (void)c1;
    return 0;
#endif
}

/* input_region: one region of kernels_input_cols (columns [c0, c1) into acc, rows stride
 * apart) on this build's vector or plain kernel; sp: spent instead (VNNI only). */
static void input_region(int64_t *restrict acc, const KernelSpend *sp, int stride,
                         const int64_t *D, int ld, const uint8_t *const *rows, int n, int n_out,
                         int c0, int c1, ExactInput *s)
{
#if KERNELS_INPUT_VNNI
    input_vnni_region(acc, sp, stride, D, ld, rows, n, n_out, c0, c1, s);
#elif KERNELS_INPUT_AVX2
    (void)sp;
    input_avx2_region(acc, stride, D, ld, rows, n, n_out, c0, c1, s);
#else
    (void)sp, (void)s;
    input_plain_region(acc, stride, D, ld, rows, n, n_out, c0, c1);
#endif
}

int kernels_input_cols(const ColSums *dst, const int64_t *D, int ld, const uint8_t *const *rows,
                       int n, int n_out, int c0, int c1, int packed, ExactInput *s)
{
    int cols = c1 - c0, split = dst->split - c0; /* relative to c0 */
#if KERNELS_INPUT_AMX
    if (s->amx.ready && n >= AMX_MIN_EXAMPLES && (split >= cols || split % 16 == 0)) {
        ColSums rel = *dst;
        rel.split = split < 0 ? 0 : split;
        return input_amx_cols(&rel, D, ld, rows, n, n_out, c0, cols, packed, &s->amx);
    }
#else
    (void)packed;
#endif
    int mid = split < 0 ? c0 : split < cols ? c0 + split : c1, spend = 0;
#if KERNELS_INPUT_VNNI
    spend = (dst->theta[0] || dst->theta[1]) && input_vnni_spends(D, ld, n, n_out);
#endif
    KernelSpend sp[2] = {{dst->theta[0], dst->step, dst->inv},
                         {dst->theta[1], dst->step, dst->inv}};
    input_region(dst->acc[0], spend ? &sp[0] : NULL, dst->stride[0], D, ld, rows, n, n_out, c0,
                 mid, s);
    input_region(dst->acc[1], spend ? &sp[1] : NULL, dst->stride[1], D, ld, rows, n, n_out, mid,
                 c1, s);
    return spend;
}

int kernels_wide_init(ExactInput *s, int cap, int n_in, int n_out, Err *e)
{
    int planes = 2 * ((n_in + 15) / 16 * 16); /* the low and the high bytes */
    return exact_input_init(s, cap, planes, n_out, e);
}

int kernels_wide_cols(const ColSums *dst, const int64_t *D, int ld, const int16_t *A, int lda,
                      int n, int n_out, int n_in, ExactInput *s)
{
    if (n <= 0 || n_out <= 0)
        return 0;
#if KERNELS_INPUT_AMX
    if (s->amx.ready) /* any n: a tile product costs less than n plain rows from n = 1 */
        return input_amx_wide(dst, D, ld, A, lda, n, n_out, n_in, &s->amx);
#endif
#if KERNELS_INPUT_VNNI
    input_vnni_wide(dst->acc[0], dst->stride[0], D, ld, A, lda, n, n_out, n_in, s);
#elif KERNELS_INPUT_AVX2
    input_avx2_wide(dst->acc[0], dst->stride[0], D, ld, A, lda, n, n_out, n_in, s);
#else
    (void)s;
    wide_plain_outer(dst->acc[0], dst->stride[0], D, ld, A, lda, n, n_out, n_in);
#endif
    return 0;
}

int kernels_input_vector_spends(void)
{
    return KERNELS_INPUT_VNNI;
}
