/* checkpoint.c: checkpoint file names, discovery, pruning, resume rules and signals. */
#define _POSIX_C_SOURCE 200809L
#include "run/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/ckptfile.h"

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
}

int checkpoint_signal_pending(void)
{
    return pending_signal;
}

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

/* same_layers: whether two configurations have the same layer sizes. */
static int same_layers(const Config *a, const Config *b)
{
    return a->n_layers == b->n_layers &&
           memcmp(a->layers, b->layers, sizeof(int) * (size_t)a->n_layers) == 0;
}

int checkpoint_compatible(const Config *now, const Config *then, const char *path, Err *e)
{
    const char *key = NULL;
    if (!same_layers(now, then))
        key = "model.layers";
    else if (now->seed != then->seed)
        key = "model.seed";
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
                      "would change the training trajectory (layers, seed, batch size, exact "
                      "group, reduction and training data must stay; epochs, schedule length, "
                      "checkpoint settings may change)", path, key);
}
