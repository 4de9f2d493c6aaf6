/* commbench.c: `downhill comm`: times the step's reduction through the trainer's own
 * wrappers (comm_sum_i64 for the exact path, comm_sum_real for the float path), so the
 * numbers include the watchdog's polling and the algorithms the trainer really runs; and
 * MPI's blocking MPI_Allreduce of floats (kind plain) as the reference. No MPI here: only
 * comm.h. */
#include "cmd/commbench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"

#define WARMUP_REPS 3

/* plain: MPI's blocking MPI_Allreduce of floats, what a user would write (the reference) */
enum { KIND_EXACT, KIND_FLOAT, KIND_PLAIN, KINDS };
static const char *const KIND_NAME[KINDS] = {"exact", "float", "plain"};
static const size_t KIND_SIZE[KINDS] = {sizeof(int64_t), sizeof(Real), sizeof(Real)};

int commbench_parse_sizes(const char *list, size_t *bytes, int max, Err *e)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        if (n == max)
            return err_set(e, "--sizes: more than %d sizes", max);
        if (!strncmp(p, "trainer", 7) && (p[7] == ',' || p[7] == '\0')) {
            bytes[n++] = 0;
            p += 7;
        } else {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            unsigned long long unit = 1;
            if (*end == 'k' || *end == 'K')
                unit = 1024, end++;
            else if (*end == 'm' || *end == 'M')
                unit = 1048576, end++;
            if (end == p || errno || v == 0 || v > (1ULL << 30) / unit ||
                (*end != ',' && *end != '\0'))
                return err_set(e, "--sizes: bad size near '%s': expected bytes > 0 (suffix k "
                                  "or m, at most 1 GiB) or 'trainer', comma-separated", p);
            bytes[n++] = (size_t)(v * unit);
            p = end;
        }
        if (*p == ',')
            p++;
    }
    if (n == 0)
        return err_set(e, "--sizes: empty list");
    return n;
}

int commbench_default_sizes(size_t *bytes)
{
    int n = 0;
    for (size_t b = 8; b <= 1048576; b *= 4)
        bytes[n++] = b;
    bytes[n++] = 1048576;
    bytes[n++] = 0; /* the trainer's message */
    return n;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* values_for: elements of one kind in a message of `bytes` (0: the trainer's message). */
static size_t values_for(size_t bytes, int kind)
{
    if (bytes == 0)
        return COMMBENCH_TRAINER_VALUES;
    size_t n = bytes / KIND_SIZE[kind];
    return n ? n : 1;
}

/* time_reps: `reps` timed reductions of n values of `kind` after a warm-up; seconds of
 * this rank per repetition into t[reps]. Each starts after an agreement (a barrier). */
static void time_reps(int kind, size_t n, int64_t *ibuf, Real *fbuf, int reps, double *t)
{
    for (int r = -WARMUP_REPS; r < reps; r++) {
        comm_agree(0);
        double start = comm_time();
        if (kind == KIND_EXACT)
            comm_sum_i64(ibuf, n);
        else if (kind == KIND_FLOAT)
            comm_sum_real(fbuf, n);
        else
            comm_sum_real_plain(fbuf, n);
        double took = comm_time() - start;
        if (r >= 0)
            t[r] = took;
    }
}

/* summarize: per repetition the slowest rank (all[ranks * reps], rank-major), then the
 * median, min and max over repetitions in microseconds into us[3]; slow[reps] scratch. */
static void summarize(const double *all, int ranks, int reps, double *slow, double *us)
{
    for (int r = 0; r < reps; r++) {
        slow[r] = all[r];
        for (int k = 1; k < ranks; k++)
            if (all[(size_t)k * reps + r] > slow[r])
                slow[r] = all[(size_t)k * reps + r];
    }
    qsort(slow, (size_t)reps, sizeof *slow, compare_double);
    us[0] = 1e6 * (reps % 2 ? slow[reps / 2] : 0.5 * (slow[reps / 2 - 1] + slow[reps / 2]));
    us[1] = 1e6 * slow[0];
    us[2] = 1e6 * slow[reps - 1];
}

/* print_row: one line of the table and of the CSV (rank 0). */
static void print_row(FILE *out, FILE *csv, int ranks, size_t bytes, int kind, int trainer,
                      const double *us)
{
    fprintf(out, "%6d %10zu %6s %11.2f %11.2f %11.2f%s\n", ranks, bytes, KIND_NAME[kind],
            us[0], us[1], us[2], trainer ? "  <- trainer's message" : "");
    if (csv)
        fprintf(csv, "%d,%zu,%s,%.3f,%.3f,%.3f\n", ranks, bytes, KIND_NAME[kind], us[0],
                us[1], us[2]);
}

int commbench_run(const size_t *bytes, int nsizes, int reps, int rank, int ranks, FILE *out,
                  const char *csv, Err *e)
{
    size_t most = COMMBENCH_TRAINER_VALUES;
    for (int i = 0; i < nsizes; i++)
        if (values_for(bytes[i], KIND_FLOAT) > most)
            most = values_for(bytes[i], KIND_FLOAT);
    /* Zeros: sums stay zero, so no overflow however many repetitions (speed is the same). */
    int64_t *ibuf = alloc_array(most, sizeof *ibuf, "comm int64 buffer", e);
    Real *fbuf = ibuf ? alloc_array(most, sizeof *fbuf, "comm float buffer", e) : NULL;
    double *t = fbuf ? alloc_array((size_t)reps, sizeof *t, "comm times", e) : NULL;
    double *all = t ? alloc_array((size_t)reps * (size_t)ranks, sizeof *all, "comm times", e)
                    : NULL;
    double *slow = all ? alloc_array((size_t)reps, sizeof *slow, "comm times", e) : NULL;
    FILE *f = NULL;
    if (slow && rank == 0 && csv && !(f = fopen(csv, "w")))
        err_set(e, "cannot write %s: %s", csv, strerror(errno));
    int status = comm_check(!slow || (rank == 0 && csv && !f), e);
    if (status == 0) {
        if (f)
            fprintf(f, "ranks,bytes,kind,median_us,min_us,max_us\n");
        if (rank == 0)
            fprintf(out, "allreduce in place as in a training step (exact: downhill's own, "
                         "float: MPI_Iallreduce; plain: MPI_Allreduce of floats, the "
                         "reference): median of %d after %d warm-up, slowest rank\n"
                         " ranks      bytes   kind   median_us      min_us      max_us\n",
                    reps, WARMUP_REPS);
        for (int i = 0; i < nsizes; i++)
            for (int kind = 0; kind < KINDS; kind++) {
                size_t n = values_for(bytes[i], kind);
                double us[3];
                comm_set_phase("comm benchmark", i);
                time_reps(kind, n, ibuf, fbuf, reps, t);
                comm_gather_bytes(t, (size_t)reps * sizeof *t, all);
                if (rank == 0) {
                    summarize(all, ranks, reps, slow, us);
                    print_row(out, f, ranks, n * KIND_SIZE[kind], kind, bytes[i] == 0, us);
                }
            }
    }
    if (f && fclose(f) != 0 && status == 0)
        status = err_set(e, "cannot write %s: %s", csv, strerror(errno));
    status = comm_check(status != 0, e);
    free(slow);
    free(all);
    free(t);
    free(fbuf);
    free(ibuf);
    return status;
}
