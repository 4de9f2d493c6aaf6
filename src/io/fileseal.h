/* fileseal.h: the integrity block of the HDF5 files downhill writes: a whole-file checksum
 * kept in the HDF5 user block (the first FILESEAL_SIZE bytes, which HDF5 leaves to the
 * application and never reads), verified before HDF5 parses a byte of the file. Plain
 * POSIX I/O, no HDF5. Private to src/io/. Layout in docs/FORMATS.md ("Integrity block"). */
#ifndef DOWNHILL_IO_FILESEAL_H
#define DOWNHILL_IO_FILESEAL_H

#include "core/common.h"

#define FILESEAL_SIZE 512 /* the user block: HDF5 puts the superblock right after it */

/* What fileseal_verify found. */
typedef enum {
    FILESEAL_NONE,  /* no integrity block (an older downhill's file or a foreign one):
                     * only HDF5's own checks apply */
    FILESEAL_VALID, /* the block is intact and the checksum of the rest matches */
} FilesealStatus;

/* fileseal_mark_writing: stamps the block of the file at path "being written" (state 2),
 * so that a crash before the next fileseal_write leaves a file readers refuse as
 * incomplete rather than one whose checksum merely fails. */
int fileseal_mark_writing(const char *path, Err *e);

/* fileseal_write: stamps the block of the complete file at path: state 1, the file's
 * length and the FNV-1a 64 checksum of bytes [FILESEAL_SIZE, length), in two copies.
 * Call it after HDF5 closed or flushed the file (HDF5 does not write the user block). */
int fileseal_write(const char *path, Err *e);

/* fileseal_verify: checks the integrity block of path; *status says what was found.
 * Returns -1 with e set ("PATH: damaged: WHY (what to do)") when the file carries a
 * downhill block that does not match the file, or a 512-byte user block downhill did not
 * write; `hint` (e.g. "use an older checkpoint") ends those messages. A file too short or
 * without the HDF5 signature after the block is FILESEAL_NONE (HDF5 then says why). */
int fileseal_verify(const char *path, const char *hint, FilesealStatus *status, Err *e);

#endif
