/* check.c: the tally behind CHECK (check.h), one per test process. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int checks;   /* CHECKs evaluated */
static int failures; /* of them false */

int check_at(int ok, const char *file, int line, const char *fmt, ...)
{
    checks++;
    if (ok)
        return 1;
    failures++;
    fflush(stdout); /* the FAIL line after the progress printed before it */
    const char *slash = strrchr(file, '/'); /* CMake passes absolute paths */
    fprintf(stderr, "FAIL %s:%d: ", slash ? slash + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

int check_failed(void)
{
    return failures;
}

int check_report(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, checks, failures);
    return failures != 0;
}
