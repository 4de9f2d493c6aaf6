/* run.h: a whole training run as the user sees it: progress lines on rank 0, the HDF5
 * run file (history flushed every epoch), and a final check that all ranks agree. */
#ifndef DOWNHILL_RUN_H
#define DOWNHILL_RUN_H

#include <stdio.h>
#include "run/config.h"
#include "train/train.h"

/* What a finished run reports. */
typedef struct {
    int64_t epochs;       /* epochs completed */
    double train_cost;    /* of the last epoch (epoch 0: of the initial model) */
    Score test;           /* of the final model */
    uint64_t hash;        /* model_hash of the final weights (equal on every rank) */
    int64_t step;         /* updates done */
    int stopped;          /* 1: stopped by a signal after a checkpoint (resubmit) */
} TrainSummary;

/* train_run: trains per c; prints on rank 0 to log (may be NULL); writes c->output_file.
 * Collective: every rank returns the same status. */
int train_run(const Config *c, int rank, int ranks, FILE *log, TrainSummary *out, Err *e);

/* What `downhill eval` evaluates and writes. */
typedef struct {
    const char *model;       /* the run file */
    const char *images;      /* image and label files; NULL: the run's data.test_* files */
    const char *labels;
    int64_t limit;           /* the first `limit` examples; 0 = all */
    const char *predictions; /* NULL, or a .csv or .h5 file for each example's prediction */
} EvalRequest;

/* eval_run: scores the model of run file req->model, prints the cost, the accuracy per
 * class and the confusion matrix on rank 0 to log, and writes req->predictions (rank 0,
 * after gathering every rank's rows). Collective: every rank returns the same status. */
int eval_run(const EvalRequest *req, int rank, int ranks, FILE *log, Score *out, Err *e);

#endif
