/* comm.h: everything that talks between ranks; the only module that includes <mpi.h>.
 * Other modules get rank and size as plain integers. */
#ifndef DOWNHILL_COMM_H
#define DOWNHILL_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"

/* comm_init: starts MPI (also works without mpirun: one rank); fills rank and size. */
void comm_init(int *argc, char ***argv, int *rank, int *size);

/* comm_node_ranks: how many ranks share this rank's node (shared memory). */
int comm_node_ranks(void);

/* comm_finalize: shuts MPI down; call once on every rank before exiting. */
void comm_finalize(void);

/* comm_set_watchdog: a collective that waits longer than `seconds` makes this rank print
 * its rank, host, phase and step and abort the job (exit code 3). Default 600 s. */
void comm_set_watchdog(double seconds);

/* comm_set_phase: names what this rank does now (a static string), for the watchdog. */
void comm_set_phase(const char *name, int64_t step);

/* comm_agree: all ranks pass their status (0 ok, non-zero failed); returns the lowest
 * failing rank, or -1 when every rank succeeded. The one collective for errors. */
int comm_agree(int status);

/* comm_check: comm_agree on status; returns 0 when every rank succeeded, else -1 on
 * every rank, with e->msg kept only on the lowest failing rank (emptied elsewhere) so
 * the error is printed once. */
int comm_check(int status, Err *e);

/* comm_sum_i64: element-wise integer sum of buf over all ranks, in place (exact). Ranks of
 * one node add each other's sums in a shared-memory window; across nodes (or with
 * DOWNHILL_NODE_SUM=0) downhill's own Rabenseifner allreduce; all under the watchdog. */
void comm_sum_i64(int64_t *buf, size_t n);

/* comm_sum_packed: comm_sum_i64 of n + n_side values (n_side <= PACKED_MAX_SIDE), where
 * between nodes (or by messages) the first n travel in `bytes` bytes each (2..8; 8: int64)
 * when every rank's values fit its share of that width (packed_bound), else all ranks send
 * them again as int64 (the totals are the same either way); the n_side after them travel in
 * full inside the same messages. Within a node's shared window all stay int64. */
void comm_sum_packed(int64_t *buf, size_t n, int n_side, int bytes);

/* Nonblocking sums, as jobs (buckets): a job starts at once, moves on whenever this rank
 * calls comm_progress (or another comm_sum_* call) and is done after comm_sum_wait. Jobs
 * finish in the order they started; every rank starts the same jobs in the same order with
 * the same n and n_side, and touches a job's buffer only after waiting for it. The jobs
 * started between two moments at which every job started had been waited for are a batch:
 * together they hold at most comm_sum_reserve's values (the node window's size). Only the
 * thread that initialised MPI calls these. */

/* comm_sum_start: starts comm_sum_packed(buf, n, n_side, bytes) as a job; returns its
 * ticket. On the node's window this rank's sums are given to the others at once. */
long comm_sum_start(int64_t *buf, size_t n, int n_side, int bytes);

/* comm_sum_start_blocks: comm_sum_start with a width per block of PACKED_BLOCK values:
 * widths[b] (2..8) for the packed_blocks(n) blocks; a value past its share of its block's
 * width anywhere sends all n again as int64. widths is read and peaks written (when not
 * NULL: block b's largest |value| any participant sent packed, as comm_sum_wait's peak) up
 * to comm_sum_wait: both stay the caller's until then. */
long comm_sum_start_blocks(int64_t *buf, size_t n, int n_side, const uint8_t *widths,
                           int64_t *peaks);

/* comm_real_start: starts comm_sum_real(buf, n) as a job (MPI_Iallreduce); its ticket. */
long comm_real_start(Real *buf, size_t n);

/* comm_progress: moves the jobs in flight on as far as they go without waiting (MPI moves
 * messages only inside MPI calls: call it between pieces of work). */
void comm_progress(void);

/* comm_sum_wait: waits (under the watchdog) until job `ticket` and those before are done;
 * returns its peak: the largest |value| any participant sent packed (the same on every
 * participant), or -1 when none went packed (int64, one node's window, one rank; then a
 * comm_sum_start_blocks job's peaks are not written). */
int64_t comm_sum_wait(long ticket);

/* comm_sum_reserve: the jobs of one batch hold at most n values together (collective, with
 * no job in flight; the same n on every rank). */
void comm_sum_reserve(size_t n);

/* The width comm_sum_auto_bytes gives before any peak is known. */
enum { COMM_AUTO_FIRST_BYTES = 6 };

/* comm_sum_auto_bytes: the narrowest packed width (2..8) whose share per participant
 * (packed_bound) holds twice `peak` (a job's peak: so the values may double before they
 * fall back), or COMM_AUTO_FIRST_BYTES when peak < 0. The same on every participant. */
int comm_sum_auto_bytes(int64_t peak);

/* comm_sum_sent: the bytes this rank has sent for the exact sums so far (by messages). */
long long comm_sum_sent(void);

/* comm_sum_fallbacks: how many comm_sum_packed calls so far sent their sums again as int64. */
long comm_sum_fallbacks(void);

/* comm_sum_messages: 1 when the exact sums cross messages (several nodes, or
 * DOWNHILL_NODE_SUM=0), where their width on the wire matters; 0 within one node. */
int comm_sum_messages(void);

/* comm_sum_path: how comm_sum_i64 sums, the same on every rank: "node shared memory" (one
 * node), "node shared memory, messages between nodes", or "messages" (point-to-point only). */
const char *comm_sum_path(void);

/* comm_sum_u64: element-wise sum modulo 2^64 of buf over all ranks, in place. */
void comm_sum_u64(uint64_t *buf, size_t n);

/* comm_sum_real: element-wise floating-point sum of buf over all ranks, in place (MPI's
 * MPI_Iallreduce under the watchdog). */
void comm_sum_real(Real *buf, size_t n);

/* comm_sum_real_plain: the same by MPI's own blocking MPI_Allreduce, without the watchdog:
 * the plain float allreduce a user would write, as the benchmarks' reference. */
void comm_sum_real_plain(Real *buf, size_t n);

/* Element-wise reductions of double arrays. */
typedef enum { COMM_MIN, COMM_MAX, COMM_SUM } CommOp;

/* comm_reduce_doubles: buf[i] <- op over all ranks of buf[i], in place, on every rank. */
void comm_reduce_doubles(double *buf, size_t n, CommOp op);

/* comm_max_double: the largest x over all ranks. */
double comm_max_double(double x);

/* comm_min_u64 / comm_max_u64: smallest / largest x over all ranks. */
uint64_t comm_min_u64(uint64_t x);
uint64_t comm_max_u64(uint64_t x);

/* comm_bcast: broadcasts n bytes from root. */
void comm_bcast(void *buf, size_t n, int root);

/* comm_gather_bytes: rank 0 receives n bytes from every rank into out (size * n bytes;
 * out is ignored on other ranks). */
void comm_gather_bytes(const void *buf, size_t n, void *out);

/* comm_gather_rows: rank 0 receives every rank's `rows` rows of row_bytes bytes each, in
 * rank order, into out (the ranks' rows summed, times row_bytes; out is ignored on other
 * ranks). Every rank passes the same row_bytes (below 2^31); the ranks' rows add up to
 * less than 2^31. */
void comm_gather_rows(const void *buf, int64_t rows, size_t row_bytes, void *out);

/* comm_time: wall-clock seconds (MPI_Wtime). */
double comm_time(void);

#endif
