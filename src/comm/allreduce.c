/* allreduce.c: the sums of many values over all ranks, as jobs that start, move on in small
 * steps between the caller's work (comm_progress) and are waited for under the watchdog
 * (comm.h: comm_sum_start). Exact int64 sums: the ranks of one node add each other's in a
 * shared-memory window; across nodes (or with DOWNHILL_NODE_SUM=0) downhill's own
 * Rabenseifner allreduce by messages, packed to fewer bytes a value with an int64 fallback
 * agreed by all. Float sums: MPI_Iallreduce. Jobs finish in the order they started; every
 * rank starts the same jobs in the same order. */
#define _DEFAULT_SOURCE /* sched_yield */
#include "comm/comm.h"
#include "comm/packed.h"
#include "comm_mpi.h"

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

/* ---- The node's shared sums ---- */

/* The ranks of one node add each other's sums straight from a shared-memory window (no
 * messages); one rank per node (the leader) then sums across nodes. Each rank's part of the
 * window: three arrival counters (own cache lines), then two sets of `cap` sums; a batch of
 * jobs (those started between two moments the caller had waited for all) uses one set, the
 * next batch the other, so a rank one batch ahead never writes what another still reads. */
#define NODE_LINE 64 /* bytes of each counter */
enum { NODE_GIVEN, NODE_ADDED, NODE_LED, NODE_COUNTERS };
typedef struct {
    MPI_Comm node, lead;  /* this node's ranks; node leaders (node rank 0) or MPI_COMM_NULL */
    int me, ranks, nodes; /* node rank, node size, nodes (0: the node path is off) */
    MPI_Win win;          /* per rank: counters, then two sets of `cap` sums */
    size_t cap;           /* sums per set (0 = no window yet) */
    atomic_long **count;  /* each node rank's counters (NODE_COUNTERS, NODE_LINE apart) */
    int64_t **set[2];     /* each node rank's two sets */
    long jobs;            /* node jobs started since the window was made (their numbers) */
    long batches;         /* batches so far (the set of the current one: batches % 2) */
    size_t batch_off;     /* sums the current batch's jobs take in its set so far */
    size_t reserved;      /* comm_sum_reserve's size */
} NodeSum;
static NodeSum ns = {.node = MPI_COMM_NULL, .lead = MPI_COMM_NULL, .win = MPI_WIN_NULL};

/* The exact sums' communicator between ranks (a duplicate of MPI_COMM_WORLD). */
static MPI_Comm sum_comm = MPI_COMM_NULL;

/* counter: node rank r's counter c. */
static atomic_long *counter(int r, int c)
{
    return (atomic_long *)((char *)ns.count[r] + (size_t)c * NODE_LINE);
}

/* node_allreduce: a small blocking allreduce of ints under the watchdog (start-up). */
static void node_allreduce(int *v, int n, MPI_Op op)
{
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_INT, op, MPI_COMM_WORLD, &req);
    comm_wait_all(1, &req);
}

void allreduce_init(int rank)
{
    MPI_Comm_dup(MPI_COMM_WORLD, &sum_comm);
    /* the node path is on when some node holds two ranks or more and no rank has
     * DOWNHILL_NODE_SUM=0 (then every rank takes it: the algorithm must be the same on all) */
    const char *env = getenv("DOWNHILL_NODE_SUM");
    int v[2], ok = !(env && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0));
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &ns.node);
    MPI_Comm_rank(ns.node, &ns.me);
    MPI_Comm_size(ns.node, &ns.ranks);
    MPI_Comm_split(MPI_COMM_WORLD, ns.me == 0 ? 0 : MPI_UNDEFINED, rank, &ns.lead);
    v[0] = ns.ranks, v[1] = !ok;
    node_allreduce(v, 2, MPI_MAX);
    ns.nodes = ns.me == 0;
    node_allreduce(&ns.nodes, 1, MPI_SUM);
    if (v[0] < 2 || v[1])
        ns.nodes = 0;
    ns.count = malloc((size_t)ns.ranks * sizeof *ns.count);
    ns.set[0] = malloc((size_t)ns.ranks * sizeof *ns.set[0]);
    ns.set[1] = malloc((size_t)ns.ranks * sizeof *ns.set[1]);
    if (!ns.count || !ns.set[0] || !ns.set[1])
        comm_fatal_memory("the node sums");
}

int comm_node_ranks(void)
{
    return ns.ranks;
}

/* node_barrier: every rank of the node has arrived (under the watchdog). */
static void node_barrier(void)
{
    MPI_Request req;
    MPI_Ibarrier(ns.node, &req);
    comm_wait_all(1, &req);
}

/* node_window: makes the node's window hold sets of at least n sums (collective on the
 * node, with no job in flight; every rank asks for the same n). The window calls block: a
 * barrier under the watchdog first makes sure every rank of the node is there. */
static void node_window(size_t n)
{
    if (n <= ns.cap)
        return;
    node_barrier();
    if (ns.win != MPI_WIN_NULL)
        MPI_Win_free(&ns.win);
    ns.cap = n < 4096 ? 4096 : n;
    MPI_Aint head = NODE_COUNTERS * NODE_LINE;
    MPI_Aint bytes = (MPI_Aint)(head + 2 * ns.cap * sizeof(int64_t));
    char *mine;
    MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, ns.node, &mine, &ns.win);
    for (int r = 0; r < ns.ranks; r++) {
        MPI_Aint size;
        int unit;
        char *base;
        MPI_Win_shared_query(ns.win, r, &size, &unit, &base);
        ns.count[r] = (atomic_long *)base;
        ns.set[0][r] = (int64_t *)(base + head);
        ns.set[1][r] = ns.set[0][r] + ns.cap;
    }
    for (int c = 0; c < NODE_COUNTERS; c++)
        atomic_init(counter(ns.me, c), 0);
    ns.jobs = 0;
    node_barrier(); /* no rank reads a counter before its owner has cleared it */
}

/* node_all_reached: whether every node rank's counter c is at least target (the leader's
 * only when leader_only). */
static int node_all_reached(int c, long target, int leader_only)
{
    for (int r = 0; r < (leader_only ? 1 : ns.ranks); r++)
        if (atomic_load_explicit(counter(r, c), memory_order_acquire) < target)
            return 0;
    return 1;
}

/* node_arrive: this rank's counter c is now `value`; what it wrote before is visible to
 * whoever sees it. */
static void node_arrive(int c, long value)
{
    atomic_store_explicit(counter(ns.me, c), value, memory_order_release);
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

/* node_give: the parts of buf the other node ranks add, into this rank's set (at off). */
static void node_give(int64_t *const *set, size_t off, const int64_t *buf, size_t n)
{
    size_t lo, hi;
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            node_part(n, r, &lo, &hi);
            memcpy(set[ns.me] + off + lo, buf + lo, (hi - lo) * sizeof *buf);
        }
}

/* node_add: this rank's part: the others' sums added to its own in buf, the totals also
 * into its set for the others. */
static void node_add(int64_t *const *set, size_t off, int64_t *restrict buf, size_t n)
{
    size_t lo, hi;
    node_part(n, ns.me, &lo, &hi);
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            const int64_t *restrict in = set[r] + off;
            for (size_t i = lo; i < hi; i++)
                buf[i] += in[i];
        }
    memcpy(set[ns.me] + off + lo, buf + lo, (hi - lo) * sizeof *buf);
}

/* node_take: the other node ranks' parts of the totals, from their sets into buf. */
static void node_take(int64_t *const *set, size_t off, int64_t *buf, size_t n)
{
    size_t lo, hi;
    for (int r = 0; r < ns.ranks; r++)
        if (r != ns.me) {
            node_part(n, r, &lo, &hi);
            memcpy(buf + lo, set[r] + off + lo, (hi - lo) * sizeof *buf);
        }
}

/* ---- The sums by messages (Rabenseifner's algorithm, packed), one job at a time ---- */

/* One round of a job's messages with one peer. Value ranges count packed values. */
typedef struct {
    int peer;
    int s_lo, s_n; /* values sent from s_lo; s_n < 0: nothing sent */
    int r_lo, r_n; /* values received for [r_lo, r_lo + r_n); r_n < 0: nothing received */
    int add;       /* the received values are added (else they replace) */
    int trailer;   /* the trailer goes along (sent when sending, received when receiving) */
    int tr_add;    /* a received trailer is combined with ours (else it replaces ours) */
    int gather;    /* an allgather round: skipped when some value did not fit */
} Round;

/* The trailer: the count of values past their share of the width (summed), the side sums
 * (summed), then each block's largest |value| of any participant (the maximum). */
enum { TR_BEYOND, TR_SIDE, ROUNDS_MAX = 72 };

/* The job in messages now: rabenseifner on the n sums of buf, packed block by block in the
 * blocks' widths (or the int64 values themselves, no trailer), the n_side after them summed
 * in full in the trailer. */
typedef struct {
    MPI_Comm comm;
    int64_t *buf;
    size_t n;
    int n_side, tn;   /* tn: trailer values (0: none, int64) */
    int packed;       /* the values go in the blocks' widths (else as int64) */
    const uint8_t *w; /* packed: each block's width in bytes */
    size_t nb;        /* packed: blocks */
    size_t *off;      /* packed: block b's bytes start at off[b] (off[nb]: all of them) */
    uint8_t *at;      /* the packed values: pack_buf, or buf itself as int64 */
    int64_t *tv;      /* the trailer (tn values) */
    int peak_at;      /* where the blocks' peaks start in tv; -1: none sent packed */
    Round r[ROUNDS_MAX];
    int nr, next, posted, nreq;
    MPI_Request req[2];
    MPI_Datatype two;
    int fell_back; /* the packed attempt did not fit: this is the int64 one */
} Msg;
static Msg msg;
static uint8_t *pack_buf, *pack_tmp; /* this rank's packed sums; a round's received part */
static size_t pack_cap, tmp_cap;
static uint8_t *same_width;          /* comm_sum_start's one width for every block */
static size_t *block_off;            /* msg.off */
static int64_t *trail;               /* msg.tv */
static size_t width_cap, off_cap, trail_cap; /* their room, in items */
static long pack_fallbacks;
static long long sum_sent; /* bytes sent by this rank's exact sums */

/* grow: *p holds at least `want` items of `size` bytes (its room *cap, in items); the
 * contents are not kept. */
static void grow(void **p, size_t *cap, size_t want, size_t size, const char *what)
{
    if (want <= *cap)
        return;
    free(*p);
    *p = malloc(want * size);
    if (!*p)
        comm_fatal_memory(what);
    *cap = want;
}

/* pack_room: the packed buffers hold at least `bytes` bytes each. */
static void pack_room(size_t bytes)
{
    grow((void **)&pack_buf, &pack_cap, bytes, 1, "the packed sums");
    grow((void **)&pack_tmp, &tmp_cap, bytes, 1, "the packed sums");
}

/* blocks_room: room for nb blocks' widths and offsets, and a trailer of tn values. */
static void blocks_room(size_t nb, size_t tn)
{
    grow((void **)&same_width, &width_cap, nb, 1, "the packed widths");
    grow((void **)&block_off, &off_cap, nb + 1, sizeof *block_off, "the packed offsets");
    grow((void **)&trail, &trail_cap, tn, sizeof *trail, "the packed trailer");
}

/* value_at: where value i (0 <= i <= n) of the job starts in its bytes. */
static size_t value_at(const Msg *m, size_t i)
{
    if (!m->packed)
        return i * sizeof(int64_t);
    size_t b = i / PACKED_BLOCK;
    return b >= m->nb ? m->off[m->nb] : m->off[b] + (i - b * PACKED_BLOCK) * m->w[b];
}

/* block_len: how many values block b of the job holds. */
static size_t block_len(const Msg *m, size_t b)
{
    size_t lo = b * PACKED_BLOCK;
    return m->n - lo < PACKED_BLOCK ? m->n - lo : PACKED_BLOCK;
}

/* real_rank: the rank of number v among the power-of-two ranks (the first rem odd ranks,
 * then every rank from 2 rem). */
static int real_rank(int v, int rem)
{
    return v < rem ? 2 * v + 1 : v + rem;
}

static void add_round(Msg *m, Round r)
{
    m->r[m->nr++] = r;
}

/* msg_rounds: the rounds of this rank: ranks beyond the largest power of two pof2 first
 * hand their sums to a partner (even to odd) and get the totals back; among pof2 ranks a
 * recursive-halving reduce-scatter (the trailer combined both ways: recursive doubling),
 * then the recursive-doubling allgather (the same rounds reversed). */
static void msg_rounds(Msg *m, int rank, int size)
{
    int n = (int)m->n, tr = m->tn > 0, pof2 = 1, los[32], his[32], level = 0;
    while (pof2 * 2 <= size)
        pof2 *= 2;
    int rem = size - pof2, me = rank - rem, lo = 0, hi = n;
    m->nr = m->next = 0;
    if (rank < 2 * rem) {
        if (rank % 2 == 0) {
            add_round(m, (Round){rank + 1, 0, n, 0, -1, 0, tr, 1, 0});
            add_round(m, (Round){rank + 1, 0, -1, 0, n, 0, tr, 0, 0}); /* the totals */
            return;
        }
        add_round(m, (Round){rank - 1, 0, -1, 0, n, 1, tr, 1, 0});
        me = rank / 2;
    }
    for (int mask = pof2 >> 1; mask > 0; mask >>= 1, level++) {
        int mid = lo + (hi - lo) / 2, peer = real_rank(me ^ mask, rem);
        los[level] = lo, his[level] = hi;
        int keep_lo = me & mask ? mid : lo, keep_hi = me & mask ? hi : mid;
        int give_lo = me & mask ? lo : mid, give_hi = me & mask ? mid : hi;
        add_round(m, (Round){peer, give_lo, give_hi - give_lo, keep_lo, keep_hi - keep_lo, 1,
                             tr, 1, 0});
        lo = keep_lo, hi = keep_hi;
    }
    for (int mask = 1; mask < pof2; mask <<= 1) {
        int plo = los[--level], phi = his[level], peer = real_rank(me ^ mask, rem);
        int olo = lo == plo ? hi : plo, ohi = lo == plo ? phi : lo; /* the partner's part */
        add_round(m, (Round){peer, lo, hi - lo, olo, ohi - olo, 0, 0, 0, 1});
        lo = plo, hi = phi;
    }
    if (rank < 2 * rem)
        add_round(m, (Round){rank - 1, 0, n, 0, -1, 0, tr, 0, 0});
}

/* msg_pack: buf's n values packed block by block in the widths w (each block's share of
 * its width, packed_bound, checked and its peak taken), the side sums into the trailer. */
static void msg_pack(Msg *m, const uint8_t *w, int size)
{
    m->packed = 1, m->w = w, m->nb = packed_blocks(m->n);
    m->tn = TR_SIDE + m->n_side + (int)m->nb;
    blocks_room(m->nb, (size_t)m->tn);
    m->off = block_off, m->tv = trail, m->peak_at = TR_SIDE + m->n_side;
    m->off[0] = 0;
    for (size_t b = 0; b < m->nb; b++)
        m->off[b + 1] = m->off[b] + block_len(m, b) * w[b];
    pack_room(m->off[m->nb] + (size_t)m->tn * sizeof *m->tv);
    int64_t beyond = 0;
    for (size_t b = 0; b < m->nb; b++) {
        const int64_t *v = m->buf + b * PACKED_BLOCK;
        beyond += (int64_t)packed_scan(v, block_len(m, b), packed_bound(w[b], size),
                                       &m->tv[m->peak_at + (int)b]);
        packed_store(pack_buf + m->off[b], v, block_len(m, b), w[b]);
    }
    m->tv[TR_BEYOND] = beyond;
    memcpy(m->tv + TR_SIDE, m->buf + m->n, (size_t)m->n_side * sizeof *m->buf);
    m->at = pack_buf;
}

/* msg_begin: the job on buf starts: packs it in the blocks' widths w (NULL: as int64) and
 * lays out the rounds. */
static void msg_begin(MPI_Comm comm, int64_t *buf, size_t n, int n_side, const uint8_t *w)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    Msg *m = &msg;
    m->comm = comm, m->buf = buf, m->n = n, m->n_side = n_side;
    m->posted = 0, m->two = MPI_DATATYPE_NULL;
    size_t most = 0; /* the packed bytes, at most */
    for (size_t b = 0; w && b < packed_blocks(n); b++)
        most += (size_t)w[b] * PACKED_BLOCK;
    if (!w || most >= (size_t)INT32_MAX / 2) { /* plain int64 (counts are ints) */
        m->packed = 0, m->n = n + (size_t)n_side, m->n_side = 0, m->tn = 0;
        m->at = (uint8_t *)buf;
        pack_room(m->n * 8 + 8);
    } else {
        msg_pack(m, w, size);
    }
    msg_rounds(m, rank, size);
}

/* msg_post: posts the current round's receive and send. */
static void msg_post(Msg *m)
{
    const Round *r = &m->r[m->next];
    int tail = r->trailer ? m->tn * (int)sizeof(int64_t) : 0;
    /* int64 values go by count (counts are ints: up to 2^31 values); packed ones in bytes
     * (msg_begin packs only below 2^30 bytes) */
    MPI_Datatype unit = m->packed ? MPI_BYTE : MPI_INT64_T;
    m->nreq = 0;
    if (r->r_n >= 0) {
        size_t from = value_at(m, (size_t)r->r_lo);
        int count = m->packed ? (int)(value_at(m, (size_t)(r->r_lo + r->r_n)) - from) : r->r_n;
        void *into = !r->add && !tail ? (void *)(m->at + from) : (void *)pack_tmp;
        MPI_Irecv(into, count + tail, unit, r->peer, 1, m->comm, &m->req[m->nreq++]);
    }
    if (r->s_n >= 0) {
        size_t from = value_at(m, (size_t)r->s_lo), bytes = value_at(m, (size_t)(r->s_lo + r->s_n)) - from;
        if (tail) { /* one message, two pieces */
            int len[2] = {(int)bytes, tail};
            MPI_Aint where[2];
            MPI_Get_address(m->at + from, &where[0]);
            MPI_Get_address(m->tv, &where[1]);
            MPI_Type_create_hindexed(2, len, where, MPI_BYTE, &m->two);
            MPI_Type_commit(&m->two);
            MPI_Isend(MPI_BOTTOM, 1, m->two, r->peer, 1, m->comm, &m->req[m->nreq++]);
        } else {
            MPI_Isend(m->at + from, m->packed ? (int)bytes : r->s_n, unit, r->peer, 1, m->comm,
                      &m->req[m->nreq++]);
        }
        sum_sent += (long long)bytes + tail;
    }
    m->posted = 1;
}

/* msg_add: values [lo, lo + n) of the job += the received ones at `in`, block by block. */
static void msg_add(Msg *m, size_t lo, size_t n, const uint8_t *in)
{
    size_t base = value_at(m, lo);
    if (!m->packed) {
        packed_add(m->at + base, in, n, 8);
        return;
    }
    for (size_t i = lo, end = lo + n; i < end;) {
        size_t b = i / PACKED_BLOCK, stop = (b + 1) * PACKED_BLOCK < end ? (b + 1) * PACKED_BLOCK : end;
        size_t at = value_at(m, i);
        packed_add(m->at + at, in + (at - base), stop - i, m->w[b]);
        i = stop;
    }
}

/* msg_apply: the current round's received values (and trailer) into the job's sums. */
static void msg_apply(Msg *m)
{
    const Round *r = &m->r[m->next];
    if (m->two != MPI_DATATYPE_NULL)
        MPI_Type_free(&m->two);
    m->posted = 0;
    if (r->r_n < 0)
        return;
    size_t from = value_at(m, (size_t)r->r_lo);
    size_t in_bytes = value_at(m, (size_t)(r->r_lo + r->r_n)) - from;
    if (r->add)
        msg_add(m, (size_t)r->r_lo, (size_t)r->r_n, pack_tmp);
    else if (r->trailer)
        memcpy(m->at + from, pack_tmp, in_bytes);
    if (!r->trailer)
        return;
    for (int k = 0; k < m->tn; k++) {
        int64_t v;
        memcpy(&v, pack_tmp + in_bytes + (size_t)k * sizeof v, sizeof v);
        if (!r->tr_add)
            m->tv[k] = v;
        else if (k >= m->peak_at)
            m->tv[k] = v > m->tv[k] ? v : m->tv[k];
        else
            m->tv[k] += v;
    }
}

/* msg_finish: after the last round: the sums unpacked into buf; 1 when done, 0 when the
 * packed values did not fit on some rank (all alike) and the job starts again as int64. */
static int msg_finish(Msg *m)
{
    if (!m->tn)
        return 1;
    memcpy(m->buf + m->n, m->tv + TR_SIDE, (size_t)m->n_side * sizeof *m->buf);
    if (m->tv[TR_BEYOND]) {
        pack_fallbacks++;
        msg_begin(m->comm, m->buf, m->n, 0, NULL); /* the side totals are in buf already */
        m->fell_back = 1;
        return 0;
    }
    for (size_t b = 0; b < m->nb; b++)
        packed_load(m->buf + b * PACKED_BLOCK, m->at + m->off[b], block_len(m, b), m->w[b]);
    return 1;
}

/* msg_progress: moves the job in messages on as far as it goes without waiting; 1 when
 * it is done. */
static int msg_progress(Msg *m)
{
    for (;;) {
        while (m->next < m->nr && !m->posted) {
            if (m->r[m->next].gather && m->tn && m->tv[TR_BEYOND]) {
                m->next++; /* the same on every rank: no gather when the sums go again */
                continue;
            }
            msg_post(m);
        }
        if (m->next == m->nr) {
            if (msg_finish(m))
                return 1;
            continue;
        }
        int done = 0;
        MPI_Testall(m->nreq, m->req, &done, MPI_STATUSES_IGNORE);
        if (!done)
            return 0;
        msg_apply(m);
        m->next++;
    }
}

/* ---- Jobs ---- */

enum { JOBS_MAX = 64 };
typedef enum { JOB_EXACT, JOB_REAL } JobKind;
typedef enum { JOB_WAITING, JOB_NODE_ADD, JOB_NODE_TAKE, JOB_LEAD, JOB_FOLLOW, JOB_MESSAGES,
               JOB_DONE } Stage;

typedef struct {
    JobKind kind;
    Stage stage;
    int64_t *buf; /* exact: n values packed in `bytes` (0: in widths), then n_side in full */
    size_t n;
    int n_side, bytes;
    const uint8_t *widths; /* bytes 0: each block's width (the caller's) */
    int64_t *peaks;        /* where the blocks' peaks go at the end (the caller's), or NULL */
    Real *fbuf; /* float: n values */
    MPI_Request freq;
    size_t off;  /* node window: where the job's sums are in the batch's set */
    int set;     /* the batch's set */
    long seq;    /* the job's number among the node's (its counters' target) */
    int64_t peak; /* messages: the largest |value| any participant sent packed, or -1 */
} Job;

static Job jobs[JOBS_MAX];
static long jobs_started, jobs_done; /* tickets: jobs_done <= ticket < jobs_started in flight */
static long waits;                   /* the caller's comm_sum_wait calls */

/* job_begin_messages: the job's sums go by messages among comm's ranks now: as int64
 * (bytes 8), in one width, or in the blocks' widths. */
static void job_begin_messages(Job *j, MPI_Comm comm)
{
    j->stage = JOB_MESSAGES;
    msg.fell_back = 0;
    msg.peak_at = -1;
    const uint8_t *w = j->widths;
    if (j->bytes != 0 && j->bytes < 8) {
        size_t nb = packed_blocks(j->n);
        blocks_room(nb, 0);
        memset(same_width, j->bytes, nb);
        w = same_width;
    }
    msg_begin(comm, j->buf, j->n, j->n_side, j->bytes == 8 ? NULL : w);
}

/* job_end_messages: what the messages found, once they are done: the largest |value| any
 * participant sent packed, overall (j->peak) and by block (into j->peaks). */
static void job_end_messages(Job *j)
{
    if (msg.peak_at < 0)
        return;
    j->peak = 0;
    for (size_t b = 0; b < msg.nb; b++) {
        int64_t p = msg.tv[msg.peak_at + (int)b];
        j->peak = p > j->peak ? p : j->peak;
        if (j->peaks)
            j->peaks[b] = p;
    }
}

/* job_advance: moves the oldest job on as far as it goes without waiting; 1 when done. */
static int job_advance(Job *j)
{
    int64_t *const *set = ns.set[j->set];
    size_t n_all = j->n + (size_t)j->n_side;
    int done = 0;
    switch (j->stage) {
    case JOB_WAITING: /* by messages only: it starts when the ones before are done */
        job_begin_messages(j, sum_comm);
        return job_advance(j);
    case JOB_NODE_ADD:
        if (!node_all_reached(NODE_GIVEN, j->seq, 0))
            return 0;
        node_add(set, j->off, j->buf, n_all);
        node_arrive(NODE_ADDED, j->seq);
        j->stage = JOB_NODE_TAKE;
        return job_advance(j);
    case JOB_NODE_TAKE:
        if (!node_all_reached(NODE_ADDED, j->seq, 0))
            return 0;
        if (ns.nodes == 1 || ns.me == 0)
            node_take(set, j->off, j->buf, n_all);
        if (ns.nodes == 1) {
            j->stage = JOB_DONE;
            return 1;
        }
        if (ns.me != 0) {
            j->stage = JOB_FOLLOW;
            return job_advance(j);
        }
        job_begin_messages(j, ns.lead);
        j->stage = JOB_LEAD;
        return job_advance(j);
    case JOB_LEAD:
        if (!msg_progress(&msg))
            return 0;
        job_end_messages(j);
        memcpy(set[0] + j->off, j->buf, n_all * sizeof *j->buf);
        node_arrive(NODE_LED, j->seq);
        j->stage = JOB_DONE;
        return 1;
    case JOB_FOLLOW:
        if (!node_all_reached(NODE_LED, j->seq, 1))
            return 0;
        memcpy(j->buf, set[0] + j->off, n_all * sizeof *j->buf);
        j->stage = JOB_DONE;
        return 1;
    case JOB_MESSAGES:
        if (j->kind == JOB_REAL) {
            MPI_Test(&j->freq, &done, MPI_STATUS_IGNORE);
            j->stage = done ? JOB_DONE : JOB_MESSAGES;
            return done;
        }
        if (!msg_progress(&msg))
            return 0;
        job_end_messages(j);
        j->stage = JOB_DONE;
        return 1;
    case JOB_DONE:
        return 1;
    }
    return 1;
}

void comm_progress(void)
{
    while (jobs_done < jobs_started && job_advance(&jobs[jobs_done % JOBS_MAX]))
        jobs_done++;
}

/* job_wait: waits until job `ticket` is done, under the watchdog; yields the core after a
 * while (more ranks than cores). */
static void job_wait(long ticket)
{
    double start = 0;
    for (unsigned long spins = 0; jobs_done <= ticket; spins++) {
        comm_progress();
        if (jobs_done > ticket || spins < 1024)
            continue;
        sched_yield();
        if (spins == 1024)
            start = MPI_Wtime();
        else if (spins % 1024 == 0)
            comm_watchdog_due(start);
    }
}

/* job_new: a slot for a new job (waiting for the oldest when all are in flight). */
static Job *job_new(void)
{
    if (jobs_started - jobs_done == JOBS_MAX)
        job_wait(jobs_done);
    Job *j = &jobs[jobs_started % JOBS_MAX];
    memset(j, 0, sizeof *j);
    j->peak = -1;
    return j;
}

/* job_node_start: the node path's first step, at once: this rank's sums given to the
 * others through its set (the batch's set, at the batch's next free place). */
static void job_node_start(Job *j)
{
    size_t n_all = j->n + (size_t)j->n_side;
    if (waits == jobs_started) { /* a new batch: nothing in flight, the same on every rank */
        node_window(n_all > ns.reserved ? n_all : ns.reserved);
        ns.batches++;
        ns.batch_off = 0;
    }
    if (ns.batch_off + n_all > ns.cap) {
        fprintf(stderr, "downhill: error: the jobs of one batch hold more than the %zu sums "
                        "comm_sum_reserve made room for\n", ns.cap);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    j->set = (int)(ns.batches % 2);
    j->off = ns.batch_off;
    ns.batch_off += n_all;
    j->seq = ++ns.jobs;
    node_give(ns.set[j->set], j->off, j->buf, n_all);
    node_arrive(NODE_GIVEN, j->seq);
    j->stage = JOB_NODE_ADD;
}

/* sum_start: comm_sum_start in one width (bytes 2..8) or, with bytes 0, in the widths. */
static long sum_start(int64_t *buf, size_t n, int n_side, int bytes, const uint8_t *widths,
                      int64_t *peaks)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Job *j = job_new();
    if ((bytes != 0 && (bytes < PACKED_MIN_BYTES || bytes > PACKED_MAX_BYTES)) ||
        n_side > PACKED_MAX_SIDE || n_side < 0)
        bytes = 8, n += (size_t)(n_side > 0 ? n_side : 0), n_side = 0;
    *j = (Job){.kind = JOB_EXACT, .stage = JOB_DONE, .buf = buf, .n = n, .n_side = n_side,
               .bytes = bytes, .widths = widths, .peaks = peaks, .peak = -1};
    if (size > 1 && n + (size_t)n_side > 0) {
        if (ns.nodes)
            job_node_start(j);
        else
            j->stage = JOB_WAITING;
    }
    long ticket = jobs_started++;
    comm_progress();
    return ticket;
}

long comm_sum_start(int64_t *buf, size_t n, int n_side, int bytes)
{
    return sum_start(buf, n, n_side, bytes, NULL, NULL);
}

long comm_sum_start_blocks(int64_t *buf, size_t n, int n_side, const uint8_t *widths,
                           int64_t *peaks)
{
    for (size_t b = 0; b < packed_blocks(n); b++)
        if (widths[b] < PACKED_MIN_BYTES || widths[b] > PACKED_MAX_BYTES)
            return sum_start(buf, n, n_side, 8, NULL, NULL);
    return sum_start(buf, n, n_side, 0, widths, peaks);
}

long comm_real_start(Real *buf, size_t n)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Job *j = job_new();
    *j = (Job){.kind = JOB_REAL, .stage = JOB_DONE, .fbuf = buf, .n = n, .peak = -1};
    if (size > 1 && n > 0) {
        MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_REAL_TYPE, MPI_SUM, MPI_COMM_WORLD,
                       &j->freq);
        j->stage = JOB_MESSAGES;
    }
    long ticket = jobs_started++;
    comm_progress();
    return ticket;
}

int64_t comm_sum_wait(long ticket)
{
    job_wait(ticket);
    waits++;
    return jobs[ticket % JOBS_MAX].peak;
}

void comm_sum_reserve(size_t n)
{
    if (ns.nodes && waits == jobs_started)
        node_window(n);
    ns.reserved = n;
}

void comm_sum_i64(int64_t *buf, size_t n)
{
    comm_sum_wait(comm_sum_start(buf, n, 0, 8));
}

void comm_sum_packed(int64_t *buf, size_t n, int n_side, int bytes)
{
    comm_sum_wait(comm_sum_start(buf, n, n_side, bytes));
}

/* participants: how many take part in the sums by messages (ranks, or node leaders). */
static int participants(void)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return ns.nodes ? ns.nodes : size;
}

int comm_sum_auto_bytes(int64_t peak)
{
    if (peak < 0)
        return COMM_AUTO_FIRST_BYTES;
    for (int bytes = PACKED_MIN_BYTES; bytes < 8; bytes++)
        if (packed_bound(bytes, participants()) / 2 >= peak)
            return bytes;
    return 8;
}

long comm_sum_fallbacks(void)
{
    return pack_fallbacks;
}

long long comm_sum_sent(void)
{
    return sum_sent;
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

void allreduce_finalize(void)
{
    if (jobs_done < jobs_started)
        job_wait(jobs_started - 1);
    if (sum_comm != MPI_COMM_NULL)
        MPI_Comm_free(&sum_comm);
    if (ns.win != MPI_WIN_NULL)
        MPI_Win_free(&ns.win);
    if (ns.lead != MPI_COMM_NULL)
        MPI_Comm_free(&ns.lead);
    if (ns.node != MPI_COMM_NULL)
        MPI_Comm_free(&ns.node);
    free(ns.count), free(ns.set[0]), free(ns.set[1]);
    free(pack_buf), free(pack_tmp), free(same_width), free(block_off), free(trail);
    pack_buf = pack_tmp = same_width = NULL, block_off = NULL, trail = NULL;
    pack_cap = tmp_cap = width_cap = off_cap = trail_cap = 0;
}
