/* bench.c: `downhill bench`. Every number is the median of BENCH_REPS timed repetitions
 * after a warm-up, with the spread (min..max); times are the slowest rank's. */
#include "cmd/bench.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "train/train.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define KERNEL_FLOP (12 * 16) /* per iteration: 12 chains of 8-wide FMA */
#else
#include <math.h>
#define KERNEL_FLOP (12 * 2)
#endif

#define REP_SECONDS 0.15 /* target length of one timed repetition */

/* A measurement: median and spread over the repetitions. */
typedef struct {
    double median, min, max;
} Spread;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* spread_of: sorts v (n values) and returns its median and range. */
static Spread spread_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    Spread s = {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]};
    return s;
}

/* fma_kernel: iters rounds of 12 independent FMA chains (the latency of one chain is
 * hidden by the others); returns a value so the work is kept. */
static float fma_kernel(long iters)
{
#if defined(__AVX2__) && defined(__FMA__)
    __m256 a[12];
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int q = 0; q < 12; q++)
        a[q] = _mm256_set1_ps(0.01f * (float)q);
    for (long i = 0; i < iters; i++)
        for (int q = 0; q < 12; q++)
            a[q] = _mm256_fmadd_ps(a[q], m, c);
    __m256 s = a[0];
    for (int q = 1; q < 12; q++)
        s = _mm256_add_ps(s, a[q]);
    return _mm256_cvtss_f32(s);
#else
    float a[12];
    for (int q = 0; q < 12; q++)
        a[q] = 0.01f * (float)q;
    for (long i = 0; i < iters; i++)
        for (int q = 0; q < 12; q++)
            a[q] = fmaf(a[q], 0.9999999f, 1e-7f);
    return a[0] + a[11];
#endif
}

#ifdef __AVX512F__
#define KERNEL512_FLOP (12 * 32) /* per iteration: 12 chains of 16-wide FMA */
/* fma_kernel512: fma_kernel on 16 lanes (the AVX-512 peak, for reference). */
static float fma_kernel512(long iters)
{
    __m512 a[12];
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int q = 0; q < 12; q++)
        a[q] = _mm512_set1_ps(0.01f * (float)q);
    for (long i = 0; i < iters; i++)
        for (int q = 0; q < 12; q++)
            a[q] = _mm512_fmadd_ps(a[q], m, c);
    __m512 s = a[0];
    for (int q = 1; q < 12; q++)
        s = _mm512_add_ps(s, a[q]);
    return _mm512_reduce_add_ps(s);
}
#endif

/* peak_gflops: FMA GFLOP/s of `threads` threads on every rank at once; wide: the AVX-512
 * kernel instead of the AVX2 one (which defines "% of peak"). */
static Spread peak_gflops(int threads, int ranks, int wide)
{
    const long iters = 4000000;
    double v[BENCH_REPS];
    volatile float sink = 0;
    for (int r = -1; r < BENCH_REPS; r++) { /* r = -1: warm-up */
        comm_max_double(0); /* start together */
        double t0 = comm_time();
#pragma omp parallel num_threads(threads)
        {
#ifdef __AVX512F__
            float x = wide ? fma_kernel512(iters) : fma_kernel(iters);
#else
            float x = fma_kernel(iters);
#endif
#pragma omp atomic
            sink += x; /* only to keep the kernel: timing is not affected */
        }
        double dt = comm_max_double(comm_time() - t0);
#ifdef __AVX512F__
        double flop = wide ? KERNEL512_FLOP : KERNEL_FLOP;
#else
        double flop = KERNEL_FLOP;
#endif
        if (r >= 0)
            v[r] = (double)iters * flop * threads * ranks / dt * 1e-9;
    }
    return spread_of(v, BENCH_REPS);
}

/* time_steps: seconds of the slowest rank for `steps` training steps. */
static double time_steps(Trainer *t, int64_t steps, Err *e)
{
    int agreed;
    comm_max_double(0);
    double t0 = comm_time();
    for (int64_t left = steps; left > 0;) { /* as a run trains: many steps per call */
        int64_t before = t->step;
        if (trainer_steps(t, left, NULL, NULL, &agreed, e) != 0)
            return -1;
        left -= t->step - before > 0 ? t->step - before : 1; /* a diverged step counts */
    }
    return comm_max_double(comm_time() - t0);
}

/* step_config: the bench's training configuration for one batch and reduction; 0 when the
 * batch does not divide among the ranks. */
static int step_config(const Config *base, int64_t limit, int64_t batch, ReductionKind red,
                       int ranks, Config *c)
{
    *c = *base;
    c->train_limit = limit;
    c->test_limit = 64;
    c->batch_size = batch;
    c->reduction = red;
    c->epochs = 1000000;
    c->schedule = SCHEDULE_CONSTANT;
    c->learning_rate = 0.1;
    return batch % (ranks * c->exact_group) == 0;
}

/* warm_trainer: a trainer of `threads` threads, warmed up by 20 steps; *steps: how many
 * make one timed repetition (the same on all ranks). */
static int warm_trainer(Trainer *t, const Config *c, int threads, int rank, int ranks,
                        int64_t *steps, Err *e)
{
    omp_set_num_threads(threads); /* the update's parallel loops use the default */
    if (trainer_init(t, c, rank, ranks, threads, e) != 0)
        return -1;
    double warm = time_steps(t, 20, e);
    int64_t n = warm > 0 ? (int64_t)(REP_SECONDS / (warm / 20)) : 10;
    *steps = (int64_t)comm_max_double((double)(n < 10 ? 10 : n));
    return warm > 0 ? 0 : -1;
}

/* step_rate: examples/s of the training step for one configuration; 1 when the batch does
 * not divide among the ranks (skipped), -1 on error. */
static int step_rate(const Config *base, int64_t limit, int64_t batch, int threads,
                     ReductionKind red, int rank, int ranks, Spread *rate, Err *e)
{
    Config c;
    if (!step_config(base, limit, batch, red, ranks, &c))
        return 1;
    Trainer t;
    int64_t steps;
    int status = warm_trainer(&t, &c, threads, rank, ranks, &steps, e);
    double v[BENCH_REPS];
    for (int r = 0; status == 0 && r < BENCH_REPS; r++) {
        double dt = time_steps(&t, steps, e);
        status = dt > 0 ? 0 : -1;
        v[r] = (double)(steps * batch) / dt;
    }
    trainer_free(&t);
    if (status == 0)
        *rate = spread_of(v, BENCH_REPS);
    return status;
}

/* speedup: `threads` threads against one on the exact path, as pairs of repetitions
 * timed in turn (the machine's speed drifts between runs, not within a pair): the ratio
 * of their examples/s, median and spread over the pairs. 1 when skipped, -1 on error. */
static int speedup(const Config *base, int64_t limit, int64_t batch, int threads, int rank,
                   int ranks, Spread *ratio, Err *e)
{
    Config c;
    if (!step_config(base, limit, batch, REDUCTION_EXACT, ranks, &c))
        return 1;
    Trainer one = {0}, many = {0}; /* trainer_free is safe on a zeroed trainer */
    int64_t s1, sn;
    int status = warm_trainer(&one, &c, 1, rank, ranks, &s1, e);
    if (status == 0)
        status = warm_trainer(&many, &c, threads, rank, ranks, &sn, e);
    double v[BENCH_REPS];
    for (int r = 0; status == 0 && r < BENCH_REPS; r++) {
        omp_set_num_threads(1);
        double d1 = time_steps(&one, s1, e);
        omp_set_num_threads(threads);
        double dn = time_steps(&many, sn, e);
        status = d1 > 0 && dn > 0 ? 0 : -1;
        v[r] = ((double)sn / dn) / ((double)s1 / d1);
    }
    trainer_free(&many);
    trainer_free(&one);
    if (status == 0)
        *ratio = spread_of(v, BENCH_REPS);
    return status;
}

/* What allreduce_us times: the trainer's exact (int64) or float reduction, or MPI's own
 * blocking MPI_Allreduce of the floats (the plain reference). */
enum { REDUCE_EXACT, REDUCE_FLOAT, REDUCE_PLAIN };

/* allreduce_us: microseconds per step's allreduce of n values of that kind. */
static Spread allreduce_us(size_t n, int kind)
{
    const int calls = 200;
    int64_t *a = calloc(n, sizeof *a);
    Real *f = calloc(n, sizeof *f);
    double v[BENCH_REPS];
    for (int r = -1; r < BENCH_REPS; r++) {
        comm_max_double(0);
        double t0 = comm_time();
        for (int i = 0; i < calls && a && f; i++) {
            if (kind == REDUCE_EXACT)
                comm_sum_i64(a, n);
            else if (kind == REDUCE_FLOAT)
                comm_sum_real(f, n);
            else
                comm_sum_real_plain(f, n);
        }
        double dt = comm_max_double(comm_time() - t0);
        if (r >= 0)
            v[r] = dt / calls * 1e6;
    }
    free(a);
    free(f);
    return spread_of(v, BENCH_REPS);
}

/* combine_us: microseconds per step to add `threads` thread-local gradients of n values
 * into one (as the trainer does: each thread owns a slice), exact (int64) or float. */
static Spread combine_us(size_t n, int threads, int exact)
{
    const int calls = 200;
    size_t elem = exact ? sizeof(int64_t) : sizeof(Real);
    char *buf = calloc((size_t)(threads + 1) * n, elem);
    double v[BENCH_REPS];
    for (int r = -1; r < BENCH_REPS && buf; r++) {
        double t0 = comm_time();
        for (int i = 0; i < calls; i++) {
            int64_t *ia = (int64_t *)buf;
            Real *fa = (Real *)buf;
#pragma omp parallel for schedule(static) num_threads(threads)
            for (size_t k = 0; k < n; k++) { /* each thread owns a slice of k */
                for (int th = 1; th <= threads; th++) {
                    if (exact)
                        ia[k] += ia[th * n + k];
                    else
                        fa[k] += fa[th * n + k];
                }
            }
        }
        if (r >= 0)
            v[r] = (comm_time() - t0) / calls * 1e6;
    }
    free(buf);
    return spread_of(v, BENCH_REPS);
}

/* Floating-point operations of one example, counted by kind (a multiply-add is 2). */
typedef struct {
    double forward;     /* products and sums of every layer, biases, activations */
    double weight_grad; /* every weight's gradient term, d_l a_{l-1}^T */
    double deltas;      /* the hidden layers' deltas, W_l^T d_l (the first layer needs none) */
    double other;       /* the biases' gradients, the activations' derivatives, the output */
} Flops;

/* flop_split: the operations of one example of c's network, by kind. */
static Flops flop_split(const Config *c)
{
    double w = 0, w1 = 0, b = 0;
    for (int l = 1; l < c->n_layers; l++) {
        double nw = (double)c->layers[l] * c->layers[l - 1];
        w += nw;
        w1 = l == 1 ? nw : w1;
        b += c->layers[l];
    }
    return (Flops){.forward = 2 * w + 2 * b, .weight_grad = 2 * w, .deltas = 2 * (w - w1),
                   .other = 4 * b + c->layers[c->n_layers - 1]};
}

/* flop_counts: floating-point operations per example (forward + backward) and per update. */
static void flop_counts(const Config *c, double *per_example, double *per_step)
{
    Flops f = flop_split(c);
    double params = 0;
    for (int l = 1; l < c->n_layers; l++)
        params += (double)c->layers[l] * (c->layers[l - 1] + 1);
    *per_example = f.forward + f.weight_grad + f.deltas + f.other;
    *per_step = 2 * params;
}

/* print_header: the machine shape, the model and the flop counts (rank 0). */
static void print_header(FILE *out, const Config *c, int ranks, double fe, double fs)
{
    Flops f = flop_split(c);
    fprintf(out, "# downhill bench %s: %d rank(s), %s, layers", DOWNHILL_VERSION, ranks,
            REAL_NAME);
    for (int l = 0; l < c->n_layers; l++)
        fprintf(out, "%s%d", l ? "," : " ", c->layers[l]);
    fprintf(out, ", exact_group %lld\n# flop: %.0f per example + %.0f per step; %d "
                 "repetitions: median [min..max]\n",
            (long long)c->exact_group, fe, fs, BENCH_REPS);
    fprintf(out, "flops %.0f %.0f %.0f %.0f %.0f\n", f.forward, f.weight_grad, f.deltas,
            f.other, fe);
}

/* bench_steps: the step table for threads 1..max_threads; peaks[t] is the FMA peak. */
static int bench_steps(const Config *c, int64_t limit, int max_threads, const Spread *peaks,
                       int rank, int ranks, FILE *out, Err *e)
{
    static const int64_t batches[] = {10, 64, 256};
    double fe, fs;
    flop_counts(c, &fe, &fs);
    if (rank == 0)
        fprintf(out, "# step ranks threads batch reduction examples/s min max GFLOP/s "
                     "%%peak\n");
    for (int bi = 0; bi < 3; bi++)
        for (int th = 1; th <= max_threads; th++)
            for (int red = 0; red < 2; red++) {
                Spread s;
                int st = step_rate(c, limit, batches[bi], th, red ? REDUCTION_FLOAT
                                   : REDUCTION_EXACT, rank, ranks, &s, e);
                if (st < 0)
                    return -1;
                double gf = s.median * (fe + fs / (double)batches[bi]) * 1e-9;
                if (rank == 0 && st == 0)
                    fprintf(out, "step %d %d %lld %s %.0f %.0f %.0f %.2f %.1f\n", ranks, th,
                            (long long)batches[bi], red ? "float" : "exact", s.median, s.min,
                            s.max, gf, 100 * gf / peaks[th].median);
                fflush(out);
            }
    if (rank == 0 && max_threads > 1)
        fprintf(out, "# speedup ranks threads batch reduction ratio min max (examples/s of "
                     "`threads` threads over one, pairs of repetitions timed in turn)\n");
    for (int bi = 0; bi < 3 && max_threads > 1; bi++) {
        Spread s;
        int st = speedup(c, limit, batches[bi], max_threads, rank, ranks, &s, e);
        if (st < 0)
            return -1;
        if (rank == 0 && st == 0)
            fprintf(out, "speedup %d %d %lld exact %.3f %.3f %.3f\n", ranks, max_threads,
                    (long long)batches[bi], s.median, s.min, s.max);
        fflush(out);
    }
    return 0;
}

/* bench_combine: the per-step costs of combining gradients as the trainer does, OpenMP and
 * MPI: n values across ranks; across threads, n_exact exact ones (the threads own the first
 * layer's weights by columns and the wide layers' by rows: only the rest is combined) or
 * all n floats. */
static void bench_combine(size_t n, size_t n_exact, int max_threads, int rank, int ranks,
                          FILE *out)
{
    if (rank == 0)
        fprintf(out, "# combine kind ranks threads values us/step min max (omp-exact: the "
                     "values but the first layer's and the wide layers' weights, which threads own)\n");
    for (int exact = 1; exact >= 0; exact--) {
        const char *name = exact ? "exact" : "float";
        Spread s = allreduce_us(n, exact ? REDUCE_EXACT : REDUCE_FLOAT);
        if (rank == 0)
            fprintf(out, "combine mpi-%s %d 1 %zu %.2f %.2f %.2f\n", name, ranks, n, s.median,
                    s.min, s.max);
        if (!exact) { /* the reference: MPI's own blocking allreduce of the floats */
            s = allreduce_us(n, REDUCE_PLAIN);
            if (rank == 0)
                fprintf(out, "combine mpi-plain %d 1 %zu %.2f %.2f %.2f\n", ranks, n, s.median,
                        s.min, s.max);
        }
        for (int th = 2; th <= max_threads; th++) {
            size_t m = exact ? n_exact : n;
            s = combine_us(m, th, exact);
            if (rank == 0)
                fprintf(out, "combine omp-%s %d %d %zu %.2f %.2f %.2f\n", name, ranks, th, m,
                        s.median, s.min, s.max);
        }
    }
}

int bench_run(const Config *c, int64_t limit, int max_threads, int rank, int ranks, FILE *out,
              Err *e)
{
    double fe, fs;
    flop_counts(c, &fe, &fs);
    if (rank == 0)
        print_header(out, c, ranks, fe, fs);
    Spread peaks[65];
    max_threads = max_threads < 1 ? 1 : max_threads > 64 ? 64 : max_threads;
    if (rank == 0)
        fprintf(out, "# peak ranks threads cores GFLOP/s min max\n");
    for (int th = 1; th <= max_threads; th++) {
        peaks[th] = peak_gflops(th, ranks, 0);
        if (rank == 0)
            fprintf(out, "peak %d %d %d %.1f %.1f %.1f\n", ranks, th, th * ranks,
                    peaks[th].median, peaks[th].min, peaks[th].max);
    }
#ifdef __AVX512F__
    for (int th = 1; th <= max_threads; th++) { /* for reference: % of peak is the AVX2 one */
        Spread wide = peak_gflops(th, ranks, 1);
        if (rank == 0)
            fprintf(out, "peak512 %d %d %d %.1f %.1f %.1f\n", ranks, th, th * ranks,
                    wide.median, wide.min, wide.max);
    }
#endif
    fflush(out);
    if (bench_steps(c, limit, max_threads, peaks, rank, ranks, out, e) != 0)
        return -1;
    size_t n = 0;
    for (int l = 1; l < c->n_layers; l++)
        n += (size_t)c->layers[l] * (size_t)(c->layers[l - 1] + 1);
    size_t owned = (size_t)c->layers[1] * (size_t)c->layers[0]; /* W1's, and wide layers' */
    for (int l = 2; l < c->n_layers; l++)
        if (exact_wide_layer(l, c->layers[l - 1]))
            owned += (size_t)c->layers[l] * (size_t)c->layers[l - 1];
    bench_combine(n + SUM_EXTRA, n - owned + SUM_EXTRA, max_threads, rank, ranks, out);
    return 0;
}
