/* info.h: `downhill info`: a plain-text summary of any downhill HDF5 file. */
#ifndef DOWNHILL_IO_INFO_H
#define DOWNHILL_IO_INFO_H

#include <stdio.h>
#include "core/common.h"

/* h5_info: prints a summary of a run, checkpoint or input file to out (layout, config,
 * last epoch, weights hash). */
int h5_info(const char *path, FILE *out, Err *e);

#endif
