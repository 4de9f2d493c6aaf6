/* comm_mpi.h: what the files of src/comm share about MPI, private to the folder (no code
 * outside src/comm includes <mpi.h>). comm.c owns the watchdog; allreduce.c the sums of
 * many values. */
#ifndef DOWNHILL_COMM_MPI_H
#define DOWNHILL_COMM_MPI_H

#include <mpi.h>
#include <stddef.h>

/* comm_wait_all: completes n nonblocking requests, or fires the watchdog. */
void comm_wait_all(int n, MPI_Request *req);

/* comm_watchdog_due: whether a wait that started at `start` (MPI_Wtime) has waited longer
 * than the watchdog allows; then it has fired (the job is aborted, this never returns 1). */
int comm_watchdog_due(double start);

/* comm_fatal_memory: out of memory for `what`: fatal like an MPI failure (aborts the job). */
void comm_fatal_memory(const char *what);

/* allreduce_init / allreduce_finalize: the sums' communicators and node window (called
 * from comm_init after MPI_Init, from comm_finalize before MPI_Finalize). */
void allreduce_init(int rank);
void allreduce_finalize(void);

#endif
