/* comm.c: the only compilation unit that calls MPI. Every collective here is entered by
 * every rank; errors are agreed through comm_agree before anyone moves on. */
#include "comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

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

/* wait_for: completes a nonblocking collective, or fires the watchdog. */
static void wait_for(MPI_Request *req)
{
    double start = MPI_Wtime();
    int done = 0;
    for (unsigned long spins = 1; !done; spins++) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (!done && spins % 1024 == 0 && MPI_Wtime() - start > watchdog_seconds)
            watchdog_fire(MPI_Wtime() - start);
    }
}

/* allreduce: in-place MPI_Allreduce under the watchdog. */
static void allreduce(void *buf, size_t n, MPI_Datatype type, MPI_Op op)
{
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, op, MPI_COMM_WORLD, &req);
    wait_for(&req);
}

void comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
}

int comm_node_ranks(void)
{
    MPI_Comm node;
    int n;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n;
}

void comm_finalize(void)
{
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

void comm_sum_i64(int64_t *buf, size_t n)
{
    allreduce(buf, n, MPI_INT64_T, MPI_SUM);
}

void comm_sum_u64(uint64_t *buf, size_t n)
{
    allreduce(buf, n, MPI_UINT64_T, MPI_SUM);
}

void comm_sum_real(Real *buf, size_t n)
{
    allreduce(buf, n, MPI_REAL_TYPE, MPI_SUM);
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
    wait_for(&req);
}

void comm_gather_bytes(const void *buf, size_t n, void *out)
{
    MPI_Request req;
    MPI_Igather(buf, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    wait_for(&req);
}

double comm_time(void)
{
    return MPI_Wtime();
}
