/* common.h: compute precision, the error record every fallible call fills, checked allocation. */
#ifndef DOWNHILL_COMMON_H
#define DOWNHILL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef DOWNHILL_DOUBLE
typedef double Real; /* compute precision: float64 build (cmake -DDOWNHILL_DOUBLE=ON) */
#define REAL_NAME "float64"
#else
typedef float Real; /* compute precision: float32 (default) */
#define REAL_NAME "float32"
#endif

/* downhill_version: the release and, for a build from git, the commit
 * ("0.1.0+g1a2b3c4d5e6f"); printed by --version and written into run files and checkpoints. */
const char *downhill_version(void);
#define DOWNHILL_VERSION downhill_version()

/* The version of downhill's arithmetic (src/reference/step_ref.c specifies it): the same
 * for every build, compiler and CPU; bumped whenever a change alters any computed result.
 * Recorded in run files and checkpoints; a checkpoint of another numerics is not resumed. */
#define DOWNHILL_NUMERICS 2

/* One error message; fallible functions take an Err * and fill it on failure. */
typedef struct {
    char msg[1024];
} Err;

/* err_set: formats a message into e (e may be NULL); always returns -1. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mul_size: a * b into *out; returns -1 when the product overflows size_t. */
int mul_size(size_t a, size_t b, size_t *out);

/* alloc_array: zeroed array of n items of size bytes, named `what` in the error
 * (which gives the byte count); NULL on overflow or out of memory. Caller frees. Arrays
 * of ALLOC_HUGE bytes or more are asked to live on huge pages (randomly read rows). */
#define ALLOC_HUGE (4u << 20)
void *alloc_array(size_t n, size_t size, const char *what, Err *e);

/* memory_available: bytes of memory this node can still give (MemAvailable), or 0 if
 * unknown. */
double memory_available(void);

#endif
