/* checkpoint.c: checkpoint policy (see checkpoint.h): signals, triggers, file names,
 * writing and pruning, discovery, resume rules and the check of a loaded checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include "run/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
    pending_signal = sig; /* acted on at the next step boundary, by all ranks together */
}

void checkpoint_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a file-size limit (ulimit -f) makes write() fail with EFBIG, reported with the file's
     * name, instead of killing the process without a word */
    signal(SIGXFSZ, SIG_IGN);
}

int checkpoint_signal_pending(void)
{
    return pending_signal;
}

/* ---- triggers ------------------------------------------------------------------------ */

const char *checkpoint_due(const Config *c, int64_t step, int64_t steps_per_epoch,
                           int64_t total, int agreed)
{
    int64_t epoch = step / steps_per_epoch;
    int epoch_end = step % steps_per_epoch == 0;
    if (agreed & STEP_STOP)
        return "signal";
    if (step == total)
        return "end of run";
    if (c->ckpt_every_steps > 0 && step % c->ckpt_every_steps == 0)
        return "every_steps";
    if (epoch_end && c->ckpt_every_epochs > 0 && epoch % c->ckpt_every_epochs == 0)
        return "every_epochs";
    if (agreed & STEP_CHECKPOINT)
        return "every_seconds";
    return NULL;
}

/* ---- file names ---------------------------------------------------------------------- */

/* prefix_of: the configured prefix, or output.file without a trailing ".h5". */
static void prefix_of(const Config *c, char *out, size_t n)
{
    if (c->ckpt_prefix[0]) {
        snprintf(out, n, "%s", c->ckpt_prefix);
        return;
    }
    size_t len = strlen(c->output_file);
    if (len > 3 && strcmp(c->output_file + len - 3, ".h5") == 0)
        len -= 3;
    snprintf(out, n, "%.*s", (int)len, c->output_file);
}

int checkpoint_path(const Config *c, int64_t step, char *out, size_t n, Err *e)
{
    char prefix[CONFIG_PATH_MAX];
    prefix_of(c, prefix, sizeof prefix);
    int len = snprintf(out, n, "%s.ckpt-%010" PRId64 ".h5", prefix, step);
    if (len < 0 || (size_t)len >= n)
        return err_set(e, "checkpoint path for %s is too long", prefix);
    return 0;
}

/* split_prefix: the directory and base name that checkpoint files of c start with. */
static void split_prefix(const Config *c, char *dir, size_t dn, char *base, size_t bn)
{
    char prefix[CONFIG_PATH_MAX];
    prefix_of(c, prefix, sizeof prefix);
    const char *slash = strrchr(prefix, '/');
    if (!slash) {
        snprintf(dir, dn, ".");
        snprintf(base, bn, "%s.ckpt-", prefix);
    } else {
        snprintf(dir, dn, "%.*s", slash == prefix ? 1 : (int)(slash - prefix), prefix);
        snprintf(base, bn, "%s.ckpt-", slash + 1);
    }
}

/* step_of_name: the step in "BASE0000000123.h5", or -1 when the name does not match. */
static int64_t step_of_name(const char *name, const char *base)
{
    size_t bl = strlen(base), nl = strlen(name);
    if (strncmp(name, base, bl) != 0 || nl != bl + 10 + 3 || strcmp(name + nl - 3, ".h5") != 0)
        return -1;
    int64_t step = 0;
    for (size_t i = bl; i < bl + 10; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        step = step * 10 + (name[i] - '0');
    }
    return step;
}

/* list_steps: the steps of this run's checkpoint files, descending; caller frees. */
static int64_t *list_steps(const Config *c, size_t *count)
{
    char dir[CONFIG_PATH_MAX], base[CONFIG_PATH_MAX + 16];
    split_prefix(c, dir, sizeof dir, base, sizeof base);
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    int64_t *steps = malloc(cap * sizeof *steps);
    struct dirent *ent;
    while (steps && (ent = readdir(d)) != NULL) {
        int64_t s = step_of_name(ent->d_name, base);
        if (s < 0)
            continue;
        if (*count == cap) {
            int64_t *grown = realloc(steps, 2 * cap * sizeof *steps);
            if (!grown)
                break;
            steps = grown;
            cap *= 2;
        }
        steps[(*count)++] = s;
    }
    closedir(d);
    for (size_t i = 1; steps && i < *count; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t tmp = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = tmp;
        }
    return steps;
}

/* ---- writing and pruning ------------------------------------------------------------- */

/* state_of: the training state of t as a checkpoint stores it (history and config_text
 * point to the caller's). */
static CkptState state_of(const Config *c, const Trainer *t, int64_t rollbacks,
                          HistoryRow *history, int64_t n_history, char *config_text)
{
    return (CkptState){
        .step = t->step,
        .steps_per_epoch = t->steps_per_epoch,
        .lanes = t->lanes,
        .n_train = t->n_train,
        .exact_group = t->group,
        .reduction = (int32_t)c->reduction,
        .seed = c->seed,
        .data_fingerprint = t->fingerprint,
        .epoch_cost = t->epoch_cost,
        .epoch_count = t->epoch_count,
        .lr_scale = t->lr_scale,
        .rollbacks = rollbacks,
        .n_history = n_history,
        .history = history,
        .config_text = config_text,
        .velocity = t->velocity, /* NULL when train.momentum = 0: none stored */
    };
}

int checkpoint_write(const Config *c, const Trainer *t, int64_t rollbacks, HistoryRow *history,
                     int64_t n_history, char *path, size_t n, Err *e)
{
    char *ini = config_to_ini(c);
    CkptState s = state_of(c, t, rollbacks, history, n_history, ini ? ini : "");
    int status = checkpoint_path(c, t->step, path, n, e);
    if (status == 0)
        status = h5ckpt_write(path, &t->model.layout, t->model.params, &s, e);
    free(ini);
    return status == 0 ? checkpoint_prune(c, t->step) : -1;
}

int checkpoint_prune(const Config *c, int64_t newest_step)
{
    size_t count;
    int64_t *steps = list_steps(c, &count);
    int deleted = 0;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (steps[i] > newest_step)
            continue; /* newer than this run's own (e.g. a resumed older point): leave */
        if (kept < (size_t)c->ckpt_keep || steps[i] == newest_step) {
            kept++;
            continue;
        }
        char path[CONFIG_PATH_MAX + 32];
        if (checkpoint_path(c, steps[i], path, sizeof path, NULL) == 0 && unlink(path) == 0)
            deleted++;
    }
    free(steps);
    return deleted;
}

/* ---- resuming ------------------------------------------------------------------------ */

int checkpoint_find_latest(const Config *c, char *out, size_t n, Err *e)
{
    size_t count;
    int64_t *steps = list_steps(c, &count);
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        Err skip;
        if (checkpoint_path(c, steps[i], out, n, e) != 0) {
            free(steps);
            return -1;
        }
        if (h5ckpt_step(out, &skip) == steps[i])
            break; /* complete and readable */
        fprintf(stderr, "downhill: note: skipping unreadable checkpoint %s: %s\n", out, skip.msg);
        out[0] = '\0';
    }
    free(steps);
    return 0;
}

int checkpoint_resume_path(const Config *c, FILE *log, char *path, size_t n, Err *e)
{
    path[0] = '\0';
    if (strcmp(c->resume, "auto") != 0) {
        snprintf(path, n, "%s", c->resume);
        return 0;
    }
    if (checkpoint_find_latest(c, path, n, e) != 0)
        return -1;
    if (!path[0] && log)
        fprintf(log, "resume: no checkpoint of this run yet: starting fresh\n");
    return 0;
}

/* same_layers: whether two configurations have the same layer sizes. */
static int same_layers(const Config *a, const Config *b)
{
    return a->n_layers == b->n_layers &&
           memcmp(a->layers, b->layers, sizeof(int) * (size_t)a->n_layers) == 0;
}

/* compatible: refuses to resume with keys that would change the trajectory, naming the
 * key; `then` is the checkpoint's configuration. */
static int compatible(const Config *now, const Config *then, const char *path, Err *e)
{
    const char *key = NULL;
    if (!same_layers(now, then))
        key = "model.layers";
    else if (now->seed != then->seed)
        key = "model.seed";
    else if (now->activation != then->activation)
        key = "model.activation";
    else if (now->output != then->output)
        key = "model.output";
    else if (now->cost != then->cost)
        key = "model.cost";
    else if (now->init != then->init)
        key = "model.init";
    else if (now->batch_size != then->batch_size)
        key = "train.batch_size";
    else if (now->exact_group != then->exact_group)
        key = "train.exact_group";
    else if (now->reduction != then->reduction)
        key = "train.reduction";
    else if (now->train_limit != then->train_limit)
        key = "data.train_limit";
    if (!key)
        return 0;
    return err_set(e, "cannot resume from %s: %s differs from the checkpoint's run; it "
                      "would change the training trajectory (layers, the network's kind, seed, "
                      "batch size, exact group, reduction and training data must stay; epochs, "
                      "schedule length, checkpoint settings may change)", path, key);
}

/* has_line: whether text holds the line (len bytes) as one whole line. */
static int has_line(const char *text, const char *line, size_t len)
{
    for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
        if (strcspn(p, "\n") == len && strncmp(p, line, len) == 0)
            return 1;
    return 0;
}

/* print_changes: the configuration lines that differ from the checkpoint's. */
static void print_changes(FILE *log, const char *then, const char *now)
{
    if (!log || !then || !now)
        return;
    for (const char *line = now; *line;) {
        size_t len = strcspn(line, "\n");
        int key = len > 0 && line[0] != '#' && line[0] != '[' && memchr(line, '=', len);
        if (key && !has_line(then, line, len))
            fprintf(log, "resume: changed: %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
}

int checkpoint_validate(const Config *c, const Trainer *t, const char *path, const Layout *lay,
                        const CkptState *s, FILE *log, Err *e)
{
    Config then;
    config_defaults(&then);
    if (config_load_string(&then, s->config_text ? s->config_text : "", e) != 0)
        return -1;
    if (compatible(c, &then, path, e) != 0)
        return -1;
    if (s->numerics != 0 && s->numerics != DOWNHILL_NUMERICS)
        return err_set(e, "cannot resume from %s: it was computed with numerics %d, this "
                          "downhill computes numerics %d (downhill --version): the run would "
                          "change its arithmetic midway; resume it with a downhill of numerics "
                          "%d, or start a new run", path, s->numerics, DOWNHILL_NUMERICS,
                       s->numerics);
    if (s->numerics == 0)
        fprintf(log, "resume: %s records no numerics version (an older downhill): it "
                     "continues with numerics %d, the arithmetic of AVX-512 builds before\n",
                path, DOWNHILL_NUMERICS);
    if (lay->n_params != t->model.layout.n_params)
        return err_set(e, "cannot resume from %s: its layers differ (model.layers)", path);
    if (c->momentum != 0 && !s->velocity)
        return err_set(e, "cannot resume from %s with train.momentum = %g: the checkpoint holds "
                          "no velocity (its run had train.momentum = 0, or an older downhill "
                          "wrote it); resume with train.momentum = 0, or start a new run",
                       path, c->momentum);
    if (memcmp(&lay->kind, &t->model.layout.kind, sizeof lay->kind) != 0)
        return err_set(e, "cannot resume from %s: its network is %s, %s, %s (model.activation, "
                          "model.output, model.cost), this run's %s, %s, %s", path,
                       kind_activation_name(lay->kind.hidden), kind_output_name(lay->kind.output),
                       kind_cost_name(lay->kind.cost),
                       kind_activation_name(t->model.layout.kind.hidden),
                       kind_output_name(t->model.layout.kind.output),
                       kind_cost_name(t->model.layout.kind.cost));
    if (s->data_fingerprint != t->fingerprint || s->n_train != t->n_train ||
        s->lanes != t->lanes || s->steps_per_epoch != t->steps_per_epoch)
        return err_set(e, "cannot resume from %s: the training data differ from the "
                          "checkpoint's (data.train_images, data.train_labels and "
                          "data.train_limit must name the same examples)", path);
    char *now = config_to_ini(c);
    print_changes(log, s->config_text, now);
    free(now);
    return 0;
}
