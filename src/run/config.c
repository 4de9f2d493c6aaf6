/* config.c: the run configuration. One const table (config_keys.c) describes every key
 * (section, name, type, field, default, help, accepted values); parsing, defaults,
 * validation and the resolved INI text are all driven by it. INI syntax is libinih's
 * (Debian build). */
#include "run/config.h"
#include "config_keys.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LAYER_SIZE_MAX 1048576
#define INI_LINE_LIMIT 65536 /* longest INI line read whole (paths are far shorter) */
#define VALUE_TEXT_MAX (CONFIG_PATH_MAX + 64)

static const char *const bool_names[] = {"false", "true", "no", "yes", "0", "1", "off", "on"};
static const char *const section_names[] = {"data", "model", "train", "output", "checkpoint"};

#define N_BOOLS (sizeof bool_names / sizeof bool_names[0])
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

/* ---- small string helpers ------------------------------------------------------------ */

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

/* trim_copy: the len characters at src without surrounding whitespace into dst (size n);
 * -1 (dst empty) if they do not fit. */
static int trim_copy(char *dst, size_t n, const char *src, size_t len)
{
    while (len > 0 && is_blank(src[0])) {
        src++;
        len--;
    }
    while (len > 0 && is_blank(src[len - 1]))
        len--;
    dst[0] = '\0';
    if (len >= n)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* ---- value parsers: all strict, whole-string ----------------------------------------- */

static int parse_int64(const char *s, int64_t *out)
{
    if (*s == '\0' || is_blank(*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_uint64(const char *s, uint64_t *out)
{
    if (*s == '\0' || *s == '-' || is_blank(*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (*s == '\0' || is_blank(*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE with a finite result is underflow (e.g. a subnormal min_lr): keep it */
    if ((errno != 0 && errno != ERANGE) || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int double_in_range(double v, DoubleRule rule)
{
    switch (rule) {
    case DBL_POSITIVE: return v > 0.0;
    case DBL_NONNEGATIVE: return v >= 0.0;
    case DBL_UNIT: return v > 0.0 && v <= 1.0;
    case DBL_FRACTION: return v >= 0.0 && v < 1.0;
    }
    return 0;
}

/* count_names: the entries of a NULL-terminated list of spellings. */
static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names[n] != NULL)
        n++;
    return n;
}

/* enum_name: the spelling of value v in a NULL-terminated list, "unknown" if out of range. */
static const char *enum_name(const char *const *names, int v)
{
    return v >= 0 && (size_t)v < count_names(names) ? names[v] : "unknown";
}

static int parse_enum(const char *s, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    return -1;
}

/* parse_layers: "784, 16,16 ,10" into sizes[]; *why says what is wrong on failure. */
static int parse_layers(const char *s, int *sizes, int *n_out, const char **why)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char tok[32];
        int64_t v;
        if (n == CONFIG_MAX_LAYERS) {
            *why = "too many sizes";
            return -1;
        }
        int fits = trim_copy(tok, sizeof tok, p, len) == 0;
        if (!fits || parse_int64(tok, &v) != 0) {
            *why = fits && tok[0] == '\0' ? "empty size" : "not an integer";
            return -1;
        }
        if (v < 1 || v > LAYER_SIZE_MAX) {
            *why = "size out of range";
            return -1;
        }
        sizes[n++] = (int)v;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (n < 2) {
        *why = "fewer than 2 sizes";
        return -1;
    }
    *n_out = n;
    return 0;
}

/* path_storable: a path that INI text can carry unchanged (no control characters, no
 * ';' that libinih would take for a comment). */
static int path_storable(const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
        if (*p == ';' && (p == s || is_blank(p[-1])))
            return 0;
    }
    return 1;
}

/* ---- applying one key ---------------------------------------------------------------- */

static int set_path(char *field, const KeySpec *k, const char *v, Err *e)
{
    if (strlen(v) >= CONFIG_PATH_MAX)
        return err_set(e, "config: %s.%s: path of %zu characters is longer than the limit of %d",
                       k->section, k->name, strlen(v), CONFIG_PATH_MAX - 1);
    if (v[0] == '\0' && k->type == KEY_PATH)
        return err_set(e, "config: %s.%s is empty: expected %s", k->section, k->name, k->accepted);
    if (!path_storable(v))
        return err_set(e, "config: %s.%s = \"%s\": paths may not contain control characters or a "
                          "';' at the start or after a space", k->section, k->name, v);
    strcpy(field, v);
    return 0;
}

static int set_layers(Config *c, const KeySpec *k, const char *v, Err *e)
{
    int sizes[CONFIG_MAX_LAYERS];
    int n;
    const char *why = "";
    if (parse_layers(v, sizes, &n, &why) != 0)
        return err_set(e, "config: %s.%s = \"%s\": %s; expected %s", k->section, k->name, v, why,
                       k->accepted);
    memcpy(c->layers, sizes, sizeof sizes);
    c->n_layers = n;
    return 0;
}

static int bad_value(const KeySpec *k, const char *v, Err *e)
{
    return err_set(e, "config: %s.%s = \"%s\": expected %s", k->section, k->name, v, k->accepted);
}

/* set_value: parses text v (already trimmed) into the field of key k; c is untouched on error. */
static int set_value(Config *c, const KeySpec *k, const char *v, Err *e)
{
    void *field = (char *)c + k->offset;
    int64_t i;
    uint64_t u;
    double d;
    int idx;
    switch (k->type) {
    case KEY_PATH:
    case KEY_TEXT: return set_path(field, k, v, e);
    case KEY_LAYERS: return set_layers(c, k, v, e);
    case KEY_INT:
        if (parse_int64(v, &i) != 0 || i < k->int_min)
            return bad_value(k, v, e);
        *(int64_t *)field = i;
        return 0;
    case KEY_UINT:
        if (parse_uint64(v, &u) != 0)
            return bad_value(k, v, e);
        *(uint64_t *)field = u;
        return 0;
    case KEY_DOUBLE:
        if (parse_double(v, &d) != 0 || !double_in_range(d, k->dbl_rule))
            return bad_value(k, v, e);
        *(double *)field = d;
        return 0;
    case KEY_ENUM:
        if (parse_enum(v, k->names, count_names(k->names), &idx) != 0)
            return bad_value(k, v, e);
        *(int *)field = idx;
        return 0;
    case KEY_BOOL:
        if (parse_enum(v, bool_names, N_BOOLS, &idx) != 0)
            return bad_value(k, v, e);
        *(int *)field = idx % 2; /* odd entries are the true spellings */
        return 0;
    }
    return err_set(e, "config: %s.%s: internal error: unknown key type", k->section, k->name);
}

static int section_known(const char *section)
{
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(section, section_names[i]) == 0)
            return 1;
    return 0;
}

/* unknown_key: the error for a key missing from a known section, listing that section's keys. */
static int unknown_key(const char *section, const char *name, Err *e)
{
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < config_n_keys; i++) {
        if (strcmp(config_keys[i].section, section) != 0)
            continue;
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", config_keys[i].name);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    return err_set(e, "config: unknown key \"%s.%s\" (known keys in [%s]: %s)", section, name,
                   section, list);
}

/* apply_key: looks up section.name in the table and sets it from text value. */
static int apply_key(Config *c, const char *section, const char *name, const char *value, Err *e)
{
    if (section[0] == '\0')
        return err_set(e, "config: key \"%s\" is outside any section (sections: [data], [model], "
                          "[train], [output])", name);
    if (!section_known(section))
        return err_set(e, "config: unknown section [%s] (known sections: data, model, train, output)",
                       section);
    for (size_t i = 0; i < config_n_keys; i++)
        if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].name, name) == 0)
            return set_value(c, &config_keys[i], value, e);
    return unknown_key(section, name, e);
}

/* ---- INI files and text -------------------------------------------------------------- */

/* What the libinih handler works on: a scratch copy of the configuration and the first error. */
typedef struct {
    Config *c;
    Err err;
    int failed;
} ParseState;

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
    ParseState *st = user;
    if (st->failed)
        return 0;
    if (apply_key(st->c, section, name, value, &st->err) != 0) {
        st->failed = 1;
        return 0;
    }
    return 1;
}

/* ini_options_set: Debian's libinih reads its options from globals at run time; set the
 * ones this parser relies on (long lines read whole, stop at the first error, no
 * Python-style continuation lines) before every parse. */
static void ini_options_set(void)
{
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = INI_LINE_LIMIT;
    ini_stop_on_first_error = true;
    ini_allow_multiline = false;
    ini_allow_no_value = false;
}

/* finish_parse: turns libinih's result into an error naming origin:line, or commits scratch. */
static int finish_parse(Config *c, const Config *scratch, const ParseState *st, int rc,
                        const char *origin, Err *e)
{
    if (rc == 0 && !st->failed) {
        *c = *scratch;
        return 0;
    }
    if (rc == -2)
        return err_set(e, "%s: out of memory reading the configuration", origin);
    if (st->failed)
        return err_set(e, "%s:%d: %s", origin, rc, st->err.msg);
    return err_set(e, "%s:%d: config: syntax error: expected \"[section]\", \"key = value\", "
                      "a comment (# or ;) or a blank line", origin, rc);
}

int config_load_file(Config *c, const char *path, Err *e)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(e, "cannot open config file %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return err_set(e, "cannot open config file %s: it is a directory, expected an INI file", path);
    Config scratch = *c;
    ParseState st = {.c = &scratch, .failed = 0};
    ini_options_set();
    errno = 0;
    int rc = ini_parse(path, ini_handler_fn, &st);
    if (rc == -1)
        return err_set(e, "cannot open config file %s: %s", path, strerror(errno ? errno : EIO));
    return finish_parse(c, &scratch, &st, rc, path, e);
}

int config_load_string(Config *c, const char *text, Err *e)
{
    Config scratch = *c;
    ParseState st = {.c = &scratch, .failed = 0};
    ini_options_set();
    int rc = ini_parse_string(text, ini_handler_fn, &st);
    return finish_parse(c, &scratch, &st, rc, "config text", e);
}

/* ---- defaults, overrides, validation ------------------------------------------------- */

void config_defaults(Config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < config_n_keys; i++) {
        Err e;
        if (set_value(c, &config_keys[i], config_keys[i].def, &e) != 0) {
            /* the table's defaults are constants: reaching this is a programming error */
            fprintf(stderr, "downhill: bad default in config table: %s\n", e.msg);
            abort();
        }
    }
}

static int malformed_set(const char *assignment, Err *e)
{
    return err_set(e, "config: --set \"%s\": expected the form --set section.key=value "
                      "(e.g. --set train.epochs=20)", assignment);
}

int config_set(Config *c, const char *assignment, Err *e)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq)
        return malformed_set(assignment, e);
    char section[64], name[64];
    if (trim_copy(section, sizeof section, assignment, (size_t)(dot - assignment)) != 0 ||
        trim_copy(name, sizeof name, dot + 1, (size_t)(eq - dot - 1)) != 0 ||
        section[0] == '\0' || name[0] == '\0')
        return malformed_set(assignment, e);
    size_t vlen = strlen(eq + 1);
    char *value = alloc_array(vlen + 1, 1, "config: --set value", e);
    if (!value)
        return -1;
    trim_copy(value, vlen + 1, eq + 1, vlen);
    int rc = apply_key(c, section, name, value, e);
    free(value);
    return rc;
}

/* format_value: the INI text of key k's value in c (re-parses to the identical value). */
static void format_value(const Config *c, const KeySpec *k, char *out, size_t n)
{
    const void *field = (const char *)c + k->offset;
    out[0] = '\0';
    switch (k->type) {
    case KEY_PATH:
    case KEY_TEXT: snprintf(out, n, "%.*s", CONFIG_PATH_MAX - 1, (const char *)field); break;
    case KEY_INT: snprintf(out, n, "%lld", (long long)*(const int64_t *)field); break;
    case KEY_UINT: snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)field); break;
    case KEY_DOUBLE: snprintf(out, n, "%.17g", *(const double *)field); break;
    case KEY_ENUM: snprintf(out, n, "%s", enum_name(k->names, *(const int *)field)); break;
    case KEY_BOOL: snprintf(out, n, "%s", *(const int *)field ? "true" : "false"); break;
    case KEY_LAYERS: {
        size_t used = 0;
        int count = c->n_layers < 0 ? 0 : c->n_layers > CONFIG_MAX_LAYERS ? CONFIG_MAX_LAYERS : c->n_layers;
        for (int i = 0; i < count && used < n; i++)
            used += (size_t)snprintf(out + used, n - used, "%s%d", i ? "," : "", c->layers[i]);
        break;
    }
    }
}

int config_validate(const Config *c, Err *e)
{
    if (c->n_layers < 2 || c->n_layers > CONFIG_MAX_LAYERS)
        return err_set(e, "config: model.layers has %d sizes: expected 2 to %d", c->n_layers,
                       CONFIG_MAX_LAYERS);
    /* every key again through its own parser, so a Config built in code obeys the same rules */
    for (size_t i = 0; i < config_n_keys; i++) {
        const KeySpec *k = &config_keys[i];
        if (k->type == KEY_PATH && !memchr((const char *)c + k->offset, '\0', CONFIG_PATH_MAX))
            return err_set(e, "config: %s.%s: path is not terminated", k->section, k->name);
        char text[VALUE_TEXT_MAX];
        Config scratch = *c;
        format_value(c, k, text, sizeof text);
        if (set_value(&scratch, k, text, e) != 0)
            return -1;
    }
    if (c->schedule == SCHEDULE_COSINE && c->min_lr > c->learning_rate)
        return err_set(e, "config: train.min_lr = %.17g is above train.learning_rate = %.17g: the "
                          "cosine schedule decays from learning_rate down to min_lr",
                       c->min_lr, c->learning_rate);
    return 0;
}

/* ---- resolved INI text --------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} TextBuf;

static void text_append(TextBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_append(TextBuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (w < 0) {
        b->failed = 1;
        return;
    }
    if (b->len + (size_t)w + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)w;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)w;
}

char *config_to_ini(const Config *c)
{
    TextBuf b = {NULL, 0, 0, 0};
    const char *section = "";
    text_append(&b, "# downhill %s configuration\n", DOWNHILL_VERSION);
    for (size_t i = 0; i < config_n_keys; i++) {
        const KeySpec *k = &config_keys[i];
        char text[VALUE_TEXT_MAX];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            text_append(&b, "\n[%s]\n", section);
        }
        format_value(c, k, text, sizeof text);
        text_append(&b, "# %s\n%s = %s\n", k->help, k->name, text);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

const char *config_schedule_name(ScheduleKind k)
{
    return enum_name(config_schedule_names, (int)k);
}

const char *config_reduction_name(ReductionKind k)
{
    return enum_name(config_reduction_names, (int)k);
}

const char *config_overlap_name(OverlapKind k)
{
    static const char *const names[] = {"false", "true", "auto"};
    return k >= OVERLAP_FALSE && k <= OVERLAP_AUTO ? names[k] : "?";
}

int config_sum_bytes(const Config *c)
{
    return c->sum_bytes > 0 ? c->sum_bytes + 1 : 0; /* the names: auto, 2, ..., 8 */
}
