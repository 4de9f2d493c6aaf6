/* fuzz_config.c: the configuration parser. Input: INI text, then (after the first NUL
 * byte, if any) --set overrides, one per line. Property checked: a configuration that
 * validates prints as INI text that parses back to the same configuration (the same
 * text again), which is what a run file's stored config and `downhill eval` rely on. */
#include "fuzz_util.h"

#include "run/config.h"

/* one_line: every error is one non-empty line. */
static void one_line(const Err *e)
{
    if (e->msg[0] == '\0' || strchr(e->msg, '\n'))
        abort();
}

static void round_trip(const Config *c)
{
    Err e;
    char *text = config_to_ini(c);
    if (!text)
        abort();
    Config back;
    config_defaults(&back);
    if (config_load_string(&back, text, &e) != 0) {
        fprintf(stderr, "fuzz_config: resolved INI does not re-parse: %s\n---\n%s---\n",
                e.msg, text);
        abort();
    }
    if (config_validate(&back, &e) != 0) {
        fprintf(stderr, "fuzz_config: re-parsed INI does not validate: %s\n", e.msg);
        abort();
    }
    char *again = config_to_ini(&back);
    if (!again || strcmp(text, again) != 0) {
        fprintf(stderr, "fuzz_config: INI round trip differs\n---\n%s---\n%s---\n", text,
                again ? again : "(null)");
        abort();
    }
    free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t ini_len = strlen(buf); /* the INI text ends at the first NUL */

    Config c;
    Err e;
    config_defaults(&c);
    int ok = config_load_string(&c, buf, &e) == 0;
    if (!ok)
        one_line(&e);
    /* the rest: NUL- or newline-separated --set lines, applied in order */
    char *p = ini_len < size ? buf + ini_len + 1 : buf + size;
    while (ok && p < buf + size) {
        char *end = p;
        while (end < buf + size && *end != '\n' && *end != '\0')
            end++;
        *end = '\0';
        Config before;
        memcpy(&before, &c, sizeof c);
        if (config_set(&c, p, &e) != 0) {
            one_line(&e);
            if (memcmp(&before, &c, sizeof c) != 0)
                abort(); /* a failed override leaves the configuration untouched */
        }
        p = end + 1;
    }
    if (ok && config_validate(&c, &e) == 0)
        round_trip(&c);
    else if (ok)
        one_line(&e);
    free(buf);
    return 0;
}
