#!/usr/bin/env bash
# Every user error, at 1 and 2 ranks: a non-zero exit on every rank, one clear line naming
# the problem, and no hang (each run has a time limit). The cases are independent: they
# run two at a time (lib.sh's pool), each in a folder of its own.
# usage: errors.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# mpiexec signals the ranks of a failed job with SIGCONT, SIGTERM, SIGKILL, waiting this
# many seconds (default 1) between them, even when every rank has exited already: 2 s per
# case and nothing checked in them
export OMPI_MCA_odls_base_sigkill_timeout=0

# fixtures: small good IDX files, then broken variants of them
{ printf '\x00\x00\x08\x01\x00\x00\x07\xd0'
  gunzip -c "$data/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c 2000; } > labels.idx
{ printf '\x00\x00\x08\x03\x00\x00\x07\xd0\x00\x00\x00\x1c\x00\x00\x00\x1c'
  gunzip -c "$data/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((2000 * 784)); } > images.idx
head -c 10 images.idx > trunc-header.idx
head -c $((16 + 100 * 784 + 7)) images.idx > trunc-image.idx
{ printf '\x00\x00\x08\x04'; tail -c +5 images.idx; } > magic.idx
printf '\x1f\x8b\x08\x00garbage-that-is-not-deflate' > garbage.gz
: > empty.idx
mkdir adir
{ printf '\x00\x00\x08\x01\x00\x00\x03\xe8'; tail -c +9 labels.idx | head -c 1000; } > labels-short.idx
{ head -c 8 labels.idx; head -c 2000 /dev/zero | tr '\0' '\012'; } > labels-range.idx  # label 10
cat > base.ini <<INI
[data]
train_images = images.idx
train_labels = labels.idx
test_images = images.idx
test_labels = labels.idx
[train]
epochs = 1
batch_size = 10
[output]
file = out.h5
overwrite = true
INI
printf '[train]\nthis line is not ini\n' > syntax.ini
# a checkpoint of this data (784-16-16-10), a truncated copy, and an HDF5 file not downhill's
"$bin" train base.ini --set output.file=good.h5 > /dev/null 2>&1 || echo "FAIL could not make a checkpoint"
head -c 3000 good.ckpt-0000000200.h5 > trunc-ckpt.h5
/usr/bin/python3 -c "import h5py; h5py.File('foreign.h5', 'w').create_dataset('x', data=[1, 2, 3])" \
    || echo "FAIL could not write foreign.h5 with h5py"
: > exists.h5
printf '[train]\nbogus = 1\n' > unknown.ini

fails=0
# expect NAME PATTERN NP ARGS...: downhill must fail within 60 s with PATTERN on stderr
expect() {
    local name=$1 pattern=$2 np=$3
    shift 3
    # shellcheck disable=SC2086
    timeout 60 $mpiexec $npflag "$np" "$bin" "$@" > out.txt 2> err.txt
    local code=$?
    if [ "$code" -eq 0 ] || [ "$code" -eq 124 ]; then
        echo "FAIL $name ($np ranks): exit code $code (0 = accepted, 124 = hang)"
        fails=$((fails + 1))
    elif ! grep -q -- "$pattern" err.txt; then
        echo "FAIL $name ($np ranks): no '$pattern' in stderr:"
        sed 's/^/    /' err.txt | head -5
        fails=$((fails + 1))
    elif [ "$(grep -c 'downhill: error' err.txt)" -ne 1 ]; then
        echo "FAIL $name ($np ranks): expected exactly one error line:"
        sed 's/^/    /' err.txt | head -5
        fails=$((fails + 1))
    else
        echo "ok   $name ($np ranks): $(grep 'downhill: error' err.txt | head -1 | cut -c1-150)"
    fi
}

for np in 1 2; do
    t=(train base.ini --set)
    pool expect missing-file "cannot open" "$np" "${t[@]}" data.train_images=nope.idx
    pool expect directory "directory" "$np" "${t[@]}" data.train_images=adir
    pool expect empty-file "empty" "$np" "${t[@]}" data.train_images=empty.idx
    pool expect truncated-header "trunc-header.idx" "$np" "${t[@]}" data.train_images=trunc-header.idx
    pool expect truncated-image "truncated" "$np" "${t[@]}" data.train_images=trunc-image.idx
    pool expect wrong-magic "magic" "$np" "${t[@]}" data.train_images=magic.idx
    pool expect gzip-garbage "garbage.gz" "$np" "${t[@]}" data.train_images=garbage.gz
    pool expect count-mismatch "1000" "$np" "${t[@]}" data.train_labels=labels-short.idx
    pool expect label-range "label 10" "$np" "${t[@]}" data.train_labels=labels-range.idx
    pool expect layers-vs-pixels "model.layers" "$np" "${t[@]}" model.layers=100,10
    pool expect lr-zero "train.learning_rate" "$np" "${t[@]}" train.learning_rate=0
    pool expect lr-negative "train.learning_rate" "$np" "${t[@]}" train.learning_rate=-1
    pool expect lr-nan "train.learning_rate" "$np" "${t[@]}" train.learning_rate=nan
    pool expect lr-huge "train.learning_rate" "$np" "${t[@]}" train.learning_rate=1e999
    pool expect epochs-abc "train.epochs" "$np" "${t[@]}" train.epochs=abc
    pool expect unknown-key-set "train.bogus" "$np" "${t[@]}" train.bogus=1
    pool expect unknown-key-file "bogus" "$np" train unknown.ini
    pool expect syntax-error "syntax.ini:2" "$np" train syntax.ini
    pool expect missing-config "cannot open config" "$np" train nope.ini
    pool expect limit-too-big "data.train_limit" "$np" "${t[@]}" data.train_limit=5000
    pool expect unwritable-output "out-dir/x.h5" "$np" "${t[@]}" output.file=out-dir/x.h5
    pool expect layers-too-big "not enough memory" "$np" "${t[@]}" model.layers=784,1000000,1000000,10
    pool expect diverging-lr "not finite" "$np" "${t[@]}" train.learning_rate=1e300
    pool expect output-exists "exists" "$np" "${t[@]}" output.file=exists.h5 --set output.overwrite=false
    pool expect ckpt-architecture "model.layers" "$np" "${t[@]}" model.layers=784,32,10 --resume good.ckpt-0000000200.h5
    pool expect ckpt-truncated "trunc-ckpt.h5" "$np" "${t[@]}" output.file=r.h5 --resume trunc-ckpt.h5
    pool expect ckpt-foreign-hdf5 "not a downhill checkpoint" "$np" "${t[@]}" output.file=r.h5 --resume foreign.h5
    pool expect data-foreign-hdf5 "foreign.h5" "$np" "${t[@]}" data.train_images=foreign.h5
    pool expect eval-foreign-hdf5 "foreign.h5" "$np" eval foreign.h5
    pool expect eval-not-hdf5 "images.idx: not an HDF5 file" "$np" eval images.idx
done
pool expect batch-vs-ranks "train.batch_size" 2 train base.ini --set train.batch_size=5
pool expect batch-vs-ranks-3 "train.batch_size" 3 train base.ini --set train.batch_size=10
# one rank stopped (SIGSTOP) in a 2-rank run: the watchdog ends the job instead of a hang,
# whether the other waits in the node's window or for messages (DOWNHILL_NODE_SUM=0), with
# the step's sums in buckets (train.overlap, the default)
sed -e 's/epochs = 1/epochs = 20000/' base.ini > long.ini
# watchdog NODE_SUM: SIGSTOP to one rank once the first epoch is done
watchdog() {
    local node=$1 launcher victim="" start code=0
    DOWNHILL_NODE_SUM=$node timeout 120 $mpiexec $npflag 2 "$bin" train long.ini \
        --set train.watchdog_seconds=3 > out.txt 2> err.txt &
    launcher=$!
    # training is under way once the first epoch line is printed (or the job has ended)
    for _ in $(seq 600); do
        grep -q '^ *1 ' out.txt 2> /dev/null && victim=$(rank_pid "$launcher") && [ -n "$victim" ] && break
        kill -0 "$launcher" 2> /dev/null || break
        sleep 0.1
    done
    [ -n "$victim" ] && kill -STOP "$victim"
    start=$SECONDS
    wait "$launcher" || code=$?
    [ -n "$victim" ] && kill -KILL "$victim" 2> /dev/null
    if [ -n "$victim" ] && [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q "watchdog: rank .* waited .* at step" err.txt; then
        echo "ok   watchdog (DOWNHILL_NODE_SUM=$node): rank pid $victim stopped, job ended in $((SECONDS - start)) s: $(grep -m1 watchdog err.txt | cut -c1-150)"
    else
        echo "FAIL watchdog (DOWNHILL_NODE_SUM=$node): rank pid '$victim' stopped, exit code $code after $((SECONDS - start)) s"; sed 's/^/    /' out.txt err.txt | tail -8
    fi
}
for node in 1 0; do
    pool watchdog "$node"
done

# warnings that do not stop a run: the float reduction with more than one thread per rank
# warn_run NAME PATTERN WANT THREADS ARGS...: a 1-rank run must succeed, and PATTERN must be
# in its output (WANT 1) or not (WANT 0)
warn_run() {
    local name=$1 pattern=$2 want=$3 threads=$4
    shift 4
    OMP_NUM_THREADS=$threads timeout 60 "$bin" "$@" > out.txt 2> err.txt
    local code=$? seen=0
    grep -q -- "$pattern" out.txt err.txt && seen=1
    if [ "$code" -ne 0 ] || [ "$seen" -ne "$want" ]; then
        echo "FAIL $name: exit code $code, '$pattern' seen $seen (want $want)"
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}
pool warn_run float-2-threads "warning: train.reduction = float" 1 2 train base.ini --set train.reduction=float
pool warn_run float-1-thread "warning: train.reduction = float" 0 1 train base.ini --set train.reduction=float
pool warn_run exact-2-threads "warning: train.reduction" 0 2 train base.ini
pool_wait

echo "errors: $fails failures"
[ "$fails" -eq 0 ]
