/* evaluate.h: mean cost and accuracy of a model over a data set sharded across ranks,
 * summed exactly (the numbers do not depend on the number of ranks or threads). */
#ifndef DOWNHILL_EVALUATE_H
#define DOWNHILL_EVALUATE_H

#include "core/common.h"
#include "io/data.h"
#include "net/model.h"

/* Cost and accuracy of a model on a whole data set. */
typedef struct {
    double cost;     /* mean over examples of sum_j (a_j - y_j)^2 */
    double accuracy; /* fraction of examples whose largest output is the label */
    int64_t count;   /* examples evaluated, over all ranks */
} Score;

/* evaluate: scores m on every rank's shard d (collective: every rank calls it);
 * ws holds `threads` workspaces. Fails on every rank together (allocation, overflow). */
int evaluate(const Model *m, const Dataset *d, Workspace *ws, int threads, Score *out, Err *e);

#endif
