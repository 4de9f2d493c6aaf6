/* evaluate.h: mean cost and accuracy of a model over a data set sharded across ranks,
 * summed exactly (the numbers do not depend on the number of ranks or threads), with the
 * counts that tell a collapsed network and, on request, the confusion matrix and each
 * example's outputs. */
#ifndef DOWNHILL_EVALUATE_H
#define DOWNHILL_EVALUATE_H

#include "core/common.h"
#include "io/data.h"
#include "net/model.h"

/* An output below this is "saturated at 0" (Score.saturated). */
#define EVAL_SATURATED_BELOW 0.05
/* The confusion matrix is kept for at most this many outputs (labels are bytes). */
#define EVAL_MAX_CLASSES 256

/* Cost and accuracy of a model on a whole data set, over all ranks. */
typedef struct {
    double cost;          /* mean over examples of the cost of one example */
    double accuracy;      /* fraction of examples whose largest output is the label */
    int64_t count;        /* examples evaluated */
    int64_t correct;      /* examples whose largest output is the label */
    int64_t saturated;    /* examples whose every output is below EVAL_SATURATED_BELOW */
    int64_t first_class;  /* smallest predicted class over the examples (-1: none) */
    int64_t last_class;   /* largest predicted class over the examples (-1: none) */
} Score;

/* What evaluate_detail adds on request; each pointer may be NULL (not wanted). The
 * predicted class is the first largest output (the lowest index among equal outputs). */
typedef struct {
    int64_t *confusion; /* (classes, classes), classes = the last layer's size (at most
                         * EVAL_MAX_CLASSES): [label][predicted] counts over all ranks */
    int32_t *predicted; /* (d->rows): this rank's predicted class of each row */
    Real *outputs;      /* (d->rows, classes): this rank's outputs of each row */
} EvalDetail;

/* evaluate: scores m on every rank's shard d (collective: every rank calls it);
 * ws holds `threads` workspaces. Fails on every rank together (allocation, overflow). */
int evaluate(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out, Err *e);

/* evaluate_detail: evaluate, and fills what `detail` asks for (detail may be NULL). */
int evaluate_detail(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out,
                    EvalDetail *detail, Err *e);

/* Why a score looks like a collapsed network (score_collapse's bits). */
enum { COLLAPSE_SATURATED = 1, COLLAPSE_ONE_CLASS = 2 };

/* score_collapse: a collapsed network's signs in s, 0 if none: COLLAPSE_SATURATED when at
 * least 99% of the examples have every output below EVAL_SATURATED_BELOW, COLLAPSE_ONE_CLASS
 * when every example is predicted as the same class. Only for sets of at least
 * EVAL_COLLAPSE_MIN examples (below that one class may be chance). Exact: integer counts. */
int score_collapse(const Score *s);
#define EVAL_COLLAPSE_MIN 100

#endif
