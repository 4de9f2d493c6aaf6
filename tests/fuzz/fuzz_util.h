/* fuzz_util.h: helpers shared by the fuzz targets (tests only): a per-process scratch
 * file that each input is written to, reused from one input to the next. */
#ifndef DOWNHILL_FUZZ_UTIL_H
#define DOWNHILL_FUZZ_UTIL_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* fuzz_path: "$TMPDIR/downhill-fuzz-PID-TAG" into buf (the same name for the whole run). */
static inline const char *fuzz_path(char *buf, size_t len, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, len, "%s/downhill-fuzz-%ld-%s", dir && dir[0] ? dir : "/tmp",
             (long)getpid(), tag);
    return buf;
}

/* fuzz_write: replaces the file at path with the n bytes at data; aborts if it cannot
 * (a harness failure, not a finding). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) {
        fprintf(stderr, "fuzz: cannot write scratch file %s\n", path);
        abort();
    }
}

#endif
