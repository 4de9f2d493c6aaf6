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

/* Failures of MPI calls are fatal: MPI's default error handler aborts the job. */

void comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
}

void comm_finalize(void)
{
    MPI_Finalize();
}

int comm_agree(int status)
{
    int rank, size, mine, first;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    mine = status ? rank : size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
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
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
}

void comm_sum_u64(uint64_t *buf, size_t n)
{
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
}

void comm_sum_real(Real *buf, size_t n)
{
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_REAL_TYPE, MPI_SUM, MPI_COMM_WORLD);
}

static double reduce_double(double x, MPI_Op op)
{
    double out;
    MPI_Allreduce(&x, &out, 1, MPI_DOUBLE, op, MPI_COMM_WORLD);
    return out;
}

double comm_max_double(double x) { return reduce_double(x, MPI_MAX); }
double comm_min_double(double x) { return reduce_double(x, MPI_MIN); }

static uint64_t reduce_u64(uint64_t x, MPI_Op op)
{
    uint64_t out;
    MPI_Allreduce(&x, &out, 1, MPI_UINT64_T, op, MPI_COMM_WORLD);
    return out;
}

uint64_t comm_min_u64(uint64_t x) { return reduce_u64(x, MPI_MIN); }
uint64_t comm_max_u64(uint64_t x) { return reduce_u64(x, MPI_MAX); }

void comm_bcast(void *buf, size_t n, int root)
{
    MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
}

void comm_gather_bytes(const void *buf, size_t n, void *out)
{
    MPI_Gather(buf, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
}

double comm_time(void)
{
    return MPI_Wtime();
}

void comm_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
