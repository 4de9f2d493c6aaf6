/* check.h: the C tests' one assertion. CHECK(cond, fmt, ...) counts a check; when cond is
 * false it prints "FAIL file:line: message" to stderr and counts a failure. A test's main
 * ends with `return check_report("test_x");` (single process), or agrees on check_failed()
 * across ranks (MPI tests). Every test links tests/check.c (CMake target downhill_check). */
#ifndef DOWNHILL_TESTS_CHECK_H
#define DOWNHILL_TESTS_CHECK_H

/* CHECK(cond, fmt, ...): one check, with a printf message naming what was checked;
 * evaluates to cond's truth (1 or 0), so a test can stop when a setup step fails. */
#define CHECK(cond, ...) check_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* check_at: CHECK's body: counts a check; when ok is 0, prints the FAIL line for file:line
 * and counts a failure. Returns ok. */
int check_at(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* check_failed: the number of failed checks so far in this process. */
int check_failed(void);

/* check_report: prints "NAME: C checks, F failures" to stdout; returns main's exit code
 * (0 when no check failed, else 1). */
int check_report(const char *name);

#endif
