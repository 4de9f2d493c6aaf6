/* comm.c: the only compilation unit that calls MPI. Every collective here is entered by
 * every rank; errors are agreed through comm_agree before anyone moves on. */
#include "comm/comm.h"
#include "comm/packed.h"

#define _DEFAULT_SOURCE /* sched_yield */
#include <mpi.h>
#include <sched.h>
#include <stdatomic.h>
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
/* The exact sums' allreduce: its communicator (a duplicate of MPI_COMM_WORLD) and scratch. */
static MPI_Comm sum_comm = MPI_COMM_NULL;
static int64_t *sum_tmp; /* the partner's part of a round */
static size_t sum_tmp_n;
/* The packed sums (comm_sum_packed): this rank's sums and the partner's part of a round,
 * each with one more byte (the flag: some rank's sums did not fit), and the calls that fell
 * back to int64. */
static uint8_t *pack_buf, *pack_tmp;
static size_t pack_cap;
static long pack_fallbacks;

/* The node's shared sums: the ranks of one node add each other's sums straight from a
 * shared-memory window (no messages); one rank per node then sums across nodes. */
#define NODE_LINE 128 /* bytes of each rank's arrival counter (its own cache lines) */
typedef struct {
    MPI_Comm node, lead;  /* this node's ranks; node leaders (node rank 0) or MPI_COMM_NULL */
    int me, ranks, nodes; /* node rank, node size, nodes (0: the node path is off) */
    MPI_Win win;          /* per rank: arrival counter, then two sets of `cap` sums */
    size_t cap;           /* sums per set (0 = no window yet) */
    atomic_long **count;  /* each node rank's arrivals */
    int64_t **set[2];     /* each node rank's two sets, used in turn */
    long calls, arrived;  /* this rank's node sums and arrivals so far */
} NodeSum;
static NodeSum ns = {.node = MPI_COMM_NULL, .lead = MPI_COMM_NULL, .win = MPI_WIN_NULL};

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

/* node_init: the node and leader communicators of the node path; the path is on when some
 * node holds two ranks or more and no rank has DOWNHILL_NODE_SUM=0 (then every rank takes
 * it: the sums' algorithm must be the same on all). */
static void node_init(int rank)
{
    const char *env = getenv("DOWNHILL_NODE_SUM");
    int v[2], ok = !(env && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0));
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &ns.node);
    MPI_Comm_rank(ns.node, &ns.me);
    MPI_Comm_size(ns.node, &ns.ranks);
    MPI_Comm_split(MPI_COMM_WORLD, ns.me == 0 ? 0 : MPI_UNDEFINED, rank, &ns.lead);
    v[0] = ns.ranks, v[1] = !ok;
    allreduce(v, 2, MPI_INT, MPI_MAX);
    ns.nodes = ns.me == 0;
    allreduce(&ns.nodes, 1, MPI_INT, MPI_SUM);
    if (v[0] < 2 || v[1])
        ns.nodes = 0;
    ns.count = malloc((size_t)ns.ranks * sizeof *ns.count);
    ns.set[0] = malloc((size_t)ns.ranks * sizeof *ns.set[0]);
    ns.set[1] = malloc((size_t)ns.ranks * sizeof *ns.set[1]);
    if (!ns.count || !ns.set[0] || !ns.set[1]) {
        fprintf(stderr, "downhill: error: rank %d: out of memory for the node sums\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

void comm_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm_dup(MPI_COMM_WORLD, &sum_comm);
    node_init(*rank);
}

int comm_node_ranks(void)
{
    return ns.ranks;
}

void comm_finalize(void)
{
    if (sum_comm != MPI_COMM_NULL)
        MPI_Comm_free(&sum_comm);
    if (ns.win != MPI_WIN_NULL)
        MPI_Win_free(&ns.win);
    if (ns.lead != MPI_COMM_NULL)
        MPI_Comm_free(&ns.lead);
    if (ns.node != MPI_COMM_NULL)
        MPI_Comm_free(&ns.node);
    free(ns.count), free(ns.set[0]), free(ns.set[1]);
    free(sum_tmp);
    sum_tmp = NULL, sum_tmp_n = 0;
    free(pack_buf), free(pack_tmp);
    pack_buf = pack_tmp = NULL, pack_cap = 0;
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
static void exchange(MPI_Comm comm, int peer, const int64_t *out, int n_out, int64_t *in,
                     int n_in, int add)
{
    MPI_Request req[2];
    MPI_Irecv(add ? sum_tmp : in, n_in, MPI_INT64_T, peer, 0, comm, &req[0]);
    MPI_Isend(out, n_out, MPI_INT64_T, peer, 0, comm, &req[1]);
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
static void halving_sum(MPI_Comm comm, int64_t *buf, int n, int me, int pof2, int rem)
{
    int lo = 0, hi = n, los[32], his[32], level = 0;
    for (int mask = pof2 >> 1; mask > 0; mask >>= 1, level++) { /* reduce-scatter */
        int mid = lo + (hi - lo) / 2, peer = real_rank(me ^ mask, rem);
        los[level] = lo, his[level] = hi;
        if (me & mask) { /* keeps the upper half */
            exchange(comm, peer, buf + lo, mid - lo, buf + mid, hi - mid, 1);
            lo = mid;
        } else {
            exchange(comm, peer, buf + mid, hi - mid, buf + lo, mid - lo, 1);
            hi = mid;
        }
    }
    for (int mask = 1; mask < pof2; mask <<= 1) { /* allgather, the same rounds reversed */
        int plo = los[--level], phi = his[level], peer = real_rank(me ^ mask, rem);
        int olo = lo == plo ? hi : plo, ohi = lo == plo ? phi : lo; /* the partner's part */
        exchange(comm, peer, buf + lo, hi - lo, buf + olo, ohi - olo, 0);
        lo = plo, hi = phi;
    }
}

/* rabenseifner: the exact sums' allreduce among the ranks of comm (Rabenseifner's:
 * recursive-halving reduce-scatter, then recursive-doubling allgather; ranks beyond the
 * largest power of two first hand their sums to a partner). Integer sums do not depend on
 * the order, so any algorithm gives the same bits; this one moves 2 (P - 1) / P of the
 * message per rank in 2 log2 P rounds (libnbc's in-place MPI_Iallreduce runs a binomial
 * tree: 2 log2 P whole messages, about twice the time at 2 ranks here). */
static void rabenseifner(MPI_Comm comm, int64_t *buf, size_t n)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
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
            exchange(comm, rank + 1, buf, (int)n, NULL, 0, 0);
            exchange(comm, rank + 1, NULL, 0, buf, (int)n, 0); /* the totals come back */
            return;
        }
        exchange(comm, rank - 1, NULL, 0, buf, (int)n, 1);
        me = rank / 2;
    }
    halving_sum(comm, buf, (int)n, me, pof2, rem);
    if (rank < 2 * rem)
        exchange(comm, rank - 1, buf, (int)n, NULL, 0, 0);
}

/* out_of_memory: fatal like an MPI failure: the job cannot go on. */
static void out_of_memory(const char *what)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "downhill: error: rank %d: out of memory for %s\n", rank, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* pack_room: the packed buffers hold at least `bytes` bytes each. */
static void pack_room(size_t bytes)
{
    if (bytes <= pack_cap)
        return;
    free(pack_buf), free(pack_tmp);
    pack_buf = malloc(bytes), pack_tmp = malloc(bytes);
    if (!pack_buf || !pack_tmp)
        out_of_memory("the packed sums");
    pack_cap = bytes;
}

/* A packed message: `values` packed values at `at`, then the trailer: the int64 count of
 * values past their share of the width, then the side sums (values summed in full). */
typedef struct {
    uint8_t *at;
    int values;
} Part;
typedef struct {
    int64_t *v; /* (1 + n_side): beyond, side sums */
    int n;      /* 1 + n_side */
} Trailer;

/* exchange_packed: sends part out, then the trailer tr (one message, two pieces; values -1:
 * nothing is sent) to rank peer while receiving `in_values` values and the peer's trailer
 * into pack_tmp (in_values -1: nothing is received); the peer's trailer is added to tr when
 * add_trailer, else it replaces it. tr NULL: no trailer either way. */
static void exchange_packed(MPI_Comm comm, int peer, Part out, int in_values, int bytes,
                            Trailer *tr, int add_trailer)
{
    MPI_Request req[2];
    int n = 0, tail = tr ? tr->n * (int)sizeof(int64_t) : 0;
    size_t in_bytes = in_values >= 0 ? (size_t)in_values * (size_t)bytes : 0;
    if (in_values >= 0)
        MPI_Irecv(pack_tmp, (int)in_bytes + tail, MPI_BYTE, peer, 1, comm, &req[n++]);
    MPI_Datatype two = MPI_DATATYPE_NULL;
    if (out.values >= 0) {
        int len[2] = {out.values * bytes, tail};
        MPI_Aint where[2];
        MPI_Get_address(out.at ? (void *)out.at : (void *)pack_buf, &where[0]);
        MPI_Get_address(tr ? (void *)tr->v : (void *)pack_buf, &where[1]);
        MPI_Type_create_hindexed(2, len, where, MPI_BYTE, &two);
        MPI_Type_commit(&two);
        MPI_Isend(MPI_BOTTOM, 1, two, peer, 1, comm, &req[n++]);
    }
    wait_all(n, req);
    if (two != MPI_DATATYPE_NULL)
        MPI_Type_free(&two);
    if (in_values >= 0 && tr)
        for (int k = 0; k < tr->n; k++) {
            int64_t v;
            memcpy(&v, pack_tmp + in_bytes + (size_t)k * sizeof v, sizeof v);
            tr->v[k] = add_trailer ? tr->v[k] + v : v;
        }
}

/* packed_halving: rabenseifner's reduce-scatter on the packed sums; returns with this rank's
 * part [*lo, *hi) summed over all, the trailer summed over all ranks (every round carries
 * it both ways: recursive doubling), and the rounds' bounds. */
static void packed_halving(MPI_Comm comm, int n, int bytes, int me, int pof2, int rem,
                           Trailer *tr, int *lo, int *hi, int *los, int *his)
{
    int level = 0;
    *lo = 0, *hi = n;
    for (int mask = pof2 >> 1; mask > 0; mask >>= 1, level++) {
        int mid = *lo + (*hi - *lo) / 2, peer = real_rank(me ^ mask, rem);
        los[level] = *lo, his[level] = *hi;
        int keep_lo = me & mask ? mid : *lo, keep_hi = me & mask ? *hi : mid;
        int give_lo = me & mask ? *lo : mid, give_hi = me & mask ? mid : *hi;
        exchange_packed(comm, peer, (Part){pack_buf + (size_t)give_lo * bytes, give_hi - give_lo},
                        keep_hi - keep_lo, bytes, tr, 1);
        packed_add(pack_buf + (size_t)keep_lo * bytes, pack_tmp, (size_t)(keep_hi - keep_lo),
                   bytes);
        *lo = keep_lo, *hi = keep_hi;
    }
}

/* packed_gather: rabenseifner's allgather on the packed sums (the halving's rounds
 * reversed): every rank ends with every part. */
static void packed_gather(MPI_Comm comm, int bytes, int me, int pof2, int rem, int lo, int hi,
                          const int *los, const int *his)
{
    int level = 0;
    for (int mask = pof2 >> 1; mask > 0; mask >>= 1)
        level++;
    for (int mask = 1; mask < pof2; mask <<= 1) {
        int plo = los[--level], phi = his[level], peer = real_rank(me ^ mask, rem);
        int olo = lo == plo ? hi : plo, ohi = lo == plo ? phi : lo; /* the partner's part */
        exchange_packed(comm, peer, (Part){pack_buf + (size_t)lo * bytes, hi - lo}, ohi - olo,
                        bytes, NULL, 0);
        memcpy(pack_buf + (size_t)olo * bytes, pack_tmp, (size_t)(ohi - olo) * (size_t)bytes);
        lo = plo, hi = phi;
    }
}

/* rabenseifner_packed: rabenseifner on the n sums of buf packed in `bytes` bytes, the
 * n_side int64 after them (buf[n ..]) summed in full alongside. Returns 0 with everything
 * summed, or -1 on every rank alike with only the side sums summed (buf[0 .. n) untouched)
 * when some rank's values exceeded its share of the width (packed_bound: within it no
 * partial sum of any order can overflow). */
static int rabenseifner_packed(MPI_Comm comm, int64_t *buf, size_t n, int n_side, int bytes)
{
    int rank, size, pof2 = 1, los[32], his[32], lo, hi;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    while (pof2 * 2 <= size)
        pof2 *= 2;
    int rem = size - pof2, me = rank - rem;
    int64_t tv[1 + PACKED_MAX_SIDE];
    Trailer tr = {tv, 1 + n_side};
    pack_room(n * (size_t)bytes + sizeof tv);
    tv[0] = (int64_t)packed_beyond(buf, n, packed_bound(bytes, size));
    memcpy(tv + 1, buf + n, (size_t)n_side * sizeof *tv);
    packed_store(pack_buf, buf, n, bytes);
    Part all = {pack_buf, (int)n}, none = {NULL, -1};
    if (rank < 2 * rem) { /* pairs (even, odd): the even rank's sums go to the odd one */
        if (rank % 2 == 0) {
            exchange_packed(comm, rank + 1, all, -1, bytes, &tr, 1);
            exchange_packed(comm, rank + 1, none, (int)n, bytes, &tr, 0); /* the totals */
            memcpy(buf + n, tv + 1, (size_t)n_side * sizeof *tv);
            if (tv[0])
                return -1;
            packed_load(buf, pack_tmp, n, bytes);
            return 0;
        }
        exchange_packed(comm, rank - 1, none, (int)n, bytes, &tr, 1);
        packed_add(pack_buf, pack_tmp, n, bytes);
        me = rank / 2;
    }
    packed_halving(comm, (int)n, bytes, me, pof2, rem, &tr, &lo, &hi, los, his);
    if (!tv[0]) /* the same on every rank: no gather when the sums go again as int64 */
        packed_gather(comm, bytes, me, pof2, rem, lo, hi, los, his);
    if (rank < 2 * rem)
        exchange_packed(comm, rank - 1, all, -1, bytes, &tr, 0);
    memcpy(buf + n, tv + 1, (size_t)n_side * sizeof *tv);
    if (tv[0])
        return -1;
    packed_load(buf, pack_buf, n, bytes);
    return 0;
}

/* sum_messages: the exact sums of comm's ranks by messages: the n values of buf packed in
 * `bytes` bytes when that is fewer than 8 (again as int64 when they did not fit, on every
 * rank alike), the n_side after them in full. */
static void sum_messages(MPI_Comm comm, int64_t *buf, size_t n, int n_side, int bytes)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size == 1 || n + (size_t)n_side == 0)
        return;
    if (bytes >= 8 || n * (size_t)bytes >= (size_t)INT32_MAX / 2) {
        rabenseifner(comm, buf, n + (size_t)n_side);
        return;
    }
    if (rabenseifner_packed(comm, buf, n, n_side, bytes) == 0)
        return;
    pack_fallbacks++;
    rabenseifner(comm, buf, n);
}

/* node_barrier: every rank of the node has arrived (under the watchdog). */
static void node_barrier(void)
{
    MPI_Request req;
    MPI_Ibarrier(ns.node, &req);
    wait_all(1, &req);
}

/* node_window: makes the node's window hold sets of at least n sums (collective on the
 * node; every rank asks for the same n). The window calls block: a barrier under the
 * watchdog first makes sure every rank of the node is there. */
static void node_window(size_t n)
{
    if (n <= ns.cap)
        return;
    node_barrier();
    if (ns.win != MPI_WIN_NULL)
        MPI_Win_free(&ns.win);
    ns.cap = n < 4096 ? 4096 : n;
    MPI_Aint bytes = (MPI_Aint)(NODE_LINE + 2 * ns.cap * sizeof(int64_t));
    char *mine;
    MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, ns.node, &mine, &ns.win);
    for (int r = 0; r < ns.ranks; r++) {
        MPI_Aint size;
        int unit;
        char *base;
        MPI_Win_shared_query(ns.win, r, &size, &unit, &base);
        ns.count[r] = (atomic_long *)base;
        ns.set[0][r] = (int64_t *)(base + NODE_LINE);
        ns.set[1][r] = ns.set[0][r] + ns.cap;
    }
    atomic_init(ns.count[ns.me], 0);
    ns.arrived = 0;
    node_barrier(); /* no rank reads a counter before its owner has cleared it */
}

/* node_wait: returns once every rank of the node has arrived here as often as this one;
 * what each wrote before is then visible to all. Yields the core after a while (more ranks
 * than cores); the watchdog ends the job when a rank never comes. */
static void node_wait(void)
{
    long target = ++ns.arrived;
    atomic_store_explicit(ns.count[ns.me], target, memory_order_release);
    double start = 0;
    for (int r = 0; r < ns.ranks; r++)
        for (unsigned long spins = 0;
             atomic_load_explicit(ns.count[r], memory_order_acquire) < target; spins++) {
            if (spins < 1024)
                continue;
            sched_yield();
            if (spins == 1024)
                start = MPI_Wtime();
            else if (spins % 1024 == 0 && MPI_Wtime() - start > watchdog_seconds)
                watchdog_fire(MPI_Wtime() - start);
        }
}

/* node_part: the sums [*lo, *hi) node rank r adds up (whole cache lines where it can). */
static void node_part(size_t n, int r, size_t *lo, size_t *hi)
{
    size_t lines = (n + 7) / 8;
    *lo = lines * (size_t)r / (size_t)ns.ranks * 8;
    *hi = lines * (size_t)(r + 1) / (size_t)ns.ranks * 8;
    *lo = *lo < n ? *lo : n;
    *hi = *hi < n ? *hi : n;
}

/* node_give: the parts of buf the other node ranks add, into this rank's set. */
static void node_give(int64_t *const *set, const int64_t *buf, size_t n)
{
    size_t lo, hi;
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            node_part(n, r, &lo, &hi);
            memcpy(set[ns.me] + lo, buf + lo, (hi - lo) * sizeof *buf);
        }
}

/* node_add: this rank's part: the others' sums added to its own in buf, the totals also
 * into its set for the others. */
static void node_add(int64_t *const *set, int64_t *restrict buf, size_t n)
{
    size_t lo, hi;
    node_part(n, ns.me, &lo, &hi);
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            const int64_t *restrict in = set[r];
            for (size_t i = lo; i < hi; i++)
                buf[i] += in[i];
        }
    memcpy(set[ns.me] + lo, buf + lo, (hi - lo) * sizeof *buf);
}

/* node_take: the other node ranks' parts of the totals, from their sets into buf. */
static void node_take(int64_t *const *set, int64_t *buf, size_t n)
{
    size_t lo, hi;
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            node_part(n, r, &lo, &hi);
            memcpy(buf + lo, set[r] + lo, (hi - lo) * sizeof *buf);
        }
}

/* node_sum: comm_sum_i64 through the node's window: each rank gives the others the parts
 * of its sums they add, adds its own part of everyone's, takes the other parts' totals;
 * across nodes the node leaders sum the node totals by rabenseifner and give them back
 * through their set. Two sets used in turn, so a rank one call ahead never writes what
 * another still reads. */
static void node_sum(int64_t *buf, size_t n, int n_side, int bytes)
{
    size_t n_all = n + (size_t)n_side;
    node_window(n_all);
    int64_t *const *set = ns.set[ns.calls++ % 2];
    node_give(set, buf, n_all);
    node_wait();
    node_add(set, buf, n_all);
    node_wait();
    if (ns.nodes == 1) {
        node_take(set, buf, n_all);
        return;
    }
    if (ns.me == 0) {
        node_take(set, buf, n_all);
        sum_messages(ns.lead, buf, n, n_side, bytes);
        memcpy(set[0], buf, n_all * sizeof *buf);
    }
    node_wait();
    if (ns.me != 0)
        memcpy(buf, set[0], n_all * sizeof *buf);
}

void comm_sum_i64(int64_t *buf, size_t n)
{
    comm_sum_packed(buf, n, 0, 8);
}

void comm_sum_packed(int64_t *buf, size_t n, int n_side, int bytes)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1 || n + (size_t)n_side == 0)
        return;
    if (bytes < PACKED_MIN_BYTES || bytes > PACKED_MAX_BYTES || n_side > PACKED_MAX_SIDE ||
        n_side < 0)
        bytes = 8, n += (size_t)(n_side > 0 ? n_side : 0), n_side = 0;
    if (ns.nodes)
        node_sum(buf, n, n_side, bytes);
    else
        sum_messages(sum_comm, buf, n, n_side, bytes);
}

long comm_sum_fallbacks(void)
{
    return pack_fallbacks;
}

int comm_sum_messages(void)
{
    return ns.nodes != 1;
}

const char *comm_sum_path(void)
{
    return ns.nodes == 1 ? "node shared memory"
           : ns.nodes    ? "node shared memory, messages between nodes"
                         : "messages";
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
    wait_all(1, &req);
    for (int r = 0, at = 0; rank == 0 && r < size; at += counts[r], r++) {
        counts[r] = (int)all[r];
        displs[r] = at;
    }
    MPI_Datatype row; /* one row as one element, so counts are rows, not bytes */
    MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Igatherv(buf, (int)rows, row, out, counts, displs, row, 0, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
    MPI_Type_free(&row);
    free(all);
    free(counts);
    free(displs);
}

double comm_time(void)
{
    return MPI_Wtime();
}
