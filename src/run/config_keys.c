/* config_keys.c: the configuration keys (see config_keys.h): one line of the table per key;
 * the defaults, the parsers and the resolved INI text (with its help comments) read it. */
#include "config_keys.h"

#include "run/config.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"
#define OFF(field) offsetof(Config, field)

const KeySpec config_keys[] = {
    {"data", "train_images", KEY_PATH, OFF(train_images), 0, 0, FASHION "train-images-idx3-ubyte.gz",
     "a non-empty path", "training images: IDX file (plain or .gz) or downhill HDF5 input file"},
    {"data", "train_labels", KEY_PATH, OFF(train_labels), 0, 0, FASHION "train-labels-idx1-ubyte.gz",
     "a non-empty path", "training labels: IDX file (plain or .gz) or downhill HDF5 input file"},
    {"data", "test_images", KEY_PATH, OFF(test_images), 0, 0, FASHION "t10k-images-idx3-ubyte.gz",
     "a non-empty path", "test images: IDX file (plain or .gz) or downhill HDF5 input file"},
    {"data", "test_labels", KEY_PATH, OFF(test_labels), 0, 0, FASHION "t10k-labels-idx1-ubyte.gz",
     "a non-empty path", "test labels: IDX file (plain or .gz) or downhill HDF5 input file"},
    {"data", "train_limit", KEY_INT, OFF(train_limit), 0, 0, "0", "an integer >= 0",
     "use only the first N training examples; 0 = all (integer >= 0)"},
    {"data", "test_limit", KEY_INT, OFF(test_limit), 0, 0, "0", "an integer >= 0",
     "use only the first N test examples; 0 = all (integer >= 0)"},
    {"model", "layers", KEY_LAYERS, OFF(layers), 0, 0, "784,16,16,10",
     "2 to 16 comma-separated integers in 1..1048576",
     "layer sizes, inputs first: 2 to 16 comma-separated integers in 1..1048576"},
    {"model", "seed", KEY_UINT, OFF(seed), 0, 0, "1", "an unsigned 64-bit integer",
     "initialisation and shuffling seed (unsigned 64-bit integer)"},
    {"train", "epochs", KEY_INT, OFF(epochs), 0, 0, "10", "an integer >= 0",
     "passes over the training set; 0 = only write and evaluate the initial model (integer >= 0)"},
    {"train", "batch_size", KEY_INT, OFF(batch_size), 0, 0, "10", "an integer >= 0",
     "global mini-batch size summed over all ranks; 0 = full batch (integer >= 0)"},
    {"train", "learning_rate", KEY_DOUBLE, OFF(learning_rate), 0, DBL_POSITIVE, "1.0",
     "a finite number > 0", "peak learning rate eta (finite number > 0)"},
    {"train", "schedule", KEY_SCHEDULE, OFF(schedule), 0, 0, "cosine", "one of constant, step, cosine",
     "learning-rate schedule after warmup: constant | step | cosine"},
    {"train", "warmup_epochs", KEY_DOUBLE, OFF(warmup_epochs), 0, DBL_NONNEGATIVE, "0",
     "a finite number >= 0", "linear warmup length in epochs, may be fractional; 0 = none (finite number >= 0)"},
    {"train", "step_every", KEY_INT, OFF(step_every), 1, 0, "1", "an integer >= 1",
     "step schedule: multiply the rate by step_factor every N epochs (integer >= 1)"},
    {"train", "step_factor", KEY_DOUBLE, OFF(step_factor), 0, DBL_UNIT, "0.5",
     "a finite number in (0, 1]", "step schedule: factor applied every step_every epochs (number in (0, 1])"},
    {"train", "min_lr", KEY_DOUBLE, OFF(min_lr), 0, DBL_NONNEGATIVE, "0", "a finite number >= 0",
     "cosine schedule: final learning rate, <= learning_rate (finite number >= 0)"},
    {"train", "reduction", KEY_REDUCTION, OFF(reduction), 0, 0, "exact", "one of exact, float",
     "gradient sum across ranks: exact (bitwise reproducible at any rank count) | float (plain allreduce)"},
    {"train", "exact_group", KEY_INT, OFF(exact_group), 1, 0, "1", "an integer >= 1",
     "exact reduction: lanes whose gradient (but the first layer's weights) is summed in "
     "floating point before the exact sum (integer >= 1)"},
    {"train", "watchdog_seconds", KEY_DOUBLE, OFF(watchdog_seconds), 0, DBL_POSITIVE, "600",
     "a finite number > 0", "abort the job when a collective waits longer than this (seconds)"},
    {"train", "max_rollbacks", KEY_INT, OFF(max_rollbacks), 0, 0, "0", "an integer >= 0",
     "on divergence (non-finite cost or gradient): 0 = stop; N = roll back to the last "
     "checkpoint up to N times, lowering the learning rate"},
    {"train", "rollback_factor", KEY_DOUBLE, OFF(rollback_factor), 0, DBL_UNIT, "0.5",
     "a finite number in (0, 1]", "learning-rate factor applied at each rollback"},
    {"output", "file", KEY_PATH, OFF(output_file), 0, 0, "downhill-run.h5", "a non-empty path",
     "HDF5 run file written by the run (non-empty path)"},
    {"output", "overwrite", KEY_BOOL, OFF(overwrite), 0, 0, "false", "true or false",
     "replace an existing output.file (a resumed run always continues its own); --force sets it"},
    {"checkpoint", "prefix", KEY_TEXT, OFF(ckpt_prefix), 0, 0, "", "a path prefix, or empty",
     "checkpoint files are PREFIX.ckpt-STEP.h5; empty = output.file without its .h5"},
    {"checkpoint", "every_steps", KEY_INT, OFF(ckpt_every_steps), 0, 0, "0", "an integer >= 0",
     "write a checkpoint every N update steps; 0 = off (integer >= 0)"},
    {"checkpoint", "every_epochs", KEY_INT, OFF(ckpt_every_epochs), 0, 0, "1", "an integer >= 0",
     "write a checkpoint every N epochs; 0 = off (integer >= 0)"},
    {"checkpoint", "every_seconds", KEY_DOUBLE, OFF(ckpt_every_seconds), 0, DBL_NONNEGATIVE, "0",
     "a finite number >= 0", "write a checkpoint every N seconds of wall time; 0 = off"},
    {"checkpoint", "keep", KEY_INT, OFF(ckpt_keep), 1, 0, "2", "an integer >= 1",
     "keep the newest N checkpoints of the run, delete older ones (integer >= 1)"},
    {"checkpoint", "verify_every", KEY_INT, OFF(ckpt_verify_every), 0, 0, "0", "an integer >= 0",
     "compare a hash of the weights across ranks every N steps; 0 = after restore and at the end only"},
    {"checkpoint", "resume", KEY_TEXT, OFF(resume), 0, 0, "", "empty, auto, or a checkpoint path",
     "continue from a checkpoint: a file, auto (the newest of this run, or a fresh start), empty = no"},
};

const size_t config_n_keys = sizeof config_keys / sizeof config_keys[0];
