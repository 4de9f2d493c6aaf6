/* eval.c: the evaluation behind `downhill eval`: every rank scores its block of the data
 * set; rank 0 prints the cost, the accuracy per class and the confusion matrix, and writes
 * the predictions file after gathering every rank's rows. */
#include "run/run.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "io/predfile.h"
#include "io/runfile.h"

#define EVAL_CHUNK 256

/* One evaluation on one rank. */
typedef struct {
    Model m;
    Dataset d;
    char images[CONFIG_PATH_MAX + 1]; /* the images file evaluated */
    int classes;                      /* the model's outputs */
    int threads;
    Workspace *ws;       /* (threads) */
    int64_t *confusion;  /* (classes, classes), or NULL when classes > EVAL_MAX_CLASSES */
    int32_t *predicted;  /* (d.rows), with predictions only */
    Real *outputs;       /* (d.rows, classes), with predictions only */
} Eval;

/* load_eval_set: every rank reads the model and its block of the data set. */
static int load_eval_set(const EvalRequest *req, int rank, int ranks, Eval *v, Err *e)
{
    DataInfo info;
    char *text = NULL;
    Config c;
    const char *images = req->images, *labels = req->labels;
    int64_t limit = req->limit;
    Model *m = &v->m;
    int status = h5run_read_model(req->model, &m->layout, &m->params, &text, e);
    if (status == 0 && !images) { /* default: the test set the run was trained with */
        config_defaults(&c);
        status = config_load_string(&c, text ? text : "", e);
        images = c.test_images;
        labels = c.test_labels;
    }
    free(text);
    if (status == 0)
        status = data_probe(images, labels, &info, e);
    if (status == 0 && limit > info.count)
        status = err_set(e, "--limit %lld exceeds the %lld examples of %s", (long long)limit,
                         (long long)info.count, images);
    if (status == 0 && info.dim != m->layout.n[0])
        status = err_set(e, "%s has %d inputs but the images of %s have %d pixels",
                         req->model, m->layout.n[0], images, info.dim);
    if (status == 0 && req->predictions && (limit > 0 ? limit : info.count) > INT32_MAX)
        status = err_set(e, "--predictions: at most %d examples (use --limit)", INT32_MAX);
    if (comm_check(status, e) != 0)
        return -1;
    snprintf(v->images, sizeof v->images, "%s", images);
    Shard s = shard_block(limit > 0 ? limit : info.count, rank, ranks);
    v->classes = m->layout.n[m->layout.n_layers - 1];
    return comm_check(data_load(images, labels, &s, v->classes, &v->d, e), e);
}

/* alloc_eval: workspaces, the confusion matrix and, with predictions, this rank's rows. */
static int alloc_eval(Eval *v, int predictions, Err *e)
{
    size_t rows = (size_t)v->d.rows, classes = (size_t)v->classes;
    v->threads = omp_get_max_threads();
    v->ws = calloc((size_t)v->threads, sizeof *v->ws);
    int ok = v->ws != NULL;
    for (int i = 0; ok && i < v->threads; i++)
        ok = workspace_init(&v->ws[i], &v->m.layout, EVAL_CHUNK, e) == 0;
    if (ok && classes <= EVAL_MAX_CLASSES)
        ok = (v->confusion = alloc_array(classes * classes, sizeof(int64_t), "confusion", e))
             != NULL;
    if (ok && predictions)
        ok = (v->predicted = alloc_array(rows, sizeof(int32_t), "predictions", e)) != NULL &&
             (v->outputs = alloc_array(rows * classes, sizeof(Real), "outputs", e)) != NULL;
    if (!ok && !e->msg[0])
        err_set(e, "out of memory for the evaluation workspaces");
    return comm_check(!ok, e);
}

static void free_eval(Eval *v)
{
    for (int i = 0; v->ws && i < v->threads; i++)
        workspace_free(&v->ws[i]);
    free(v->ws);
    free(v->confusion);
    free(v->predicted);
    free(v->outputs);
    data_free(&v->d);
    model_free(&v->m);
}

/* print_per_class: each label's examples, correct predictions and accuracy. */
static void print_per_class(FILE *log, const int64_t *cm, int classes)
{
    fprintf(log, "per-class accuracy (label: correct / examples = accuracy):\n");
    for (int t = 0; t < classes; t++) {
        int64_t n = 0;
        for (int p = 0; p < classes; p++)
            n += cm[(size_t)t * classes + p];
        int64_t hit = cm[(size_t)t * classes + t];
        if (n > 0)
            fprintf(log, "%5d: %lld / %lld = %.4f\n", t, (long long)hit, (long long)n,
                    (double)hit / (double)n);
        else
            fprintf(log, "%5d: 0 / 0 (no examples)\n", t);
    }
}

/* print_confusion: the matrix, rows = true label, columns = predicted class. */
static void print_confusion(FILE *log, const int64_t *cm, int classes)
{
    int64_t most = 0;
    for (size_t c = 0; c < (size_t)classes * classes; c++)
        most = cm[c] > most ? cm[c] : most;
    int width = snprintf(NULL, 0, "%lld", (long long)most) + 1;
    width = width < 5 ? 5 : width;
    fprintf(log, "confusion matrix (rows: true label, columns: predicted class):\n%5s", "");
    for (int p = 0; p < classes; p++)
        fprintf(log, "%*d", width, p);
    fputc('\n', log);
    for (int t = 0; t < classes; t++) {
        fprintf(log, "%5d", t);
        for (int p = 0; p < classes; p++)
            fprintf(log, "%*lld", width, (long long)cm[(size_t)t * classes + p]);
        fputc('\n', log);
    }
}

/* print_report: what rank 0 prints. */
static void print_report(FILE *log, const EvalRequest *req, const Eval *v, const Score *s)
{
    fprintf(log, "model: %s\ndata: %s (%lld examples)\ncost: %.6f\naccuracy: %.4f\n"
                 "correct: %lld of %lld\n",
            req->model, v->images, (long long)s->count, s->cost, s->accuracy,
            (long long)s->correct, (long long)s->count);
    if (!v->confusion) {
        fprintf(log, "per-class accuracy and confusion matrix: not shown for more than %d "
                     "outputs\n", EVAL_MAX_CLASSES);
        return;
    }
    print_per_class(log, v->confusion, v->classes);
    print_confusion(log, v->confusion, v->classes);
}

/* write_predictions: gathers every rank's rows to rank 0, which writes the file. */
static int write_predictions(const EvalRequest *req, int rank, Eval *v, const Score *s,
                             FILE *log, Err *e)
{
    size_t n = rank == 0 ? (size_t)s->count : 0, classes = (size_t)v->classes;
    Predictions p = {.model = req->model, .data = v->images, .count = s->count,
                     .classes = v->classes, .confusion = v->confusion};
    uint8_t *labels = rank == 0 ? alloc_array(n, 1, "gathered labels", e) : NULL;
    int32_t *predicted = rank == 0 ? alloc_array(n, sizeof *predicted, "gathered predictions",
                                                 e) : NULL;
    Real *outputs = rank == 0 ? alloc_array(n * classes, sizeof *outputs, "gathered outputs",
                                            e) : NULL;
    int status = rank == 0 && (!labels || !predicted || !outputs);
    if (comm_check(status, e) == 0) {
        comm_gather_rows(v->d.labels, v->d.rows, 1, labels);
        comm_gather_rows(v->predicted, v->d.rows, sizeof *predicted, predicted);
        comm_gather_rows(v->outputs, v->d.rows, classes * sizeof *outputs, outputs);
        p.labels = labels, p.predicted = predicted, p.outputs = outputs;
        status = rank == 0 ? predfile_write(req->predictions, &p, e) : 0;
        if (status == 0 && log)
            fprintf(log, "predictions: wrote %s (%lld examples)\n", req->predictions,
                    (long long)s->count);
        status = comm_check(status, e);
    } else {
        status = -1;
    }
    free(labels);
    free(predicted);
    free(outputs);
    return status;
}

int eval_run(const EvalRequest *req, int rank, int ranks, FILE *log, Score *out, Err *e)
{
    Eval v = {0};
    int status = 0;
    log = rank == 0 ? log : NULL;
    if (req->predictions && rank == 0) /* fail before the work, not after it */
        status = predfile_check(req->predictions, req->model, e);
    status = comm_check(status, e);
    if (status == 0)
        status = load_eval_set(req, rank, ranks, &v, e);
    if (status == 0)
        status = alloc_eval(&v, req->predictions != NULL, e);
    EvalDetail detail = {.confusion = v.confusion, .predicted = v.predicted,
                         .outputs = v.outputs};
    if (status == 0)
        status = evaluate_detail(&v.m, &v.d, v.ws, v.threads, out, &detail, e);
    if (status == 0 && log)
        print_report(log, req, &v, out);
    if (status == 0 && req->predictions)
        status = write_predictions(req, rank, &v, out, log, e);
    free_eval(&v);
    return status;
}
