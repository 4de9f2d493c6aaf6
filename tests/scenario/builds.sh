#!/usr/bin/env bash
# The same bits from every build: each binary of DOWNHILL_BUILDS (other builds of downhill:
# another instruction set, no SIMD, another compiler) must end the same short trainings
# with the weights of this build's binary, at 1 and 2 ranks x 1 and 2 threads, batch 10
# and 64, AMX tiles on and off; networks of other kinds (relu, tanh, softmax,
# cross-entropy) and a wide one (784-96-80-10) at 2 ranks; and a checkpoint written by one build, resumed by another,
# must end with the weights of the uninterrupted run. A build named `portable` also runs
# as on a CPU without AVX2 and FMA as far as the C library can tell (GLIBC_TUNABLES masks
# them: its libm and fmaf then take their code for such CPUs).
# The runs compared with one reference run go two at a time (lib.sh's pool).
# usage: tests/scenario/builds.sh DOWNHILL MPIEXEC NPFLAG
#   DOWNHILL_BUILDS="NAME=PATH NAME=PATH ..." (scripts/test.sh sets it after building the
#   variants); without it the test is skipped (77).
set -uo pipefail
[ -n "${DOWNHILL_BUILDS:-}" ] || { echo "skip: DOWNHILL_BUILDS names no other build"; exit 77; }
source "$(dirname "$0")/lib.sh"

builds=("this=$bin")
for b in $DOWNHILL_BUILDS; do
    [ -x "${b#*=}" ] || { fail "no binary at ${b#*=} (${b%%=*})"; exit 1; }
    builds+=("$b")
    [ "${b%%=*}" = portable ] && builds+=("portable-no-fma=${b#*=}")
done
data_ini 1000 200 > short.ini
cat >> short.ini << INI
[train]
epochs = 2
learning_rate = 3.0
schedule = constant
INI

# hash_of BINARY RANKS THREADS BATCH AMX [ARGS...]: the weights hash of one short run
hash_of() {
    local b=$1 p=$2 t=$3 batch=$4 amx=$5 tunables=${GLIBC_TUNABLES:-}
    shift 5
    [ "$name" = portable-no-fma ] && tunables=glibc.cpu.hwcaps=-AVX2,-FMA
    GLIBC_TUNABLES=$tunables DOWNHILL_AMX=$amx OMP_NUM_THREADS=$t \
        $mpiexec $npflag "$p" "$b" train short.ini \
        --set train.batch_size="$batch" --set output.file=run.h5 --force "$@" > run.log 2>&1 ||
        { cat run.log >&2; return 1; }
    sed -n 's/^final weights: hash \([0-9a-f]*\),.*/\1/p' run.log
}
# expect_hash WANT WHAT NAME=BINARY RANKS THREADS BATCH AMX [ARGS...]: FAIL unless the run
# of that build ends with the weights hash WANT (in the pool: its own folder)
expect_hash() {
    local want=$1 what=$2 b=$3 got name
    shift 3
    name=${b%%=*}
    got=$(hash_of "${b#*=}" "$@")
    [ "$got" = "$want" ] || fail "$what: $name at $1x$2 (DOWNHILL_AMX=$4) ended with '$got', not $want"
}

for batch in 10 64; do
    before=$fails
    name=this
    want=$(hash_of "$bin" 1 1 "$batch" 1) || { fail "batch $batch: the reference run failed"; continue; }
    for b in "${builds[@]}"; do
        name=${b%%=*}
        for shape in 1x1 1x2 2x1 2x2; do
            for amx in 1 0; do
                [ "${b%%=*}" != this ] && [ "$amx" = 0 ] && continue # AMX is this build's
                pool expect_hash "$want" "batch $batch" "$b" "${shape%x*}" "${shape#*x}" "$batch" "$amx"
            done
        done
    done
    pool_wait
    [ "$fails" -eq "$before" ] &&
        ok "batch $batch: ${#builds[@]} builds x 1, 2 ranks x 1, 2 threads: weights $want"
done

# Other kinds of network: tanh and softmax through the sigmoid's and exp's Cephes code,
# the cross-entropy's own logarithm (in the test cost), relu's unbounded values.
for kind in "relu softmax cross_entropy 0.1" "tanh sigmoid cross_entropy 0.5" \
            "sigmoid softmax quadratic 3.0"; do
    read -r act out cost lr <<< "$kind"
    args=(--set model.activation="$act" --set model.output="$out" --set model.cost="$cost"
          --set train.learning_rate="$lr")
    before=$fails
    name=this
    want=$(hash_of "$bin" 1 1 64 1 "${args[@]}") || { fail "$kind: the reference run failed"; continue; }
    for b in "${builds[@]}"; do
        name=${b%%=*}
        pool expect_hash "$want" "$act, $out, $cost" "$b" 2 1 64 1 "${args[@]}"
    done
    pool_wait
    [ "$fails" -eq "$before" ] && ok "$act, $out, $cost: ${#builds[@]} builds: weights $want"
done

# A wide network (layers of >= 64 inputs: their weights summed in integers, on the AMX tiles
# or by plain loops): every build, and this one with the tiles off.
args=(--set model.layers=784,96,80,10 --set model.activation=relu --set model.output=softmax
      --set model.cost=cross_entropy --set train.learning_rate=0.1)
before=$fails
name=this
want=$(hash_of "$bin" 1 1 64 1 "${args[@]}") || fail "wide: the reference run failed"
for b in "${builds[@]}"; do
    name=${b%%=*}
    for amx in 1 0; do
        [ "${b%%=*}" != this ] && [ "$amx" = 0 ] && continue
        pool expect_hash "$want" "wide 784-96-80-10" "$b" 2 1 64 "$amx" "${args[@]}"
    done
done
pool_wait
[ "$fails" -eq "$before" ] && ok "wide 784-96-80-10: ${#builds[@]} builds: weights $want"

# A checkpoint of one build resumed by the next (the last by the first): epoch 1 by one,
# epoch 2 by the other, must give the uninterrupted run's weights.
name=this
want=$(hash_of "$bin" 2 1 64 1)
n=${#builds[@]}
# resume_across A Z: epoch 1 by build A (NAME=BINARY), epoch 2 by build Z
resume_across() {
    local a=$1 z=$2 got name
    rm -f run.ckpt-*.h5
    name=${a%%=*}
    hash_of "${a#*=}" 2 1 64 1 --set train.epochs=1 > /dev/null || { fail "${a%%=*}: first epoch"; return; }
    name=${z%%=*}
    got=$(hash_of "${z#*=}" 2 1 64 1 --resume auto)
    if [ "$got" = "$want" ]; then
        ok "epoch 1 by ${a%%=*}, resumed by ${z%%=*}: weights $want"
    else
        fail "epoch 1 by ${a%%=*}, resumed by ${z%%=*}: '$got', uninterrupted $want"
    fi
}
for ((i = 0; i < n; i++)); do
    pool resume_across "${builds[i]}" "${builds[(i + 1) % n]}"
done
pool_wait
echo "builds: $fails failures"
[ "$fails" -eq 0 ]
