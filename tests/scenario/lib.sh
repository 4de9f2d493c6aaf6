# lib.sh: sourced by the test scenarios (invariance, checkpoint, errors, timing).
# Takes the scenario's arguments DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG, moves into a
# scratch folder removed on exit, and defines ok/fail counters, the data INI section and a
# pool that runs independent cases two at a time.
# shellcheck shell=bash
bin=$1 mpiexec=$2 npflag=$3
data=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# rank_pid LAUNCHER: a rank of the job started in the background as `timeout ... mpiexec`
# (nothing once the job has ended)
rank_pid() {
    local mpirun
    mpirun=$(pgrep -P "$1" | head -1)
    [ -n "$mpirun" ] && pgrep -P "$mpirun" | tail -1
}

# data_ini TRAIN_LIMIT TEST_LIMIT: the [data] section for Fashion-MNIST
data_ini() {
    cat <<INI
[data]
train_images = $data/train-images-idx3-ubyte.gz
train_labels = $data/train-labels-idx1-ubyte.gz
test_images = $data/t10k-images-idx3-ubyte.gz
test_labels = $data/t10k-labels-idx1-ubyte.gz
train_limit = $1
test_limit = $2
INI
}

# summary NP THREADS [--set ...]: trains run.ini into out.h5 on NP ranks x THREADS threads
# and prints the weights hash and the history (exits on a failed training)
summary() {
    local np=$1 th=$2
    shift 2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$th $mpiexec $npflag "$np" "$bin" train run.ini --force --set output.file=out.h5 "$@" \
        > train.log 2>&1 || { cat train.log; echo "FAIL: training at $np ranks x $th threads"; exit 1; }
    "$bin" info out.h5 | grep -E '^(params_hash|last_epoch|last_train_cost|last_test_cost|last_test_accuracy):'
    h5dump -d /history/train_cost -d /history/test_cost -d /history/test_accuracy out.h5 \
        | grep -v HDF5
}

# pool CMD ARGS...: runs CMD ARGS (a function or a program) in the background in a folder
# of its own, .pool/N, holding a copy of the scratch folder's files as they are now (a
# copy, not links: a case writing run.log must not write another case's); at most
# POOL_JOBS (default 2) cases run at once. Its output is kept for pool_wait.
pool_n=0
pool() {
    local dir
    pool_n=$((pool_n + 1))
    dir=$work/.pool/$pool_n
    mkdir -p "$dir"
    cp -a "$work"/* "$dir/"
    ( cd "$dir" && "$@" ) > "$dir.out" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge "${POOL_JOBS:-2}" ]; do wait -n; done
}
# pool_wait: waits for every pooled case, prints their outputs in the order they were
# started and counts their FAIL lines into fails
pool_wait() {
    local i
    wait
    for ((i = 1; i <= pool_n; i++)); do
        cat "$work/.pool/$i.out"
        fails=$((fails + $(grep -c '^FAIL' "$work/.pool/$i.out")))
    done
    rm -rf "$work/.pool"
    pool_n=0
}
