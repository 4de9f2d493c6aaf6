/* ckptfile.h: the checkpoint file format: the weights, the training state and the history
 * of a run at one step, written atomically and read back with every byte checked. When and
 * where checkpoints are written is the policy of run/checkpoint.h. Layout in docs/FORMATS.md. */
#ifndef DOWNHILL_IO_CKPTFILE_H
#define DOWNHILL_IO_CKPTFILE_H

#include <stdint.h>
#include "core/common.h"
#include "io/runfile.h"
#include "net/model.h"

#define CKPT_FORMAT_NAME "downhill-checkpoint"
#define CKPT_FORMAT_VERSION 1

/* The training state besides the weights: everything that decides what comes next. */
typedef struct {
    int64_t step;              /* updates done */
    int64_t steps_per_epoch;   /* updates per epoch */
    int64_t lanes;             /* global batch B (n_train for full batch) */
    int64_t n_train;           /* training examples used */
    int64_t exact_group;       /* lanes per exactly-summed group */
    int32_t reduction;         /* ReductionKind of the run */
    uint64_t seed;             /* model.seed */
    uint64_t data_fingerprint; /* order-independent hash of the training examples */
    double epoch_cost;         /* summed batch costs of the current epoch so far */
    int64_t epoch_count;       /* examples seen in the current epoch so far */
    double lr_scale;           /* learning-rate factor left by rollbacks (1 = none) */
    int64_t rollbacks;         /* rollbacks after divergence so far */
    int64_t n_history;         /* rows in history */
    HistoryRow *history;       /* (n_history) completed epochs, epoch 0 first */
    char *config_text;         /* resolved INI text of the run that wrote it */
    int numerics;              /* DOWNHILL_NUMERICS of the build that wrote it (0: a file
                                * from before numerics were recorded) */
    Real *velocity;            /* (n_params) the momentum's velocity in the parameters'
                                * layout (/optimizer/velocity), or NULL: none (written only
                                * when not NULL; read back when the file has it) */
} CkptState;

/* h5ckpt_write: writes weights and state to path + ".tmp", flushes it to disk (fsync),
 * renames it to path and syncs the directory: a crash at any moment leaves either the
 * old or the new file whole. Stores a hash of the weights for h5ckpt_read to verify. */
int h5ckpt_write(const char *path, const Layout *lay, const Real *params, const CkptState *s,
                 Err *e);

/* h5ckpt_read: reads and checks a checkpoint (format, version, precision, shapes, weights
 * hash); allocates *params, s->history, s->config_text and s->velocity (NULL when the file
 * has none; the caller frees them). */
int h5ckpt_read(const char *path, Layout *lay, Real **params, CkptState *s, Err *e);

/* h5ckpt_step: the step of a complete checkpoint file (cheap: attributes only), or -1
 * with e set when the file is not a readable downhill checkpoint. */
int64_t h5ckpt_step(const char *path, Err *e);

#endif
