/* config.h: the run configuration: INI file (libinih) + `--set section.key=value`
 * overrides, every key with a default, validated, printable as resolved INI text. */
#ifndef DOWNHILL_CONFIG_H
#define DOWNHILL_CONFIG_H

#include <stdint.h>
#include "core/common.h"
#include "net/kind.h"

#define CONFIG_MAX_LAYERS 16
#define CONFIG_PATH_MAX 1024

typedef enum { SCHEDULE_CONSTANT = 0, SCHEDULE_STEP, SCHEDULE_COSINE } ScheduleKind;
typedef enum { REDUCTION_EXACT = 0, REDUCTION_FLOAT } ReductionKind;

/* Every key of the configuration; names match the INI sections and keys. */
/* train.overlap: the step's sums in buckets never (false), always (true) with several
 * ranks, or (auto) when they travel by messages and the network is large enough. */
typedef enum { OVERLAP_FALSE = 0, OVERLAP_TRUE = 1, OVERLAP_AUTO = 2 } OverlapKind;

typedef struct {
    /* [data] */
    char train_images[CONFIG_PATH_MAX]; /* IDX (plain or .gz) or downhill HDF5 input file */
    char train_labels[CONFIG_PATH_MAX];
    char test_images[CONFIG_PATH_MAX];
    char test_labels[CONFIG_PATH_MAX];
    int64_t train_limit; /* 0 = all training examples, else the first N */
    int64_t test_limit;  /* 0 = all test examples, else the first N */
    /* [model] */
    int n_layers;                   /* number of sizes in layers (inputs included) */
    int layers[CONFIG_MAX_LAYERS];  /* e.g. 784,16,16,10 */
    uint64_t seed;                  /* initialisation and shuffling seed */
    Activation activation;          /* hidden layers: sigmoid | tanh | relu */
    OutputKind output;              /* output layer: sigmoid | softmax */
    CostKind cost;                  /* quadratic | cross_entropy */
    InitKind init;                  /* auto | normal | glorot | he */
    /* [train] */
    int64_t epochs;          /* 0 = write and evaluate the initialised model only */
    int64_t batch_size;      /* global mini-batch B; 0 = full batch (whole training set) */
    double learning_rate;    /* eta, > 0 */
    ScheduleKind schedule;   /* constant | step | cosine */
    double warmup_epochs;    /* linear warmup length in epochs (0 = none) */
    int64_t step_every;      /* step schedule: multiply by step_factor every N epochs */
    double step_factor;      /* step schedule factor in (0, 1] */
    double min_lr;           /* cosine schedule floor, >= 0 */
    ReductionKind reduction; /* exact (bitwise reproducible) | float (plain allreduce) */
    int64_t exact_group;     /* lanes summed in floating point before the exact sum */
    int sum_bytes;           /* exact sums between nodes: bytes per value on the wire
                              * (config_sum_bytes: 0 = auto, else 2..8) */
    OverlapKind overlap;     /* the step's sums in buckets that start when complete (sums.h) */
    double momentum;         /* heavy-ball mu in [0, 1); 0 = plain gradient descent */
    int nesterov;            /* 1: Nesterov momentum */
    double weight_decay;     /* L2 lambda >= 0 on weights (not biases) */
    double watchdog_seconds; /* a collective waiting longer aborts the job */
    int64_t max_rollbacks;   /* divergence: 0 = stop, N = roll back up to N times */
    double rollback_factor;  /* learning-rate factor per rollback, in (0, 1] */
    /* [output] */
    char output_file[CONFIG_PATH_MAX]; /* the HDF5 run file */
    int overwrite;                     /* 1: replace an existing output file */
    /* [checkpoint] */
    char ckpt_prefix[CONFIG_PATH_MAX]; /* files PREFIX.ckpt-STEP.h5; "" = output_file less .h5 */
    int64_t ckpt_every_steps;   /* 0 = off */
    int64_t ckpt_every_epochs;  /* 0 = off */
    double ckpt_every_seconds;  /* 0 = off */
    int64_t ckpt_keep;          /* newest checkpoints kept, >= 1 */
    int64_t ckpt_verify_every;  /* replica check every N steps, 0 = restore and end only */
    char resume[CONFIG_PATH_MAX]; /* "" = fresh start, "auto", or a checkpoint file */
} Config;

/* config_defaults: fills c with the default of every key. */
void config_defaults(Config *c);

/* config_load_file: applies every key of the INI file at path on top of c. */
int config_load_file(Config *c, const char *path, Err *e);

/* config_load_string: applies every key of INI text (e.g. a run file's stored config). */
int config_load_string(Config *c, const char *text, Err *e);

/* config_set: applies one "section.key=value" override. */
int config_set(Config *c, const char *assignment, Err *e);

/* config_validate: checks values that depend on each other; names the key on error. */
int config_validate(const Config *c, Err *e);

/* config_to_ini: the resolved configuration as INI text with every key; caller frees. */
char *config_to_ini(const Config *c);

/* config_schedule_name / config_reduction_name: the INI spelling of an enum value. */
const char *config_schedule_name(ScheduleKind k);
const char *config_reduction_name(ReductionKind k);

/* config_overlap_name: the INI spelling of train.overlap's value. */
const char *config_overlap_name(OverlapKind k);

/* config_sum_bytes: train.sum_bytes in bytes (2..8), or 0 for auto. */
int config_sum_bytes(const Config *c);

#endif
