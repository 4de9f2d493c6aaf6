/* checkpoint.h: checkpoint policy: file names, which checkpoint a run resumes from, what
 * may change on resume, pruning old files, and the signals that ask for
 * checkpoint-and-exit. The files themselves are written by h5io (h5ckpt_*). */
#ifndef DOWNHILL_CHECKPOINT_H
#define DOWNHILL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "core/common.h"
#include "run/config.h"

/* Exit code of a run stopped by SIGUSR1/SIGTERM after writing a checkpoint: resubmit it
 * (with checkpoint.resume = auto) to continue. 75 is EX_TEMPFAIL of <sysexits.h>. */
#define EXIT_RESUBMIT 75

/* checkpoint_signals_install: SIGUSR1 and SIGTERM set a flag instead of ending the process. */
void checkpoint_signals_install(void);

/* checkpoint_signal_pending: the last such signal received (0 if none). */
int checkpoint_signal_pending(void);

/* checkpoint_path: the checkpoint file of `step` for config c into out (n bytes). */
int checkpoint_path(const Config *c, int64_t step, char *out, size_t n, Err *e);

/* checkpoint_find_latest: the newest complete checkpoint of this run into out, or "" when
 * there is none (not an error). Skips temporary and unreadable files. */
int checkpoint_find_latest(const Config *c, char *out, size_t n, Err *e);

/* checkpoint_prune: deletes this run's checkpoints older than the newest `keep` ones;
 * never the checkpoint of newest_step. Returns how many were deleted. */
int checkpoint_prune(const Config *c, int64_t newest_step);

/* checkpoint_compatible: refuses to resume with keys that would change the trajectory
 * (layers, seed, batch size, exact group, reduction, training data and limit), naming
 * the key; `then` is the checkpoint's configuration. */
int checkpoint_compatible(const Config *now, const Config *then, const char *path, Err *e);

#endif
