/* ckptfile_h5.h: the HDF5-level readers of ckptfile.c that `downhill info` (info.c) shares.
 * Private to src/io/. */
#ifndef DOWNHILL_IO_CKPTFILE_H5_H
#define DOWNHILL_IO_CKPTFILE_H5_H

#include "h5util.h"
#include "io/ckptfile.h"

/* ckpt_check_header: attribute format is downhill-checkpoint, of a version this build reads. */
int ckpt_check_header(hid_t f, const char *path, Err *e);

/* ckpt_read_state: every /state attribute of open file f into s (each must be present);
 * leaves s->history and s->config_text alone. */
int ckpt_read_state(hid_t f, CkptState *s, const char *path, Err *e);

#endif
