/* config_keys.c: the configuration keys (see config_keys.h): one line of the table per key;
 * the defaults, the parsers and the resolved INI text (with its help comments) read it. */
#include "config_keys.h"

#include "run/config.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"
#define OFF(field) offsetof(Config, field)

const char *const config_schedule_names[] = {"constant", "step", "cosine", NULL};
const char *const config_reduction_names[] = {"exact", "float", NULL};
static const char *const activation_names[] = {"sigmoid", "tanh", "relu", NULL};
static const char *const output_names[] = {"sigmoid", "softmax", NULL};
static const char *const cost_names[] = {"quadratic", "cross_entropy", NULL};
static const char *const sum_bytes_names[] = {"auto", "2", "3", "4", "5", "6", "7", "8", NULL};
static const char *const overlap_names[] = {"false", "true", "auto", NULL};
static const char *const init_names[] = {"auto", "normal", "glorot", "he", NULL};

const KeySpec config_keys[] = {
    {"data", "train_images", KEY_PATH, OFF(train_images), 0, 0, FASHION "train-images-idx3-ubyte.gz",
     "a non-empty path", "training images: IDX file (plain or .gz) or downhill HDF5 input file", NULL},
    {"data", "train_labels", KEY_PATH, OFF(train_labels), 0, 0, FASHION "train-labels-idx1-ubyte.gz",
     "a non-empty path", "training labels: IDX file (plain or .gz) or downhill HDF5 input file", NULL},
    {"data", "test_images", KEY_PATH, OFF(test_images), 0, 0, FASHION "t10k-images-idx3-ubyte.gz",
     "a non-empty path", "test images: IDX file (plain or .gz) or downhill HDF5 input file", NULL},
    {"data", "test_labels", KEY_PATH, OFF(test_labels), 0, 0, FASHION "t10k-labels-idx1-ubyte.gz",
     "a non-empty path", "test labels: IDX file (plain or .gz) or downhill HDF5 input file", NULL},
    {"data", "train_limit", KEY_INT, OFF(train_limit), 0, 0, "0", "an integer >= 0",
     "use only the first N training examples; 0 = all (integer >= 0)", NULL},
    {"data", "test_limit", KEY_INT, OFF(test_limit), 0, 0, "0", "an integer >= 0",
     "use only the first N test examples; 0 = all (integer >= 0)", NULL},
    {"model", "layers", KEY_LAYERS, OFF(layers), 0, 0, "784,16,16,10",
     "2 to 16 comma-separated integers in 1..1048576",
     "layer sizes, inputs first: 2 to 16 comma-separated integers in 1..1048576", NULL},
    {"model", "seed", KEY_UINT, OFF(seed), 0, 0, "1", "an unsigned 64-bit integer",
     "initialisation and shuffling seed (unsigned 64-bit integer)", NULL},
    {"model", "activation", KEY_ENUM, OFF(activation), 0, 0, "sigmoid", "one of sigmoid, tanh, relu",
     "hidden layers' activation: sigmoid | tanh | relu", activation_names},
    {"model", "output", KEY_ENUM, OFF(output), 0, 0, "sigmoid", "one of sigmoid, softmax",
     "output layer: sigmoid (each output alone) | softmax (outputs sum to 1)", output_names},
    {"model", "cost", KEY_ENUM, OFF(cost), 0, 0, "quadratic", "one of quadratic, cross_entropy",
     "cost of one example: quadratic (sum of (a - y)^2) | cross_entropy", cost_names},
    {"model", "init", KEY_ENUM, OFF(init), 0, 0, "auto", "one of auto, normal, glorot, he",
     "weight initialisation: auto (by activation: sigmoid normal, tanh glorot, relu he) | "
     "normal (N(0, 1/fan_in)) | glorot (N(0, 2/(fan_in + fan_out))) | he (N(0, 2/fan_in))",
     init_names},
    {"train", "epochs", KEY_INT, OFF(epochs), 0, 0, "10", "an integer >= 0",
     "passes over the training set; 0 = only write and evaluate the initial model (integer >= 0)", NULL},
    {"train", "batch_size", KEY_INT, OFF(batch_size), 0, 0, "10", "an integer >= 0",
     "global mini-batch size summed over all ranks; 0 = full batch (integer >= 0)", NULL},
    {"train", "learning_rate", KEY_DOUBLE, OFF(learning_rate), 0, DBL_POSITIVE, "1.0",
     "a finite number > 0", "peak learning rate eta (finite number > 0)", NULL},
    {"train", "schedule", KEY_ENUM, OFF(schedule), 0, 0, "cosine", "one of constant, step, cosine",
     "learning-rate schedule after warmup: constant | step | cosine", config_schedule_names},
    {"train", "warmup_epochs", KEY_DOUBLE, OFF(warmup_epochs), 0, DBL_NONNEGATIVE, "0",
     "a finite number >= 0", "linear warmup length in epochs, may be fractional; 0 = none (finite number >= 0)", NULL},
    {"train", "step_every", KEY_INT, OFF(step_every), 1, 0, "1", "an integer >= 1",
     "step schedule: multiply the rate by step_factor every N epochs (integer >= 1)", NULL},
    {"train", "step_factor", KEY_DOUBLE, OFF(step_factor), 0, DBL_UNIT, "0.5",
     "a finite number in (0, 1]", "step schedule: factor applied every step_every epochs (number in (0, 1])", NULL},
    {"train", "min_lr", KEY_DOUBLE, OFF(min_lr), 0, DBL_NONNEGATIVE, "0", "a finite number >= 0",
     "cosine schedule: final learning rate, <= learning_rate (finite number >= 0)", NULL},
    {"train", "reduction", KEY_ENUM, OFF(reduction), 0, 0, "exact", "one of exact, float",
     "gradient sum across ranks: exact (bitwise reproducible at any rank count) | float (plain allreduce)",
     config_reduction_names},
    {"train", "exact_group", KEY_INT, OFF(exact_group), 1, 0, "1", "an integer >= 1",
     "exact reduction: lanes whose gradient (but the weights of the first layer and of "
     "layers of >= 64 inputs) is summed in floating point before the exact sum (integer >= 1)",
     NULL},
    {"train", "sum_bytes", KEY_ENUM, OFF(sum_bytes), 0, 0, "auto", "auto or an integer in 2..8",
     "exact reduction between nodes: bytes per sum on the wire, 2..8 (8 = int64), or auto "
     "(per block of 4096 sums, from the steps before); sums past a rank's share of the width "
     "go again as int64: the result never depends on it", sum_bytes_names},
    {"train", "overlap", KEY_ENUM, OFF(overlap), 0, 0, "auto", "one of auto, true, false",
     "several ranks: each bucket of the step's sums (the layers after the first, then the "
     "first layer's column blocks) is sent as soon as it is complete, during the rest of the "
     "backward pass: true | false (all at once after it) | auto (true when the sums travel "
     "by messages and the network has at least 32768 parameters); the same result", overlap_names},
    {"train", "momentum", KEY_DOUBLE, OFF(momentum), 0, DBL_FRACTION, "0", "a finite number in [0, 1)",
     "heavy-ball momentum mu: v <- mu v + g, theta <- theta - eta v; 0 = plain gradient descent", NULL},
    {"train", "nesterov", KEY_BOOL, OFF(nesterov), 0, 0, "false", "true or false",
     "Nesterov momentum: theta <- theta - eta (g + mu v) instead of - eta v", NULL},
    {"train", "weight_decay", KEY_DOUBLE, OFF(weight_decay), 0, DBL_NONNEGATIVE, "0",
     "a finite number >= 0", "L2 regularisation lambda: adds lambda theta to each weight's "
     "gradient (biases excluded); 0 = none", NULL},
    {"train", "watchdog_seconds", KEY_DOUBLE, OFF(watchdog_seconds), 0, DBL_POSITIVE, "600",
     "a finite number > 0", "abort the job when a collective waits longer than this (seconds)", NULL},
    {"train", "max_rollbacks", KEY_INT, OFF(max_rollbacks), 0, 0, "0", "an integer >= 0",
     "on divergence (non-finite cost or gradient): 0 = stop; N = roll back to the last "
     "checkpoint up to N times, lowering the learning rate", NULL},
    {"train", "rollback_factor", KEY_DOUBLE, OFF(rollback_factor), 0, DBL_UNIT, "0.5",
     "a finite number in (0, 1]", "learning-rate factor applied at each rollback", NULL},
    {"output", "file", KEY_PATH, OFF(output_file), 0, 0, "downhill-run.h5", "a non-empty path",
     "HDF5 run file written by the run (non-empty path)", NULL},
    {"output", "overwrite", KEY_BOOL, OFF(overwrite), 0, 0, "false", "true or false",
     "replace an existing output.file (a resumed run always continues its own); --force sets it", NULL},
    {"checkpoint", "prefix", KEY_TEXT, OFF(ckpt_prefix), 0, 0, "", "a path prefix, or empty",
     "checkpoint files are PREFIX.ckpt-STEP.h5; empty = output.file without its .h5", NULL},
    {"checkpoint", "every_steps", KEY_INT, OFF(ckpt_every_steps), 0, 0, "0", "an integer >= 0",
     "write a checkpoint every N update steps; 0 = off (integer >= 0)", NULL},
    {"checkpoint", "every_epochs", KEY_INT, OFF(ckpt_every_epochs), 0, 0, "1", "an integer >= 0",
     "write a checkpoint every N epochs; 0 = off (integer >= 0)", NULL},
    {"checkpoint", "every_seconds", KEY_DOUBLE, OFF(ckpt_every_seconds), 0, DBL_NONNEGATIVE, "0",
     "a finite number >= 0", "write a checkpoint every N seconds of wall time; 0 = off", NULL},
    {"checkpoint", "keep", KEY_INT, OFF(ckpt_keep), 1, 0, "2", "an integer >= 1",
     "keep the newest N checkpoints of the run, delete older ones (integer >= 1)", NULL},
    {"checkpoint", "verify_every", KEY_INT, OFF(ckpt_verify_every), 0, 0, "0", "an integer >= 0",
     "compare a hash of the weights across ranks every N steps; 0 = after restore and at the end only", NULL},
    {"checkpoint", "resume", KEY_TEXT, OFF(resume), 0, 0, "", "empty, auto, or a checkpoint path",
     "continue from a checkpoint: a file, auto (the newest of this run, or a fresh start), empty = no", NULL},
};

const size_t config_n_keys = sizeof config_keys / sizeof config_keys[0];
