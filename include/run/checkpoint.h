/* checkpoint.h: checkpoint policy: when a checkpoint is due, its file name, writing it with
 * the run's state and pruning older ones, which checkpoint a run resumes from, whether a
 * loaded checkpoint fits this run (and what changed), and the signals that ask for
 * checkpoint-and-exit. The file format itself is io/ckptfile.h (h5ckpt_*). */
#ifndef DOWNHILL_CHECKPOINT_H
#define DOWNHILL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/common.h"
#include "io/ckptfile.h"
#include "run/config.h"
#include "train/train.h"

/* Exit code of a run stopped by SIGUSR1/SIGTERM after writing a checkpoint: resubmit it
 * (with checkpoint.resume = auto) to continue. 75 is EX_TEMPFAIL of <sysexits.h>. */
#define EXIT_RESUBMIT 75

/* checkpoint_signals_install: SIGUSR1 and SIGTERM set a flag instead of ending the process. */
void checkpoint_signals_install(void);

/* checkpoint_signal_pending: the last such signal received (0 if none). */
int checkpoint_signal_pending(void);

/* checkpoint_due: why a checkpoint is due after `step` (the STEP_* requests `agreed` by
 * the steps just done; total = the run's last step), or NULL when none is. */
const char *checkpoint_due(const Config *c, int64_t step, int64_t steps_per_epoch,
                           int64_t total, int agreed);

/* checkpoint_path: the checkpoint file of `step` for config c into out (n bytes). */
int checkpoint_path(const Config *c, int64_t step, char *out, size_t n, Err *e);

/* checkpoint_write: writes the checkpoint of trainer t at its step (weights, state,
 * `rollbacks`, the n_history rows of history, c as INI text) to checkpoint_path into path
 * (n bytes), then prunes older ones. Rank 0 only. Returns how many were pruned, or -1. */
int checkpoint_write(const Config *c, const Trainer *t, int64_t rollbacks, HistoryRow *history,
                     int64_t n_history, char *path, size_t n, Err *e);

/* checkpoint_prune: deletes this run's checkpoints older than the newest `keep` ones;
 * never the checkpoint of newest_step. Returns how many were deleted. */
int checkpoint_prune(const Config *c, int64_t newest_step);

/* checkpoint_find_latest: the newest complete checkpoint of this run into out, or "" when
 * there is none (not an error). Skips temporary and unreadable files. */
int checkpoint_find_latest(const Config *c, char *out, size_t n, Err *e);

/* checkpoint_resume_path: the checkpoint c asks to resume from into path (n bytes): the
 * file of checkpoint.resume, the newest of this run for "auto" (saying so on log when
 * there is none), or "" for a fresh start. Rank 0 only. */
int checkpoint_resume_path(const Config *c, FILE *log, char *path, size_t n, Err *e);

/* checkpoint_validate: whether checkpoint s (layout lay, read from path) may continue the
 * run of c on trainer t: refuses keys that would change the trajectory (layers, seed,
 * batch size, exact group, reduction, training data and limit), naming the key; then
 * prints the configuration lines that changed ("resume: changed: ...") on log. */
int checkpoint_validate(const Config *c, const Trainer *t, const char *path, const Layout *lay,
                        const CkptState *s, FILE *log, Err *e);

#endif
