/* test_config.c: the configuration module: defaults, files, --set overrides, the resolved
 * INI round trip, and every error path (each message must name the offending key). */
#define _POSIX_C_SOURCE 200809L
#include "run/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* ---- fixtures: temp files under /tmp, removed at exit ---------------------------------- */

#define MAX_TEMPS 16
static char temps[MAX_TEMPS][64];
static int n_temps = 0;

/* temp_file: writes text to a fresh /tmp file and returns its path (removed by temp_cleanup). */
static const char *temp_file(const char *text)
{
    if (n_temps == MAX_TEMPS)
        return "/nonexistent/too-many-temps";
    char *path = temps[n_temps];
    snprintf(path, sizeof temps[0], "/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return "/nonexistent/mkstemp-failed";
    n_temps++;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    CHECK(w == (ssize_t)len, "writing %s", path);
    return path;
}

static void temp_cleanup(void)
{
    for (int i = 0; i < n_temps; i++)
        unlink(temps[i]);
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* configs_equal: field-by-field comparison; names the first differing field in *what. */
static int configs_equal(const Config *a, const Config *b, const char **what)
{
#define FIELD(f, same) do { if (!(same)) { *what = #f; return 0; } } while (0)
    FIELD(train_images, strcmp(a->train_images, b->train_images) == 0);
    FIELD(train_labels, strcmp(a->train_labels, b->train_labels) == 0);
    FIELD(test_images, strcmp(a->test_images, b->test_images) == 0);
    FIELD(test_labels, strcmp(a->test_labels, b->test_labels) == 0);
    FIELD(train_limit, a->train_limit == b->train_limit);
    FIELD(test_limit, a->test_limit == b->test_limit);
    FIELD(n_layers, a->n_layers == b->n_layers);
    for (int i = 0; i < a->n_layers; i++)
        FIELD(layers, a->layers[i] == b->layers[i]);
    FIELD(seed, a->seed == b->seed);
    FIELD(epochs, a->epochs == b->epochs);
    FIELD(batch_size, a->batch_size == b->batch_size);
    FIELD(learning_rate, a->learning_rate == b->learning_rate);
    FIELD(schedule, a->schedule == b->schedule);
    FIELD(warmup_epochs, a->warmup_epochs == b->warmup_epochs);
    FIELD(step_every, a->step_every == b->step_every);
    FIELD(step_factor, a->step_factor == b->step_factor);
    FIELD(min_lr, a->min_lr == b->min_lr);
    FIELD(reduction, a->reduction == b->reduction);
    FIELD(exact_group, a->exact_group == b->exact_group);
    FIELD(output_file, strcmp(a->output_file, b->output_file) == 0);
#undef FIELD
    return 1;
}

/* expect_set_error: config_set(assignment) must fail, leave c unchanged, and mention need. */
static void expect_set_error(const char *assignment, const char *need)
{
    Config c, before;
    Err e = {""};
    config_defaults(&c);
    before = c;
    int rc = config_set(&c, assignment, &e);
    const char *what = "";
    CHECK(rc != 0, "--set \"%s\" should fail", assignment);
    CHECK(strstr(e.msg, need) != NULL, "--set \"%s\": message \"%s\" should contain \"%s\"",
          assignment, e.msg, need);
    CHECK(configs_equal(&c, &before, &what), "--set \"%s\" failed but changed %s", assignment, what);
}

/* expect_load_error: loading text from a temp file must fail, leave c unchanged, start
 * with "PATH:LINE: " and contain need. */
static void expect_load_error(const char *text, int line, const char *need)
{
    Config c, before;
    Err e = {""};
    config_defaults(&c);
    before = c;
    const char *path = temp_file(text);
    char where[128];
    snprintf(where, sizeof where, "%s:%d: ", path, line);
    int rc = config_load_file(&c, path, &e);
    const char *what = "";
    CHECK(rc != 0, "loading \"%s\" should fail", text);
    CHECK(strstr(e.msg, where) == e.msg, "message \"%s\" should start with \"%s\"", e.msg, where);
    CHECK(strstr(e.msg, need) != NULL, "message \"%s\" should contain \"%s\"", e.msg, need);
    CHECK(configs_equal(&c, &before, &what), "failed load of \"%s\" changed %s", text, what);
}

static void expect_set_ok(Config *c, const char *assignment)
{
    Err e = {""};
    CHECK(config_set(c, assignment, &e) == 0, "--set \"%s\" failed: %s", assignment, e.msg);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_defaults(void)
{
    Config c;
    Err e = {""};
    config_defaults(&c);
    CHECK(strcmp(c.train_images, "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") == 0,
          "default train_images %s", c.train_images);
    CHECK(strcmp(c.train_labels, "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz") == 0,
          "default train_labels %s", c.train_labels);
    CHECK(strcmp(c.test_images, "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") == 0,
          "default test_images %s", c.test_images);
    CHECK(strcmp(c.test_labels, "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") == 0,
          "default test_labels %s", c.test_labels);
    CHECK(c.train_limit == 0 && c.test_limit == 0, "default limits");
    CHECK(c.n_layers == 4 && c.layers[0] == 784 && c.layers[1] == 16 && c.layers[2] == 16 &&
              c.layers[3] == 10, "default layers");
    CHECK(c.seed == 1, "default seed");
    CHECK(c.epochs == 10 && c.batch_size == 10, "default epochs/batch_size");
    CHECK(c.learning_rate == 1.0, "default learning_rate %g", c.learning_rate);
    CHECK(c.schedule == SCHEDULE_COSINE, "default schedule");
    CHECK(c.warmup_epochs == 0.0 && c.step_every == 1 && c.step_factor == 0.5 && c.min_lr == 0.0,
          "default schedule parameters");
    CHECK(c.reduction == REDUCTION_EXACT && c.exact_group == 1, "default reduction");
    CHECK(strcmp(c.output_file, "downhill-run.h5") == 0, "default output.file %s", c.output_file);
    CHECK(config_validate(&c, &e) == 0, "defaults should validate: %s", e.msg);
}

static void test_good_file(void)
{
    const char *text =
        "# a comment\n"
        "; another comment\n"
        "[data]\n"
        "train_images = /a/train-images.gz\n"
        "train_labels=/a/train-labels.gz\n"
        "test_images   =   /a/t10k images.gz   \n"
        "test_labels = /a/t10k-labels.gz ; inline comment\n"
        "train_limit = 2000\n"
        "test_limit = 1000\n"
        "\n"
        "[model]\n"
        "layers = 784, 32 ,10\n"
        "  seed = 18446744073709551615\n"
        "[train]\n"
        "epochs = 0\n"
        "batch_size = 0\n"
        "learning_rate = 0.1\n"
        "schedule = cosine\n"
        "warmup_epochs = 0.5\n"
        "step_every = 3\n"
        "step_factor = 1\n"
        "min_lr = 1e-3\n"
        "reduction = float\n"
        "exact_group = 8\n"
        "[output]\n"
        "file = out.h5\n";
    Config c;
    Err e = {""};
    config_defaults(&c);
    int rc = config_load_file(&c, temp_file(text), &e);
    CHECK(rc == 0, "good file should load: %s", e.msg);
    CHECK(strcmp(c.train_images, "/a/train-images.gz") == 0, "file train_images %s", c.train_images);
    CHECK(strcmp(c.train_labels, "/a/train-labels.gz") == 0, "file train_labels %s", c.train_labels);
    CHECK(strcmp(c.test_images, "/a/t10k images.gz") == 0, "file test_images \"%s\"", c.test_images);
    CHECK(strcmp(c.test_labels, "/a/t10k-labels.gz") == 0, "file test_labels \"%s\"", c.test_labels);
    CHECK(c.train_limit == 2000 && c.test_limit == 1000, "file limits");
    CHECK(c.n_layers == 3 && c.layers[0] == 784 && c.layers[1] == 32 && c.layers[2] == 10,
          "file layers");
    CHECK(c.seed == UINT64_MAX, "file seed %llu", (unsigned long long)c.seed);
    CHECK(c.epochs == 0 && c.batch_size == 0, "file epochs/batch_size");
    CHECK(c.learning_rate == 0.1 && c.schedule == SCHEDULE_COSINE, "file learning rate/schedule");
    CHECK(c.warmup_epochs == 0.5 && c.step_every == 3 && c.step_factor == 1.0 && c.min_lr == 1e-3,
          "file schedule parameters");
    CHECK(c.reduction == REDUCTION_FLOAT && c.exact_group == 8, "file reduction");
    CHECK(strcmp(c.output_file, "out.h5") == 0, "file output.file");
    CHECK(config_validate(&c, &e) == 0, "good file should validate: %s", e.msg);

    /* a partial file changes only its keys */
    Config d, dd;
    const char *what = "";
    config_defaults(&d);
    config_defaults(&dd);
    dd.epochs = 3;
    CHECK(config_load_string(&d, "[train]\nepochs = 3\n", &e) == 0, "partial text: %s", e.msg);
    CHECK(configs_equal(&d, &dd, &what), "partial text changed %s", what);
}

static void test_set_every_key(void)
{
    Config c;
    config_defaults(&c);
    expect_set_ok(&c, "data.train_images=/x/ti");
    expect_set_ok(&c, "data.train_labels = /x/tl");
    expect_set_ok(&c, " data . test_images =/x/si ");
    expect_set_ok(&c, "data.test_labels=/x/sl=with=equals");
    expect_set_ok(&c, "data.train_limit=7");
    expect_set_ok(&c, "data.test_limit=9223372036854775807");
    expect_set_ok(&c, "model.layers=2,1048576,1");
    expect_set_ok(&c, "model.seed=0");
    expect_set_ok(&c, "train.epochs=5");
    expect_set_ok(&c, "train.batch_size=64");
    expect_set_ok(&c, "train.learning_rate=1e-2");
    expect_set_ok(&c, "train.schedule=step");
    expect_set_ok(&c, "train.warmup_epochs=2.25");
    expect_set_ok(&c, "train.step_every=4");
    expect_set_ok(&c, "train.step_factor=0.25");
    expect_set_ok(&c, "train.min_lr=0");
    expect_set_ok(&c, "train.reduction=float");
    expect_set_ok(&c, "train.exact_group=16");
    expect_set_ok(&c, "output.file=o.h5");
    CHECK(strcmp(c.train_images, "/x/ti") == 0, "set train_images");
    CHECK(strcmp(c.train_labels, "/x/tl") == 0, "set train_labels");
    CHECK(strcmp(c.test_images, "/x/si") == 0, "set test_images \"%s\"", c.test_images);
    CHECK(strcmp(c.test_labels, "/x/sl=with=equals") == 0, "set test_labels \"%s\"", c.test_labels);
    CHECK(c.train_limit == 7 && c.test_limit == INT64_MAX, "set limits");
    CHECK(c.n_layers == 3 && c.layers[0] == 2 && c.layers[1] == 1048576 && c.layers[2] == 1,
          "set layers");
    CHECK(c.seed == 0, "set seed");
    CHECK(c.epochs == 5 && c.batch_size == 64, "set epochs/batch_size");
    CHECK(c.learning_rate == 1e-2 && c.schedule == SCHEDULE_STEP, "set learning_rate/schedule");
    CHECK(c.warmup_epochs == 2.25 && c.step_every == 4 && c.step_factor == 0.25 && c.min_lr == 0.0,
          "set schedule parameters");
    CHECK(c.reduction == REDUCTION_FLOAT && c.exact_group == 16, "set reduction");
    CHECK(strcmp(c.output_file, "o.h5") == 0, "set output.file");
    expect_set_ok(&c, "train.schedule=constant");
    CHECK(c.schedule == SCHEDULE_CONSTANT, "set schedule constant");
    expect_set_ok(&c, "train.reduction=exact");
    CHECK(c.reduction == REDUCTION_EXACT, "set reduction exact");
}

static void round_trip(const Config *c, const char *label)
{
    Config back;
    Err e = {""};
    const char *what = "";
    char *text = config_to_ini(c);
    CHECK(text != NULL, "%s: config_to_ini returned NULL", label);
    if (!text)
        return;
    config_defaults(&back);
    /* start from something different so every key must come from the text */
    back.learning_rate = 123.0;
    back.n_layers = 2;
    int rc = config_load_string(&back, text, &e);
    CHECK(rc == 0, "%s: re-parsing config_to_ini failed: %s\n%s", label, e.msg, text);
    CHECK(configs_equal(c, &back, &what), "%s: round trip changed %s\n%s", label, what, text);
    free(text);
}

static void test_round_trip(void)
{
    Config c;
    config_defaults(&c);
    round_trip(&c, "defaults");

    char *text = config_to_ini(&c);
    const char *sections[] = {"[data]", "[model]", "[train]", "[output]"};
    const char *names[] = {"train_images", "train_labels", "test_images", "test_labels",
                           "train_limit", "test_limit", "layers", "seed", "epochs", "batch_size",
                           "learning_rate", "schedule", "warmup_epochs", "step_every",
                           "step_factor", "min_lr", "reduction", "exact_group", "file"};
    for (size_t i = 0; text && i < sizeof sections / sizeof sections[0]; i++)
        CHECK(strstr(text, sections[i]) != NULL, "config_to_ini lacks %s", sections[i]);
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n%s = ", names[i]);
        const char *at = text ? strstr(text, line) : NULL;
        CHECK(at != NULL, "config_to_ini lacks key %s", names[i]);
        /* the line before every key is a help comment: step back to its start */
        const char *prev = at;
        while (prev && prev > text && prev[-1] != '\n')
            prev--;
        CHECK(prev && *prev == '#', "key %s has no comment line above it", names[i]);
    }
    free(text);

    /* awkward values: doubles that need 17 digits, extreme integers, a long path */
    c.learning_rate = 0.1 + 0.2;
    c.warmup_epochs = 1e-300;
    c.step_factor = nextafter(1.0, 0.0);
    c.min_lr = 4.9406564584124654e-324;
    c.schedule = SCHEDULE_COSINE;
    c.reduction = REDUCTION_FLOAT;
    c.seed = UINT64_MAX;
    c.train_limit = INT64_MAX;
    c.epochs = 0;
    c.n_layers = CONFIG_MAX_LAYERS;
    for (int i = 0; i < CONFIG_MAX_LAYERS; i++)
        c.layers[i] = 1048576 - i;
    memset(c.output_file, 'p', CONFIG_PATH_MAX - 1);
    c.output_file[0] = '/';
    c.output_file[CONFIG_PATH_MAX - 1] = '\0';
    round_trip(&c, "awkward values");
}

static void test_file_errors(void)
{
    Config c, before;
    Err e = {""};
    const char *what = "";
    config_defaults(&c);
    before = c;

    /* missing file */
    int rc = config_load_file(&c, "/nonexistent/dir/cfg.ini", &e);
    CHECK(rc != 0, "missing file should fail");
    CHECK(strstr(e.msg, "cannot open config file /nonexistent/dir/cfg.ini") != NULL &&
              strstr(e.msg, "No such file") != NULL, "missing file message: %s", e.msg);

    /* a directory given as the file */
    char dir[] = "/tmp/test_config_dir_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    e.msg[0] = '\0';
    rc = config_load_file(&c, dir, &e);
    CHECK(rc != 0, "a directory should fail");
    CHECK(strstr(e.msg, dir) != NULL && strstr(e.msg, "directory") != NULL,
          "directory message: %s", e.msg);
    rmdir(dir);
    CHECK(configs_equal(&c, &before, &what), "failed opens changed %s", what);

    /* syntax errors, unknown names, bad values, with their line numbers */
    expect_load_error("[train]\nepochs = 3\nthis is not ini\n", 3, "syntax error");
    expect_load_error("[train]\nepochs = 3\n[broken\n", 3, "syntax error");
    expect_load_error("[train]\nepochs = 3\nbogus = 1\n", 3, "\"train.bogus\"");
    expect_load_error("[train]\nbogus = 1\n", 2, "epochs, batch_size");
    expect_load_error("[foo]\nbar = 1\n", 2, "unknown section [foo]");
    expect_load_error("epochs = 1\n[train]\n", 1, "outside any section");
    expect_load_error("[train]\nepochs = 3\n\nlearning_rate = abc\nepochs = x\n", 4,
                      "train.learning_rate = \"abc\": expected a finite number > 0");
    expect_load_error("[train]\nepochs =\n", 2, "train.epochs");
    expect_load_error("[train]\nschedule = linear\n", 2,
                      "train.schedule = \"linear\": expected one of constant, step, cosine");
    expect_load_error("[model]\nlayers = 784\n", 2, "model.layers");
    /* a bad value on line 2 and a syntax error on line 3: the first error is reported */
    expect_load_error("[data]\ntest_limit = -5\nnot ini\n", 2, "data.test_limit");
}

static void test_bad_values(void)
{
    const char *bad_ints[] = {"nan", "-1", "1e999", "abc", "", "1.5", "99999999999999999999",
                              "3abc", "0x10", "1 2"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++) {
        char a[128];
        snprintf(a, sizeof a, "train.epochs=%s", bad_ints[i]);
        expect_set_error(a, "train.epochs");
        expect_set_error(a, "expected an integer >= 0");
        snprintf(a, sizeof a, "data.train_limit=%s", bad_ints[i]);
        expect_set_error(a, "data.train_limit");
    }
    const char *bad_doubles[] = {"nan", "NaN", "inf", "-inf", "-1", "1e999", "abc", "", "0",
                                 "1.0x", "0x"};
    for (size_t i = 0; i < sizeof bad_doubles / sizeof bad_doubles[0]; i++) {
        char a[128];
        snprintf(a, sizeof a, "train.learning_rate=%s", bad_doubles[i]);
        expect_set_error(a, "train.learning_rate");
        expect_set_error(a, "expected a finite number > 0");
    }
    expect_set_error("train.warmup_epochs=-0.5", "train.warmup_epochs");
    expect_set_error("train.warmup_epochs=nan", "expected a finite number >= 0");
    expect_set_error("train.min_lr=-1e-9", "train.min_lr");
    expect_set_error("train.step_factor=0", "expected a finite number in (0, 1]");
    expect_set_error("train.step_factor=1.0000001", "train.step_factor");
    expect_set_error("train.step_every=0", "expected an integer >= 1");
    expect_set_error("train.exact_group=0", "train.exact_group");
    expect_set_error("train.batch_size=-1", "train.batch_size");
    expect_set_error("data.test_limit=-1", "data.test_limit");
    expect_set_error("model.seed=-1", "model.seed");
    expect_set_error("model.seed=18446744073709551616", "expected an unsigned 64-bit integer");
    expect_set_error("model.seed=1.5", "model.seed");
    expect_set_error("model.seed=", "model.seed");
    expect_set_error("train.schedule=linear", "expected one of constant, step, cosine");
    expect_set_error("train.schedule=Cosine", "train.schedule");
    expect_set_error("train.reduction=double", "expected one of exact, float");
    expect_set_error("output.file=", "output.file");
    expect_set_error("data.train_images=  ", "data.train_images");
    expect_set_error("output.file=a ;b", "output.file");

    char long_path[CONFIG_PATH_MAX + 32];
    snprintf(long_path, sizeof long_path, "output.file=/");
    memset(long_path + 13, 'x', CONFIG_PATH_MAX);
    long_path[13 + CONFIG_PATH_MAX - 1] = '\0'; /* a 1024-character path: one too many */
    expect_set_error(long_path, "longer than the limit");
    long_path[13 + CONFIG_PATH_MAX - 2] = '\0'; /* 1023 characters: accepted */
    Config c;
    config_defaults(&c);
    expect_set_ok(&c, long_path);
    CHECK(strlen(c.output_file) == CONFIG_PATH_MAX - 1, "longest path kept whole");
}

static void test_bad_layers(void)
{
    const char *bad[] = {"784,,10", "784", "0,10", "784,-3", "784,10,", ",784,10", "784;10",
                         "784,1048577", "784,1.5", "", "784 10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char a[128];
        snprintf(a, sizeof a, "model.layers=%s", bad[i]);
        expect_set_error(a, "model.layers");
        expect_set_error(a, "expected 2 to 16 comma-separated integers");
    }
    char many[128] = "model.layers=1";
    for (int i = 1; i < CONFIG_MAX_LAYERS + 1; i++)
        strcat(many, ",1");
    expect_set_error(many, "too many sizes"); /* 17 sizes */
    many[strlen(many) - 2] = '\0';           /* 16 sizes: accepted */
    Config c;
    config_defaults(&c);
    expect_set_ok(&c, many);
    CHECK(c.n_layers == CONFIG_MAX_LAYERS, "16 sizes give n_layers %d", c.n_layers);
}

static void test_malformed_set(void)
{
    const char *bad[] = {"train.epochs", "epochs=3", "=3", "train.=3", ".epochs=3", "",
                         "epochs=3.5", "train epochs 3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_set_error(bad[i], "--set section.key=value");
    expect_set_error("train.bogus=1", "unknown key \"train.bogus\"");
    expect_set_error("train.bogus=1", "epochs, batch_size, learning_rate");
    expect_set_error("foo.bar=1", "unknown section [foo]");
    expect_set_error("Train.epochs=1", "unknown section [Train]");
}

static void test_validate(void)
{
    Config c;
    Err e = {""};
    config_defaults(&c);
    c.schedule = SCHEDULE_COSINE;
    c.learning_rate = 0.1;
    c.min_lr = 0.2;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "train.min_lr") != NULL,
          "cosine min_lr > learning_rate: %s", e.msg);
    c.schedule = SCHEDULE_STEP;
    CHECK(config_validate(&c, &e) == 0, "min_lr only matters for cosine: %s", e.msg);

    config_defaults(&c);
    c.n_layers = 1;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "model.layers") != NULL,
          "one layer size: %s", e.msg);
    config_defaults(&c);
    c.learning_rate = 0.0;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "train.learning_rate") != NULL,
          "learning_rate 0: %s", e.msg);
    config_defaults(&c);
    c.learning_rate = NAN;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "train.learning_rate") != NULL,
          "learning_rate nan: %s", e.msg);
    config_defaults(&c);
    c.step_every = 0;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "train.step_every") != NULL,
          "step_every 0: %s", e.msg);
    config_defaults(&c);
    c.layers[2] = 0;
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "model.layers") != NULL,
          "a zero layer size: %s", e.msg);
    config_defaults(&c);
    c.output_file[0] = '\0';
    CHECK(config_validate(&c, &e) != 0 && strstr(e.msg, "output.file") != NULL,
          "empty output.file: %s", e.msg);
}

static void test_names(void)
{
    CHECK(strcmp(config_schedule_name(SCHEDULE_CONSTANT), "constant") == 0, "schedule name constant");
    CHECK(strcmp(config_schedule_name(SCHEDULE_STEP), "step") == 0, "schedule name step");
    CHECK(strcmp(config_schedule_name(SCHEDULE_COSINE), "cosine") == 0, "schedule name cosine");
    CHECK(strcmp(config_reduction_name(REDUCTION_EXACT), "exact") == 0, "reduction name exact");
    CHECK(strcmp(config_reduction_name(REDUCTION_FLOAT), "float") == 0, "reduction name float");
}

int main(void)
{
    test_defaults();
    test_good_file();
    test_set_every_key();
    test_round_trip();
    test_file_errors();
    test_bad_values();
    test_bad_layers();
    test_malformed_set();
    test_validate();
    test_names();
    temp_cleanup();
    return check_report("test_config");
}
