#!/usr/bin/env bash
# Checkpoints and exact restart: resuming from any step (mid-epoch included), on another
# number of ranks or threads, after SIGUSR1 to one rank, or after kill -9 of a rank, ends
# with the weights and history of the uninterrupted run (with momentum too: the velocity is
# checkpointed, and a rollback restores it; and for a relu + softmax + cross-entropy
# network); bad checkpoints (another kind of network included) are refused with a clear
# error on every rank, without hanging; files record the network's kind. After the
# uninterrupted run, the cases that need no timing run two at a time (lib.sh's pool, each
# in a folder of its own); the signal and kill -9 cases run afterwards, alone.
# usage: checkpoint.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -uo pipefail
source "$(dirname "$0")/lib.sh"

{ data_ini 1000 300; cat <<INI; } > small.ini
[train]
epochs = 3
batch_size = 64
warmup_epochs = 0.5
[checkpoint]
every_steps = 5
keep = 100
INI

# train NP THREADS CONFIG ARGS...: runs downhill train, output in run.log, returns its code
train() {
    local np=$1 th=$2
    shift 2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$th timeout 300 $mpiexec $npflag "$np" "$bin" train "$@" > run.log 2>&1
}
# outcome FILE: weights hash and every history column but the clocks
outcome() {
    "$bin" info "$1" | grep -E '^(params_hash|history_length|last_epoch):'
    h5dump -d /history/epoch -d /history/train_cost -d /history/test_cost \
        -d /history/test_accuracy "$1" | grep -v '^HDF5'
}
same() { # NAME FILE REFERENCE-OUTCOME
    if [ "$(outcome "$2")" = "$3" ]; then ok "$1: same weights and history"; else
        fail "$1: differs from the uninterrupted run"; diff <(echo "$3") <(outcome "$2") | head -8; fi
}

# 1. the uninterrupted run (48 steps of 16 per epoch), checkpoints every 5 steps
train 2 1 small.ini --set output.file=ref.h5 || { cat run.log; fail "reference run"; exit 1; }
reference=$(outcome ref.h5)
ls ref.ckpt-0000000025.h5 ref.ckpt-0000000048.h5 > /dev/null 2>&1 || fail "checkpoints missing"

# 2. resume mid-epoch on other machine shapes
resume() { # NP THREADS STEP FILE NAME
    train "$1" "$2" small.ini --set output.file="$4" --resume "ref.ckpt-00000000$3.h5" \
        && same "$5" "$4" "$reference" || { cat run.log; fail "resume $3"; }
}
pool resume 1 1 25 a.h5 "resume at step 25 (epoch 2, step 9) on 1 rank"
pool resume 4 2 35 b.h5 "resume at step 35 on 4 ranks x 2 threads"
pool resume 2 1 16 c.h5 "resume at an epoch boundary (step 16)"
# a changed epoch count is applied and recorded: 2 more epochs from the end of the run
more_epochs() {
    train 2 1 small.ini --set output.file=d.h5 --set train.epochs=5 --resume ref.ckpt-0000000048.h5 \
        && grep -q "resume: changed: epochs = 5" run.log && [ "$("$bin" info d.h5 | grep last_epoch)" = "last_epoch: 5" ] \
        && ok "epochs may change on resume (recorded)" || { cat run.log; fail "epochs change on resume"; }
}
pool more_epochs

# 2b. the wall-time trigger, pruning to checkpoint.keep files, and the periodic replica check
every_seconds() {
    train 2 1 small.ini --set output.file=t.h5 --set checkpoint.every_steps=0 --set checkpoint.keep=2 \
        --set checkpoint.every_seconds=0.0001 --set checkpoint.verify_every=7
    local kept
    kept=$(ls t.ckpt-*.h5 2> /dev/null | wc -l)
    if grep -q "(every_seconds)" run.log && [ "$kept" -eq 2 ]; then
        same "every_seconds trigger, keep = 2 ($kept files), verify_every = 7" t.h5 "$reference"
    else cat run.log; fail "every_seconds / keep: $kept checkpoint files"; fi
}
pool every_seconds

# 3. --resume auto with nothing to resume starts fresh; with checkpoints picks the newest
resume_auto() {
    train 1 1 small.ini --set output.file=auto.h5 --resume auto && grep -q "starting fresh" run.log \
        && same "--resume auto without a checkpoint" auto.h5 "$reference" || { cat run.log; fail "auto fresh"; }
    rm -f auto.ckpt-0000000045.h5 auto.ckpt-0000000048.h5
    train 2 1 small.ini --set output.file=auto.h5 --resume auto && grep -q "auto.ckpt-0000000040.h5" run.log \
        && same "--resume auto picks the newest checkpoint" auto.h5 "$reference" || { cat run.log; fail "auto newest"; }
}
pool resume_auto

# references of the signal and kill -9 cases below (4, 5): 60,000 examples at batch 10
sed -e 's/train_limit = 1000/train_limit = 60000/' -e 's/epochs = 3/epochs = 6/' \
    -e 's/batch_size = 64/batch_size = 10/' -e 's/every_steps = 5/every_steps = 0/' small.ini > big.ini
# (12 epochs: about 3 s at 2 ranks, so the signal 0.5 s after the first epoch line lands
# mid-run)
sed -e 's/epochs = 6/epochs = 12/' big.ini > sig.ini
sed -e 's/every_steps = 0/every_steps = 25/' big.ini > kill.ini
# (written into .refs: every new case copies the scratch folder's files, not .refs)
mkdir .refs
pool eval 'train 2 1 sig.ini --set output.file="$work/.refs/sigref.h5" || { cat run.log; fail "signal reference"; }'
pool eval 'train 2 1 big.ini --set output.file="$work/.refs/bigref.h5" || { cat run.log; fail "big reference"; }'

# 5b. divergence with rollbacks: lr 2^900 diverges at once; one rollback to the start
# checkpoint with the factor 2^-900 (exact) continues at lr 1: the weights of a plain lr-1 run
rollbacks() {
    train 2 1 small.ini --set output.file=lr1.h5 --set train.learning_rate=1 || fail "lr 1 run"
    train 2 1 small.ini --set output.file=roll.h5 --set train.learning_rate=0x1p900 \
        --set train.max_rollbacks=1 --set train.rollback_factor=0x1p-900
    if [ $? -eq 0 ] && grep -q "rollback 1 of 1" run.log; then same "rollback after divergence" roll.h5 "$(outcome lr1.h5)"
    else cat run.log; fail "rollback after divergence"; fi
    # the same on one rank with two threads (there the step's result is read without a collective)
    train 1 2 small.ini --set output.file=roll1.h5 --set train.learning_rate=0x1p900 \
        --set train.max_rollbacks=1 --set train.rollback_factor=0x1p-900
    if [ $? -eq 0 ] && grep -q "rollback 1 of 1" run.log; then same "rollback after divergence, 1 rank x 2 threads" roll1.h5 "$(outcome lr1.h5)"
    else cat run.log; fail "rollback after divergence, 1 rank x 2 threads"; fi
}
pool rollbacks

# 5c. momentum (Nesterov, with weight decay): the velocity is part of the checkpoint, so a
# resume on another machine shape, and a rollback, continue the uninterrupted run exactly
momentum() {
    mom=(--set train.momentum=0.5 --set train.nesterov=true --set train.weight_decay=0.001
         --set train.learning_rate=1.5)
    train 2 1 small.ini --set output.file=mref.h5 "${mom[@]}" || { cat run.log; fail "momentum run"; }
    local mref
    mref=$(outcome mref.h5)
    [ "$mref" != "$reference" ] || fail "momentum changed nothing"
    h5dump -H -d /optimizer/velocity mref.ckpt-0000000025.h5 > /dev/null 2>&1 || fail "no /optimizer/velocity in a momentum checkpoint"
    ! h5dump -H -d /optimizer/velocity ref.ckpt-0000000025.h5 > /dev/null 2>&1 || fail "/optimizer/velocity in a checkpoint without momentum"
    train 1 1 small.ini --set output.file=m1.h5 "${mom[@]}" --resume mref.ckpt-0000000025.h5 && same "momentum: resume at step 25 on 1 rank" m1.h5 "$mref" || { cat run.log; fail "momentum resume 25"; }
    train 4 2 small.ini --set output.file=m2.h5 "${mom[@]}" --resume mref.ckpt-0000000035.h5 && same "momentum: resume at step 35 on 4 ranks x 2 threads" m2.h5 "$mref" || { cat run.log; fail "momentum resume 35"; }
    # a rollback restores the velocity: resumed at step 20 with the rate x 2^900, step 21 sends
    # the weights to infinity (and changes the velocity), step 22 diverges, the rollback to step
    # 20 with the factor 2^-900 continues at rate 1.5 exactly: the uninterrupted run (a rollback
    # returns to the run's own checkpoint file, so the resumed one is copied under its name; a
    # stale velocity gives other weights)
    cp mref.ckpt-0000000020.h5 mroll.ckpt-0000000020.h5
    train 2 1 small.ini --set output.file=mroll.h5 "${mom[@]}" --set train.learning_rate=0x1.8p900 \
        --set train.max_rollbacks=1 --set train.rollback_factor=0x1p-900 --resume mroll.ckpt-0000000020.h5
    if [ $? -eq 0 ] && grep -q "rollback 1 of 1" run.log; then same "momentum: rollback after divergence" mroll.h5 "$mref"
    else cat run.log; fail "momentum: rollback after divergence"; fi
}
pool momentum

# 6. bad checkpoints: a clear error on every rank, non-zero exit, no hang
# (each in the pool; mpiexec's 2 s of signals to ranks that have all exited are skipped)
refuse() { # NAME PATTERN ARGS...
    local name=$1 pattern=$2
    shift 2
    OMPI_MCA_odls_base_sigkill_timeout=0 train 2 1 small.ini --set output.file=bad.h5 "$@"
    local code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q -- "$pattern" run.log; then
        ok "$name: $(grep 'downhill: error' run.log | head -1 | cut -c1-140)"
    else fail "$name: exit $code"; head -5 run.log; fi
}
head -c 20000 ref.ckpt-0000000025.h5 > truncated.h5
cp ref.ckpt-0000000025.h5 corrupt.h5
# four bytes in the middle of the file (the whole-file checksum refuses it before HDF5)
printf '\x7f\x7f\x7f\x7f' | dd of=corrupt.h5 bs=1 seek=$(($(stat -c %s corrupt.h5) / 2)) \
    conv=notrunc status=none
pool refuse "other architecture" "model.layers" --set model.layers=784,32,10 --resume ref.ckpt-0000000025.h5
pool refuse "other training set size" "data.train_limit" --set data.train_limit=900 --resume ref.ckpt-0000000025.h5
pool refuse "other training data" "training data differ" --set data.train_images="$data/t10k-images-idx3-ubyte.gz" \
    --set data.train_labels="$data/t10k-labels-idx1-ubyte.gz" --resume ref.ckpt-0000000025.h5
pool refuse "other seed" "model.seed" --set model.seed=9 --resume ref.ckpt-0000000025.h5
pool refuse "other activation" "model.activation" --set model.activation=relu --resume ref.ckpt-0000000025.h5
pool refuse "other cost" "model.cost" --set model.cost=cross_entropy --resume ref.ckpt-0000000025.h5
pool refuse "a run file, not a checkpoint" "not a downhill checkpoint" --resume ref.h5
pool refuse "truncated checkpoint" "truncated.h5" --resume truncated.h5
pool refuse "corrupted weights" "corrupt" --resume corrupt.h5
pool refuse "missing checkpoint" "missing.h5" --resume missing.h5
# another arithmetic: a checkpoint that says it was computed with numerics 99
cp ref.ckpt-0000000025.h5 numerics.h5
/usr/bin/python3 -c "import h5py, numpy; h5py.File('numerics.h5', 'r+').attrs['numerics'] = numpy.int32(99)"
# the edit breaks the whole-file checksum: drop the integrity block to reach the numerics
# check
# unseal FILE: FILE rewritten by h5py without the integrity block, as older downhill
# versions wrote it (every attribute and object copied; HDF5's own checks only)
unseal() {
    /usr/bin/python3 -c "
import sys, h5py
src = h5py.File(sys.argv[1], 'r')
dst = h5py.File(sys.argv[1] + '.noblock', 'w')
for k, v in src.attrs.items():
    dst.attrs[k] = v
for name in src:
    src.copy(name, dst)" "$1" && mv "$1.noblock" "$1"
}
unseal numerics.h5
pool refuse "other numerics" "computed with numerics 99" --resume numerics.h5
pool refuse "momentum from a checkpoint without velocity" "holds no velocity" --set train.momentum=0.5 \
    --resume ref.ckpt-0000000025.h5

# 7. another kind of network: exact resume, its kind in the files, a checkpoint whose
# recorded kind contradicts its configuration refused; older files (no kind) are the seed's
other_kind() {
    kind=(--set model.activation=relu --set model.output=softmax --set model.cost=cross_entropy
          --set train.learning_rate=0.1)
    train 2 1 small.ini "${kind[@]}" --set output.file=kref.h5 || { cat run.log; fail "relu run"; }
    local kreference
    kreference=$(outcome kref.h5)
    train 1 2 small.ini "${kind[@]}" --set output.file=k1.h5 --resume kref.ckpt-0000000025.h5 \
        && same "relu + softmax + cross-entropy: resume at step 25 on 1 rank x 2 threads" k1.h5 "$kreference" \
        || { cat run.log; fail "relu resume"; }
    [ "$("$bin" info kref.h5 | grep -E '^(activation|output|cost):' | tr '\n' ' ')" = \
      "activation: relu output: softmax cost: cross_entropy " ] && ok "info shows the run's kind" \
        || fail "info does not show relu, softmax, cross_entropy"
    cp kref.ckpt-0000000025.h5 kind.h5
    /usr/bin/python3 -c "import h5py; h5py.File('kind.h5', 'r+').attrs['activation'] = 'tanh'"
    unseal kind.h5 # the edit broke the whole-file checksum, as for numerics.h5
    refuse "recorded kind differs" "its network is tanh" "${kind[@]}" --resume kind.h5
}
pool other_kind
# a file written before the kind attributes
old_file() {
    cp ref.h5 old.h5
    /usr/bin/python3 -c "
import h5py
f = h5py.File('old.h5', 'r+')
for k in ('activation', 'output', 'cost'): del f.attrs[k]"
    unseal old.h5 # now as an older downhill wrote it: no kind, no integrity block
    [ "$("$bin" eval old.h5 | grep accuracy)" = "$("$bin" eval ref.h5 | grep accuracy)" ] \
        && grep -q '^activation: sigmoid' <<< "$("$bin" info old.h5)" \
        && ok "a file without the kind attributes is the seed's network" || fail "old file without kind"
    /usr/bin/python3 -c "import h5py; h5py.File('old.h5', 'r+').attrs['output'] = 'swish'"
    "$bin" eval old.h5 > run.log 2>&1 && fail "an unknown output kind was accepted" \
        || { grep -q 'swish' run.log && ok "an unknown output kind is refused"; } || fail "unknown kind message"
}
pool old_file

# the cases above ran in the pool: wait for them (and their failures) before the signals
# below, whose moments count from an epoch line and want the machine to themselves
pool_wait

# wait_epoch LAUNCHER: waits for the first epoch line in run.log (or the job's end). Delays
# count from there: loading 60,000 images takes a second or more on a busy machine, and a
# signal before the run file exists tests nothing
wait_epoch() {
    for _ in $(seq 600); do
        grep -q "^ *epoch " run.log 2> /dev/null || ! kill -0 "$1" 2> /dev/null && break
        sleep 0.1
    done
}

# 4. SIGUSR1 to one rank: checkpoint, exit code 75, resume to the same weights
sigref=$(outcome .refs/sigref.h5)
OMP_NUM_THREADS=1 timeout 300 $mpiexec $npflag 2 "$bin" train sig.ini --set output.file=sig.h5 > run.log 2>&1 &
launcher=$!
wait_epoch "$launcher"
sleep 0.5
victim=$(rank_pid "$launcher")
kill -USR1 "$victim"
sleep 0.02
kill -TERM "$victim" 2> /dev/null # a second signal, likely while the checkpoint is written
wait "$launcher"
code=$?
if [ "$code" -eq 75 ] && grep -q "stopped by signal" run.log; then ok "SIGUSR1 then SIGTERM to rank pid $victim: checkpoint and exit code 75"
else cat run.log; fail "SIGUSR1: exit code $code (want 75)"; fi
train 2 1 sig.ini --set output.file=sig.h5 --resume auto && same "resume after SIGUSR1" sig.h5 "$sigref" || { cat run.log; fail "resume after signal"; }

# 5. kill -9 of a rank at three moments (checkpoints every 25 steps: about half of the time
# is spent writing them, so kills land mid-write too)
big=$(outcome .refs/bigref.h5)
kills=0 attempts=0
for delay in 1.2 1.2 1.0 1.2 1.0 1.2; do
    [ "$kills" -ge 3 ] && break
    attempts=$((attempts + 1))
    OMP_NUM_THREADS=1 timeout 300 $mpiexec $npflag 2 "$bin" train kill.ini --set output.file=kill.h5 --resume auto > run.log 2>&1 &
    launcher=$!
    wait_epoch "$launcher"
    sleep "$delay"
    victim=$(rank_pid "$launcher")
    [ -n "$victim" ] && kill -9 "$victim"
    wait "$launcher"
    code=$?
    h5dump -H kill.h5 > /dev/null 2>&1 || fail "the run file of a killed run is not readable by h5dump"
    if [ "$code" -eq 0 ]; then
        # a fast machine finished the rest of the run before the kill: that run is checked
        # like the others, and the kills go on with a run from scratch
        same "run completed before the kill" kill.h5 "$big"
        echo "     (run completed within ${delay}s; starting over from scratch)"
        rm -f kill.h5 kill.ckpt-*.h5
    elif [ -z "$victim" ]; then
        cat run.log; fail "kill -9 after ${delay}s: no rank to kill, and the run failed (exit $code)"
    else
        kills=$((kills + 1))
        ok "kill -9 of rank pid $victim after ${delay}s (exit $code): newest $(ls kill.ckpt-*.h5 | tail -1)"
    fi
done
[ "$kills" -ge 3 ] || fail "only $kills kills in $attempts runs interrupted the run (want 3)"
train 2 1 kill.ini --set output.file=kill.h5 --resume auto && same "resume after three kill -9" kill.h5 "$big" || { cat run.log; fail "resume after kill -9"; }

echo "checkpoint: $fails failures"
[ "$fails" -eq 0 ]
