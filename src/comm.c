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
/* The exact sums' allreduce: its communicator (a duplicate of MPI_COMM_WORLD) and scratch. */
static MPI_Comm sum_comm = MPI_COMM_NULL;
static int64_t *sum_tmp; /* the partner's part of a round */
static size_t sum_tmp_n;

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

/* wait_all: completes n nonblocking requests, or fires the watchdog. */
static void wait_all(int n, MPI_Request *req)
{
    double start = MPI_Wtime();
    int done = 0;
    for (unsigned long spins = 1; !done; spins++) {
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (!done && spins % 1024 == 0 && MPI_Wtime() - start > watchdog_seconds)
            watchdog_fire(MPI_Wtime() - start);
    }
}

/* allreduce: in-place MPI_Allreduce under the watchdog. */
static void allreduce(void *buf, size_t n, MPI_Datatype type, MPI_Op op)
{
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, op, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
}

void comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm_dup(MPI_COMM_WORLD, &sum_comm);
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
    if (sum_comm != MPI_COMM_NULL)
        MPI_Comm_free(&sum_comm);
    free(sum_tmp);
    sum_tmp = NULL, sum_tmp_n = 0;
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

/* exchange: sends n_out values from out to rank peer while receiving n_in into sum_tmp
 * (add != 0: then added to in) or straight into in. */
static void exchange(int peer, const int64_t *out, int n_out, int64_t *in, int n_in, int add)
{
    MPI_Request req[2];
    MPI_Irecv(add ? sum_tmp : in, n_in, MPI_INT64_T, peer, 0, sum_comm, &req[0]);
    MPI_Isend(out, n_out, MPI_INT64_T, peer, 0, sum_comm, &req[1]);
    wait_all(2, req);
    if (add)
        for (int i = 0; i < n_in; i++)
            in[i] += sum_tmp[i];
}

/* real_rank: the rank of number v among the power-of-two ranks (the first rem odd ranks,
 * then every rank from 2 rem). */
static int real_rank(int v, int rem)
{
    return v < rem ? 2 * v + 1 : v + rem;
}

/* halving_sum: the power-of-two part of the algorithm; this rank is number me of pof2. */
static void halving_sum(int64_t *buf, int n, int me, int pof2, int rem)
{
    int lo = 0, hi = n, los[32], his[32], level = 0;
    for (int mask = pof2 >> 1; mask > 0; mask >>= 1, level++) { /* reduce-scatter */
        int mid = lo + (hi - lo) / 2, peer = real_rank(me ^ mask, rem);
        los[level] = lo, his[level] = hi;
        if (me & mask) { /* keeps the upper half */
            exchange(peer, buf + lo, mid - lo, buf + mid, hi - mid, 1);
            lo = mid;
        } else {
            exchange(peer, buf + mid, hi - mid, buf + lo, mid - lo, 1);
            hi = mid;
        }
    }
    for (int mask = 1; mask < pof2; mask <<= 1) { /* allgather, the same rounds reversed */
        int plo = los[--level], phi = his[level], peer = real_rank(me ^ mask, rem);
        int olo = lo == plo ? hi : plo, ohi = lo == plo ? phi : lo; /* the partner's part */
        exchange(peer, buf + lo, hi - lo, buf + olo, ohi - olo, 0);
        lo = plo, hi = phi;
    }
}

/* The exact sums' own allreduce (Rabenseifner's: recursive-halving reduce-scatter, then
 * recursive-doubling allgather; ranks beyond the largest power of two first hand their
 * sums to a partner). Integer sums do not depend on the order, so any algorithm gives the
 * same bits; this one moves 2 (P - 1) / P of the message per rank in 2 log2 P rounds
 * (libnbc's in-place MPI_Iallreduce runs a binomial tree: 2 log2 P whole messages, about
 * twice the time at 2 ranks here). Point-to-point messages on sum_comm. */
void comm_sum_i64(int64_t *buf, size_t n)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1 || n == 0)
        return;
    if (sum_tmp_n < n) {
        free(sum_tmp);
        sum_tmp = malloc(n * sizeof *sum_tmp);
        if (!sum_tmp) { /* fatal like an MPI failure: the job cannot go on */
            fprintf(stderr, "downhill: error: rank %d: out of memory for the reduction\n", rank);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        sum_tmp_n = n;
    }
    int pof2 = 1;
    while (pof2 * 2 <= size)
        pof2 *= 2;
    int rem = size - pof2, me = rank - rem;
    if (rank < 2 * rem) { /* pairs (even, odd): the even rank's sums go to the odd one */
        if (rank % 2 == 0) {
            exchange(rank + 1, buf, (int)n, NULL, 0, 0);
            exchange(rank + 1, NULL, 0, buf, (int)n, 0); /* the totals come back */
            return;
        }
        exchange(rank - 1, NULL, 0, buf, (int)n, 1);
        me = rank / 2;
    }
    halving_sum(buf, (int)n, me, pof2, rem);
    if (rank < 2 * rem)
        exchange(rank - 1, buf, (int)n, NULL, 0, 0);
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
    wait_all(1, &req);
}

void comm_gather_bytes(const void *buf, size_t n, void *out)
{
    MPI_Request req;
    MPI_Igather(buf, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
}

double comm_time(void)
{
    return MPI_Wtime();
}
