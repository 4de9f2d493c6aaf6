# slurm_lib.sh: sourced by the SLURM scenarios (slurm.sh, slurm_multi.sh) with their
# arguments, right after their `set -uo pipefail`. Answers --help (and a wrong argument
# count, exit 2) with the scenario's header; sets bin (DOWNHILL, absolute), root (the
# source tree), data (Fashion-MNIST); defines the ok/fail counters, the scratch folder and
# the job helpers both scenarios use.
# shellcheck shell=bash disable=SC2034  # root: for the scenario

if [ $# -ne 1 ] || [ "$1" = --help ]; then
    sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0 || exit 2
fi
bin_arg=$1
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
PATH=$PATH:/usr/sbin
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# require TOOL...: exit 77 (skip) when a tool is missing, 1 when DOWNHILL is not a program
require() {
    local p
    for p in "$@"; do
        command -v "$p" > /dev/null || { echo "skip: $p not installed (bash scripts/install-deps.sh --tests)"; exit 77; }
    done
    [ -x "$bin" ] || { echo "FAIL no downhill binary at $bin_arg"; exit 1; }
}

# make_scratch NAME: t0 (the start), scratch (TMPDIR/downhill-NAME.XXXXXX) and its work
# folder, which the jobs run in
make_scratch() {
    t0=$(date +%s)
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/downhill-$1.XXXXXX")
    work=$scratch/work
    mkdir -p "$work"
    chmod 755 "$scratch" # munged needs the folders above its socket searchable
}

# drop_scratch NAME: removes the scratch folder unless a check failed; says how long it took
drop_scratch() {
    if [ "$fails" -eq 0 ]; then rm -rf "$scratch"; else echo "$1: logs kept in $scratch"; fi
    echo "$1: $(($(date +%s) - t0)) s"
}

# verdict NAME: the closing line; exit status 0 when every check passed
verdict() {
    [ "$fails" -eq 0 ] && echo "$1: all ok" || echo "$1: $fails failure(s)"
    [ "$fails" -eq 0 ]
}

# tiny_ini TEST_LIMIT BATCH: a two-epoch config on the first 2000 training examples
tiny_ini() {
    cat << INI
[data]
train_images = $data/train-images-idx3-ubyte.gz
train_labels = $data/train-labels-idx1-ubyte.gz
test_images = $data/t10k-images-idx3-ubyte.gz
test_labels = $data/t10k-labels-idx1-ubyte.gz
train_limit = 2000
test_limit = $1
[train]
epochs = 2
batch_size = $2
learning_rate = 3.0
INI
}

# state JOB: JobState of the job (empty if unknown)
state() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
restarts() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p'; }
finished() { case $1 in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;; esac; return 1; }
# wait_done JOB SECONDS: waits until the job has ended; prints its final state
wait_done() {
    local s
    for _ in $(seq $(($2 * 2))); do
        s=$(state "$1")
        finished "$s" && { echo "$s"; return 0; }
        sleep 0.5
    done
    echo "${s:-UNKNOWN}(still running after $2 s)"
}
# outcome FILE: weights hash and the history columns but the clocks
outcome() {
    "$bin" info "$1" | grep -E '^(params_hash|history_length|last_epoch):'
    h5dump -d /history/epoch -d /history/train_cost -d /history/test_cost \
        -d /history/test_accuracy "$1" | grep -v '^HDF5'
}
hash_of() { "$bin" info "$1" 2> /dev/null | sed -n 's/^params_hash: //p'; }
