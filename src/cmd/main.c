/* main.c: the command line. Parses arguments and calls the library; nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/bench.h"
#include "run/checkpoint.h"
#include "comm/comm.h"
#include "cmd/commbench.h"
#include "run/config.h"
#include "io/data.h"
#include "io/info.h"
#include "io/inputfile.h"
#include "run/run.h"

enum { EXIT_ERROR = 1, EXIT_USAGE = 2 };

static const char *USAGE =
    "usage: downhill COMMAND [options]\n"
    "\n"
    "Trains fully-connected sigmoid networks by data-parallel gradient descent.\n"
    "Run under mpirun for several ranks; without it downhill runs as one rank.\n"
    "\n"
    "commands:\n"
    "  train CONFIG [--set section.key=value ...]   train, write an HDF5 run file\n"
    "  eval RUN.h5 [--images F --labels F] [--limit N] [--predictions FILE]\n"
    "                                               accuracy (per class), confusion matrix\n"
    "  convert IMAGES LABELS OUT.h5 [--limit N]     IDX files -> HDF5 input file\n"
    "  info FILE.h5                                 summary of a run or input file\n"
    "  bench [--limit N] [--set section.key=value ...]  FMA peak and training-step speed\n"
    "  comm [--sizes LIST] [--reps N] [--csv FILE]  allreduce time against message size\n"
    "\n"
    "options: --help (also after a command), --version\n"
    "Configuration keys and examples: README.md; file formats: docs/FORMATS.md\n";

static const char *TRAIN_USAGE =
    "usage: downhill train CONFIG [--set section.key=value ...] [--resume FILE|auto]\n"
    "                             [--force]\n"
    "\n"
    "Trains the network described by the INI file CONFIG (see configs/*.ini; every key\n"
    "has a default). --set overrides one key and may be repeated, e.g.\n"
    "  mpirun -np 2 downhill train configs/fashion-mnist.ini --set train.epochs=3\n"
    "Rank 0 prints the resolved configuration and one line per epoch; the run file\n"
    "(output.file) holds the weights, the history and the configuration.\n"
    "Threads per rank: OMP_NUM_THREADS. Results do not depend on ranks or threads.\n"
    "--resume FILE continues from a checkpoint; --resume auto from the newest checkpoint\n"
    "of this run, or starts fresh (same as --set checkpoint.resume=...). SIGUSR1 or\n"
    "SIGTERM: checkpoint at the next step and exit with code 75 (resubmit me).\n"
    "--force replaces an existing output file (same as --set output.overwrite=true).\n";

static const char *EVAL_USAGE =
    "usage: downhill eval RUN.h5 [--images FILE --labels FILE] [--limit N]\n"
    "                            [--predictions FILE.csv|FILE.h5]\n"
    "\n"
    "Mean cost and accuracy of the model saved in RUN.h5 on a labelled image set\n"
    "(IDX, plain or .gz, or a downhill HDF5 input file), the number of correct\n"
    "examples, the accuracy of each class and the confusion matrix (rows: true label,\n"
    "columns: predicted class, the first largest output). Default: the test set named in\n"
    "the run's configuration. --limit N uses the first N examples.\n"
    "--predictions FILE writes one row per example: index, label, predicted class and\n"
    "the network's outputs, as CSV (FILE ends in .csv) or HDF5 (.h5, with the confusion\n"
    "matrix); an existing FILE is replaced (never RUN.h5). Layout: docs/FORMATS.md.\n"
    "The numbers do not depend on ranks or threads:\n"
    "  mpirun -np 2 downhill eval run.h5 --predictions predictions.csv\n";

static const char *CONVERT_USAGE =
    "usage: downhill convert IMAGES LABELS OUT.h5 [--limit N]\n"
    "\n"
    "Writes the IDX image and label files (plain or .gz) as a downhill HDF5 input file:\n"
    "/images uint8 (N, rows*cols), /labels uint8 (N). --limit N keeps the first N.\n";

static const char *INFO_USAGE =
    "usage: downhill info FILE.h5\n"
    "\n"
    "Prints a summary of a downhill run file (layout, configuration, last epoch, weights\n"
    "hash) or input file (examples, image shape), one 'key: value' per line.\n";

static const char *BENCH_USAGE =
    "usage: downhill bench [--limit N] [--set section.key=value ...]\n"
    "\n"
    "Measures this machine's float32 FMA peak with its own kernel, then the training step\n"
    "(examples/s, GFLOP/s, percent of peak) at batch 10, 64 and 256, for 1 to\n"
    "OMP_NUM_THREADS threads (default 2) and both reductions, the speedup of the most\n"
    "threads over one (pairs of repetitions timed in turn), and the per-step cost of\n"
    "combining gradients (OpenMP and MPI, exact and float; mpi-plain: MPI's blocking\n"
    "MPI_Allreduce of the floats, the reference). Each number is the median of 7\n"
    "repetitions after a warm-up, with min and max. Run under mpirun for several ranks:\n"
    "  mpirun -np 2 --bind-to none downhill bench\n"
    "--limit N loads the first N training examples (default 16384); --set chooses the data,\n"
    "model.layers or train.exact_group. bench/report.sh writes bench/RESULTS.md.\n";

/* Options shared by the subcommands; each accepts a subset. */
typedef struct {
    const char *images, *labels;
    const char *predictions; /* eval only */
    long long limit;
    int help;
} Options;

static int usage_error(int rank, const char *usage, const char *fmt, const char *arg)
{
    if (rank == 0) {
        fprintf(stderr, "downhill: error: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n%s", usage);
    }
    return EXIT_USAGE;
}

/* report_once: an error every rank found alike (e.g. a bad --set), printed by rank 0. */
static int report_once(int rank, const Err *e)
{
    if (rank == 0)
        fprintf(stderr, "downhill: error: %s\n", e->msg);
    return EXIT_ERROR;
}

/* resume_option: --resume X is --set checkpoint.resume=X. */
static int resume_option(Config *c, const char *value, Err *e)
{
    char assignment[CONFIG_PATH_MAX + 32];
    snprintf(assignment, sizeof assignment, "checkpoint.resume=%s", value);
    return config_set(c, assignment, e);
}

/* parse_limit: a whole number >= 0. */
static int parse_limit(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* parse_options: getopt_long over argv; applies --set to c when c is non-NULL. */
static int parse_options(int argc, char **argv, int rank, const char *usage, Config *c,
                         Options *o)
{
    static const struct option longs[] = {
        {"help", no_argument, 0, 'h'},         {"set", required_argument, 0, 's'},
        {"images", required_argument, 0, 'i'}, {"labels", required_argument, 0, 'l'},
        {"limit", required_argument, 0, 'n'},  {"resume", required_argument, 0, 'r'},
        {"force", no_argument, 0, 'f'},        {"predictions", required_argument, 0, 'p'},
        {0, 0, 0, 0}};
    Err e;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (ch == 'h')
            o->help = 1;
        else if (ch == 's' && c && config_set(c, optarg, &e) != 0)
            return report_once(rank, &e);
        else if (ch == 's' && !c)
            return usage_error(rank, usage, "%s does not take --set", argv[0]);
        else if (ch == 'r' && !c)
            return usage_error(rank, usage, "%s does not take --resume", argv[0]);
        else if (ch == 'r' && resume_option(c, optarg, &e) != 0)
            return report_once(rank, &e);
        else if (ch == 'f' && !c)
            return usage_error(rank, usage, "%s does not take --force", argv[0]);
        else if (ch == 'f')
            c->overwrite = 1;
        else if (ch == 'p' && usage != EVAL_USAGE)
            return usage_error(rank, usage, "--predictions is an option of eval only%s", "");
        else if (ch == 'p')
            o->predictions = optarg;
        else if (ch == 'i')
            o->images = optarg;
        else if (ch == 'l')
            o->labels = optarg;
        else if (ch == 'n' && parse_limit(optarg, &o->limit) != 0)
            return usage_error(rank, usage, "--limit %s: expected a whole number >= 0", optarg);
        else if (ch == '?')
            return usage_error(rank, usage, "unknown or incomplete option %s",
                               argv[optind - 1]);
    }
    return 0;
}

/* options_or_help: parses the options; returns 1 when the command must stop now with
 * *code: a usage error, or --help (printed by rank 0). */
static int options_or_help(int argc, char **argv, int rank, const char *usage, Config *c,
                           Options *o, int *code)
{
    *code = parse_options(argc, argv, rank, usage, c, o);
    if (*code == 0 && o->help && rank == 0)
        fputs(usage, stdout);
    return *code != 0 || o->help;
}

/* report: prints an error once (the rank that owns the message) and gives the exit code. */
static int report(int status, const Err *e)
{
    if (status == 0)
        return 0;
    if (e->msg[0])
        fprintf(stderr, "downhill: error: %s\n", e->msg);
    return EXIT_ERROR;
}

static int cmd_train(int argc, char **argv, int rank, int ranks)
{
    Config c;
    Options o = {0};
    Err e = {{0}};
    config_defaults(&c);
    if (argc < 2 || argv[1][0] == '-') { /* no CONFIG: only --help is fine */
        int code;
        if (options_or_help(argc, argv, rank, TRAIN_USAGE, NULL, &o, &code))
            return code;
        return usage_error(rank, TRAIN_USAGE, "train needs a CONFIG file%s", "");
    }
    int status = config_load_file(&c, argv[1], &e);
    if (comm_check(status, &e) != 0)
        return report(status, &e);
    int code;
    if (options_or_help(argc - 1, argv + 1, rank, TRAIN_USAGE, &c, &o, &code))
        return code;
    status = comm_check(config_validate(&c, &e), &e);
    TrainSummary summary = {0};
    if (status == 0)
        status = train_run(&c, rank, ranks, stdout, &summary, &e);
    if (status == 0 && summary.stopped)
        return EXIT_RESUBMIT;
    return report(status, &e);
}

static int cmd_eval(int argc, char **argv, int rank, int ranks)
{
    Options o = {0};
    Err e = {{0}};
    int code;
    if (options_or_help(argc, argv, rank, EVAL_USAGE, NULL, &o, &code))
        return code;
    if (optind != argc - 1)
        return usage_error(rank, EVAL_USAGE, "eval needs exactly one RUN.h5 file%s", "");
    if (!o.images != !o.labels)
        return usage_error(rank, EVAL_USAGE, "--images and --labels go together%s", "");
    Score score;
    EvalRequest req = {.model = argv[optind], .images = o.images, .labels = o.labels,
                       .limit = o.limit, .predictions = o.predictions};
    int status = eval_run(&req, rank, ranks, stdout, &score, &e);
    return report(status, &e);
}

/* convert_files: reads both IDX files whole and writes the HDF5 input file (one rank). */
static int convert_files(const char *images, const char *labels, const char *out,
                         long long limit, Err *e)
{
    DataInfo info;
    uint8_t *img = NULL, *lab = NULL;
    int status = data_read_idx_all(images, labels, &info, &img, &lab, e);
    if (status == 0 && limit > info.count)
        status = err_set(e, "--limit %lld exceeds the %lld examples of %s", limit,
                         (long long)info.count, images);
    if (status == 0)
        status = h5in_write(out, img, lab, limit > 0 ? limit : info.count, info.img_rows,
                            info.img_cols, e);
    if (status == 0)
        printf("wrote %s: %lld examples of %d x %d pixels\n", out,
               limit > 0 ? limit : (long long)info.count, info.img_rows, info.img_cols);
    free(img);
    free(lab);
    return status;
}

static int cmd_convert(int argc, char **argv, int rank)
{
    Options o = {0};
    Err e = {{0}};
    int code;
    if (options_or_help(argc, argv, rank, CONVERT_USAGE, NULL, &o, &code))
        return code;
    if (optind != argc - 3)
        return usage_error(rank, CONVERT_USAGE, "convert needs IMAGES LABELS OUT.h5%s", "");
    int status = rank == 0 ? convert_files(argv[optind], argv[optind + 1], argv[optind + 2],
                                           o.limit, &e)
                           : 0;
    return report(comm_check(status, &e), &e);
}

static int cmd_info(int argc, char **argv, int rank)
{
    Options o = {0};
    Err e = {{0}};
    int code;
    if (options_or_help(argc, argv, rank, INFO_USAGE, NULL, &o, &code))
        return code;
    if (optind != argc - 1)
        return usage_error(rank, INFO_USAGE, "info needs exactly one FILE.h5%s", "");
    int status = rank == 0 ? h5_info(argv[optind], stdout, &e) : 0;
    return report(comm_check(status, &e), &e);
}

static int cmd_bench(int argc, char **argv, int rank, int ranks)
{
    Config c;
    Options o = {0};
    Err e = {{0}};
    config_defaults(&c);
    int code;
    if (options_or_help(argc, argv, rank, BENCH_USAGE, &c, &o, &code))
        return code;
    if (optind != argc)
        return usage_error(rank, BENCH_USAGE, "bench takes no argument '%s'", argv[optind]);
    const char *env = getenv("OMP_NUM_THREADS");
    int threads = env && atoi(env) > 0 ? atoi(env) : 2;
    int status = comm_check(config_validate(&c, &e), &e);
    if (status == 0)
        status = bench_run(&c, o.limit ? o.limit : 16384, threads, rank, ranks, stdout, &e);
    return report(status, &e);
}

static const char *COMM_USAGE =
    "usage: downhill comm [--sizes LIST] [--reps N] [--csv FILE]\n"
    "\n"
    "Times the training step's reduction (in-place allreduce: int64 sums by downhill's own\n"
    "Rabenseifner algorithm for the exact path, floats by MPI_Iallreduce for the float\n"
    "path, and floats by MPI's blocking MPI_Allreduce as the plain reference) for each\n"
    "message size: median, min and max over N repetitions (default 30) after a warm-up,\n"
    "each started together, slowest rank.\n"
    "LIST: bytes, comma-separated, suffix k or m, 'trainer' = the trainer's message\n"
    "(13,007 values); default 8 B to 1 MiB and the trainer's message. --csv writes\n"
    "ranks,bytes,kind,median_us,min_us,max_us (input of scripts/comm_model.py):\n"
    "  mpirun -np 2 downhill comm --csv comm-p2.csv\n";

static int cmd_comm(int argc, char **argv, int rank, int ranks)
{
    static const struct option longs[] = {{"help", no_argument, 0, 'h'},
                                          {"sizes", required_argument, 0, 's'},
                                          {"reps", required_argument, 0, 'r'},
                                          {"csv", required_argument, 0, 'c'},
                                          {0, 0, 0, 0}};
    size_t bytes[COMMBENCH_MAX_SIZES];
    int nsizes = commbench_default_sizes(bytes), ch;
    long long reps = 30;
    const char *csv = NULL;
    Err e = {{0}};
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (ch == 'h') {
            if (rank == 0)
                fputs(COMM_USAGE, stdout);
            return 0;
        } else if (ch == 's' && (nsizes = commbench_parse_sizes(optarg, bytes,
                                                                 COMMBENCH_MAX_SIZES, &e)) < 0)
            return report_once(rank, &e);
        else if (ch == 'r' && (parse_limit(optarg, &reps) != 0 || reps < 1 || reps > 100000))
            return usage_error(rank, COMM_USAGE, "--reps %s: expected 1 to 100000", optarg);
        else if (ch == 'c')
            csv = optarg;
        else if (ch == '?')
            return usage_error(rank, COMM_USAGE, "unknown or incomplete option %s",
                               argv[optind - 1]);
    }
    if (optind != argc)
        return usage_error(rank, COMM_USAGE, "comm takes no argument '%s'", argv[optind]);
    return report(commbench_run(bytes, nsizes, (int)reps, rank, ranks, stdout, csv, &e), &e);
}

static int dispatch(int argc, char **argv, int rank, int ranks)
{
    if (argc < 2)
        return usage_error(rank, USAGE, "no command given%s", "");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (rank == 0)
            fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        if (rank == 0)
            printf("downhill %s (%s, numerics %d)\n", DOWNHILL_VERSION, REAL_NAME,
                   DOWNHILL_NUMERICS);
        return 0;
    }
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1, rank, ranks);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1, rank, ranks);
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 1, argv + 1, rank);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1, rank);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1, rank, ranks);
    if (!strcmp(cmd, "comm"))
        return cmd_comm(argc - 1, argv + 1, rank, ranks);
    return usage_error(rank, USAGE, "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    int rank, ranks;
    comm_init(&argc, &argv, &rank, &ranks);
    int code = dispatch(argc, argv, rank, ranks);
    fflush(stdout);
    comm_finalize();
    return code;
}
