/* progress.h: what a training run prints on rank 0 while it runs: the resolved
 * configuration and machine shape, warnings about slow set-ups, one table line per epoch
 * and the time spent per phase. Every function prints nothing when log is NULL (the other
 * ranks pass NULL). */
#ifndef DOWNHILL_PROGRESS_H
#define DOWNHILL_PROGRESS_H

#include <stdio.h>
#include "core/timer.h"
#include "io/runfile.h"
#include "run/config.h"
#include "train/train.h"

/* progress_header: the resolved configuration, the machine shape, the heads of the epoch
 * table, then warnings for oversubscribed nodes and float reductions with threads. */
void progress_header(FILE *log, const Config *c, const Trainer *t);

/* progress_row: the epoch table's line of one history row. */
void progress_row(FILE *log, const HistoryRow *row);

/* progress_collapse: after an epoch's line, when the test scores show a collapsed network
 * (score_collapse in train/evaluate.h), a warning naming the likely cause and the keys to
 * change: in full the first time (*warned 0), then one line per epoch. Sets *warned on
 * every rank alike (log NULL prints nothing). */
void progress_collapse(FILE *log, const Config *c, const Score *test, int *warned);

/* progress_timing: seconds per phase over `ranks` ranks, min/avg/max summed over the
 * epochs (each array PHASE_COUNT long), with each phase's share of the average total. */
void progress_timing(FILE *log, int ranks, const double *min, const double *avg,
                     const double *max);

#endif
