/* fileseal.h: the integrity block of the HDF5 files downhill writes: a whole-file checksum
 * kept in the HDF5 user block (the first FILESEAL_SIZE bytes, which HDF5 leaves to the
 * application and never reads), verified before HDF5 parses a byte of the file; and the
 * atomic write of a file image HDF5 built in memory. Plain POSIX I/O, no HDF5. Private to src/io/. Layout in docs/FORMATS.md ("Integrity block"). */
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

/* fileseal_write_image: writes the complete file image (size bytes, a FILESEAL_SIZE user
 * block first) to path: stamps its integrity block (state 1, the length, the FNV-1a 64
 * checksum of bytes [FILESEAL_SIZE, size), in two copies) into image, writes it to
 * path + ".part" and renames that to path, so that path always holds either its previous
 * or its new content; fsyncs it when `sync`. On failure (e.g. "No space left on device")
 * the partial file is removed and e names the OS reason. */
int fileseal_write_image(const char *path, unsigned char *image, size_t size, int sync,
                         Err *e);

/* fileseal_fix_superblock: HDF5 1.10.8's H5Fget_file_image clears the status flags of a
 * version 2/3 superblock in the image but keeps the checksum computed with them set (the
 * file is open for writing), so the image fails HDF5's own check; recomputes that
 * checksum (lookup3). sb: the image's first `size` bytes, starting at the superblock. */
void fileseal_fix_superblock(unsigned char *sb, size_t size);

/* fileseal_write: reseals the HDF5 file at path as it is (reads it, then
 * fileseal_write_image): for tests that edit a sealed file with the HDF5 API. */
int fileseal_write(const char *path, Err *e);

/* fileseal_verify: checks the integrity block of path; *status says what was found.
 * Returns -1 with e set ("PATH: damaged: WHY (what to do)") when the file carries a
 * downhill block that does not match the file, or a 512-byte user block downhill did not
 * write; `hint` (e.g. "use an older checkpoint") ends those messages. A file too short or
 * without the HDF5 signature after the block is FILESEAL_NONE (HDF5 then says why). */
int fileseal_verify(const char *path, const char *hint, FilesealStatus *status, Err *e);

#endif
