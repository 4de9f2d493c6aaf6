/* comm.c: with allreduce.c (the sums of many values) the only code that calls MPI: start-up,
 * the watchdog, error agreement and the small collectives. Every collective here is entered
 * by every rank; errors are agreed through comm_agree before anyone moves on. */
#include "comm/comm.h"
#include "comm_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DOWNHILL_DOUBLE
#define MPI_REAL_TYPE MPI_DOUBLE
#else
#define MPI_REAL_TYPE MPI_FLOAT
#endif

/* Failures of MPI calls are fatal: MPI's default error handler aborts the job.
 * Every collective is nonblocking and waited for under the watchdog. */

#define WATCHDOG_EXIT 3

/* What this rank is doing, for the watchdog's message (the only state kept here). */
static double watchdog_seconds = 600;
static const char *phase = "start-up";
static int64_t phase_step;
void comm_set_watchdog(double seconds)
{
    watchdog_seconds = seconds;
}

void comm_set_phase(const char *name, int64_t step)
{
    phase = name;
    phase_step = step;
}

/* watchdog_fire: says where this rank waits, then ends the whole job. */
static void watchdog_fire(double waited)
{
    int rank, len;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Get_processor_name(host, &len);
    fprintf(stderr, "downhill: error: watchdog: rank %d on %s waited %.1f s in %s at step "
                    "%lld: another rank is stuck or dead; aborting the job "
                    "(train.watchdog_seconds = %g)\n",
            rank, host, waited, phase, (long long)phase_step, watchdog_seconds);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, WATCHDOG_EXIT);
}

int comm_watchdog_due(double start)
{
    double waited = MPI_Wtime() - start;
    if (waited > watchdog_seconds)
        watchdog_fire(waited);
    return 0;
}

void comm_wait_all(int n, MPI_Request *req)
{
    double start = MPI_Wtime();
    int done = 0;
    for (unsigned long spins = 1; !done; spins++) {
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (!done && spins % 1024 == 0)
            comm_watchdog_due(start);
    }
}

void comm_fatal_memory(const char *what)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "downhill: error: rank %d: out of memory for %s\n", rank, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* allreduce: in-place MPI_Allreduce under the watchdog. */
static void allreduce(void *buf, size_t n, MPI_Datatype type, MPI_Op op)
{
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, op, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
}

void comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    allreduce_init(*rank);
}

void comm_finalize(void)
{
    allreduce_finalize();
    MPI_Finalize();
}

int comm_agree(int status)
{
    int rank, size, first;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    first = status ? rank : size;
    allreduce(&first, 1, MPI_INT, MPI_MIN);
    return first < size ? first : -1;
}

int comm_check(int status, Err *e)
{
    int rank, first = comm_agree(status);
    if (first < 0)
        return 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (e && rank != first)
        e->msg[0] = '\0';
    return -1;
}

void comm_sum_u64(uint64_t *buf, size_t n)
{
    allreduce(buf, n, MPI_UINT64_T, MPI_SUM);
}

void comm_sum_real(Real *buf, size_t n)
{
    allreduce(buf, n, MPI_REAL_TYPE, MPI_SUM);
}

void comm_sum_real_plain(Real *buf, size_t n)
{
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_REAL_TYPE, MPI_SUM, MPI_COMM_WORLD);
}

static double reduce_double(double x, MPI_Op op)
{
    allreduce(&x, 1, MPI_DOUBLE, op);
    return x;
}

void comm_reduce_doubles(double *buf, size_t n, CommOp op)
{
    allreduce(buf, n, MPI_DOUBLE, op == COMM_MIN ? MPI_MIN : op == COMM_MAX ? MPI_MAX : MPI_SUM);
}

double comm_max_double(double x) { return reduce_double(x, MPI_MAX); }

static uint64_t reduce_u64(uint64_t x, MPI_Op op)
{
    allreduce(&x, 1, MPI_UINT64_T, op);
    return x;
}

uint64_t comm_min_u64(uint64_t x) { return reduce_u64(x, MPI_MIN); }
uint64_t comm_max_u64(uint64_t x) { return reduce_u64(x, MPI_MAX); }

void comm_bcast(void *buf, size_t n, int root)
{
    MPI_Request req;
    MPI_Ibcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
}

void comm_gather_bytes(const void *buf, size_t n, void *out)
{
    MPI_Request req;
    MPI_Igather(buf, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
}

void comm_gather_rows(const void *buf, int64_t rows, size_t row_bytes, void *out)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int64_t *all = rank == 0 ? malloc((size_t)size * sizeof *all) : NULL;
    int *counts = rank == 0 ? malloc((size_t)size * sizeof *counts) : NULL;
    int *displs = rank == 0 ? malloc((size_t)size * sizeof *displs) : NULL;
    if (rank == 0 && (!all || !counts || !displs)) {
        fprintf(stderr, "downhill: error: rank 0: out of memory for a gather of %d ranks\n",
                size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Request req;
    MPI_Igather(&rows, 1, MPI_INT64_T, all, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
    for (int r = 0, at = 0; rank == 0 && r < size; at += counts[r], r++) {
        counts[r] = (int)all[r];
        displs[r] = at;
    }
    MPI_Datatype row; /* one row as one element, so counts are rows, not bytes */
    MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Igatherv(buf, (int)rows, row, out, counts, displs, row, 0, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
    MPI_Type_free(&row);
    free(all);
    free(counts);
    free(displs);
}

double comm_time(void)
{
    return MPI_Wtime();
}
