/* common.c: error records and checked allocation. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

int err_set(Err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

void *alloc_array(size_t n, size_t size, const char *what, Err *e)
{
    size_t bytes;
    if (mul_size(n, size, &bytes) != 0) {
        err_set(e, "%s: %zu items of %zu bytes overflow the address space", what, n, size);
        return NULL;
    }
    void *p;
    if (bytes >= ALLOC_HUGE && bytes <= SIZE_MAX - HUGE_PAGE) {
        /* whole huge pages: one TLB entry covers 2 MiB of randomly read rows */
        size_t whole = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        p = aligned_alloc(HUGE_PAGE, whole);
#ifdef MADV_HUGEPAGE
        if (p)
            (void)madvise(p, whole, MADV_HUGEPAGE); /* a hint: refused is fine */
#endif
        if (p)
            memset(p, 0, whole);
    } else { /* whole cache lines: two threads' arrays never share one */
        size_t lines = (bytes + 63) / 64 * 64;
        p = aligned_alloc(64, lines ? lines : 64);
        if (p)
            memset(p, 0, lines ? lines : 64);
    }
    if (!p)
        err_set(e, "%s: out of memory allocating %zu bytes (%.1f MiB); use fewer examples "
                   "per rank (more ranks or data.train_limit) or smaller layers",
                what, bytes, bytes / 1048576.0);
    return p;
}

double memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib * 1024.0;
}
