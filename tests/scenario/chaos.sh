#!/usr/bin/env bash
# Faults survived: a 2-rank training (784-64-32-10, 768 steps: long enough for the kills on
# an idle machine, where a step takes well under a millisecond) that checkpoints every 4 steps, one of its ranks (drawn
# at random) killed with SIGKILL at random moments, restarted with `--resume auto` after
# each kill until it completes; it must end with the weights hash and the history of the
# uninterrupted run. The moments, drawn from a fixed seed (CHAOS_SEED, default 20):
#   step   0-40 ms after the 1st, 2nd or 3rd new checkpoint file of the attempt (in a
#          step or in the next checkpoint write)
#   start  0-600 ms after the launch (MPI start, data loading, the initial evaluation)
#   final  0-80 ms after the checkpoint before the last (the last steps, the final
#          checkpoint and run-file writes)
# CHAOS_KILLS (default 22) kills of the first two kinds, then three attempts of the final
# kind, then a last attempt without a kill if the run is not complete yet. A run that
# completes before the kills are done is checked and the chaos goes on with a new run from
# scratch, so the count of kills does not depend on the machine's speed. Every killed job
# must end (mpirun tearing the other rank down) within the time limit of an attempt; the
# whole test is bounded by a limit on attempts.
# usage: chaos.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RANDOM=${CHAOS_SEED:-20}
want=${CHAOS_KILLS:-22} epochs=24 last=768 # 32 steps per epoch

{ data_ini 2048 500; cat <<INI; } > chaos.ini
[model]
layers = 784,64,32,10
[train]
epochs = $epochs
batch_size = 64
[checkpoint]
every_steps = 4
keep = 3
INI

# outcome FILE: weights hash and every history column but the clocks
outcome() {
    "$bin" info "$1" 2>&1 | grep -E '^(params_hash|history_length|last_epoch):'
    h5dump -d /history/epoch -d /history/train_cost -d /history/test_cost \
        -d /history/test_accuracy "$1" 2>&1 | grep -v '^HDF5'
}
# launch ARGS...: downhill train on 2 ranks in the background, output in run.log
launch() {
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 timeout -k 5 60 $mpiexec $npflag 2 "$bin" train chaos.ini "$@" > run.log 2>&1 &
    launcher=$!
}

# 1. the uninterrupted run
launch --set output.file=ref.h5
wait "$launcher" || { cat run.log; fail "uninterrupted run"; exit 1; }
reference=$(outcome ref.h5)

# ranks: the pids of the two ranks (children of mpiexec, itself the child of timeout)
ranks() { pgrep -P "$(pgrep -P "$launcher" | head -1)" 2> /dev/null; }
# newest: the step of the newest complete checkpoint (0 without one), with bash builtins
# only: the polling must see a new file within milliseconds, even on a loaded machine
newest() {
    local files=(chaos.ckpt-*.h5) f
    f=${files[${#files[@]} - 1]#chaos.ckpt-}
    f=${f%.h5}
    [[ $f =~ ^[0-9]+$ ]] && echo $((10#$f)) || echo 0
}
# wait_for STEP: until a checkpoint of STEP or later exists, or the job ended
wait_for() {
    local step
    while kill -0 "$launcher" 2> /dev/null; do
        step=$(newest)
        [ "$step" -ge "$1" ] && return 0
        sleep 0.002
    done
    return 1
}
# round_done: the run completed. With the kills wanted done: 0 (the end, checked below).
# Else (a late kill let it run on: how far a run gets between kills depends on the
# machine's speed) its result is checked now and a new round starts from scratch: 1.
round_done() {
    [ "$kills" -ge "$want" ] && return 0
    rounds=$((rounds + 1))
    local got
    got=$(outcome chaos.h5)
    if [ "$got" = "$reference" ]; then ok "round $rounds, after $kills kills: the weights and history of the uninterrupted run"
    else fail "round $rounds, after $kills kills: differs from the uninterrupted run"; fi
    rm -f chaos.h5 chaos.h5.part chaos.ckpt-*
    return 1
}
# ms N: a random delay of 0..N milliseconds, as seconds for sleep
ms() { printf '0.%03d' $((RANDOM % ($1 + 1))); }

# 2. the chaos: kill, resume, until the run completes
kills=0 attempts=0 complete=0 slowest=0 writes=0 finals=0 rounds=0 start=$SECONDS
declare -A moments=()
while [ "$attempts" -lt 80 ]; do
    attempts=$((attempts + 1))
    if [ "$kills" -ge "$want" ] && [ "$finals" -ge 3 ]; then mode=none
    elif [ "$kills" -ge "$want" ]; then mode=final
    elif [ $((RANDOM % 6)) -eq 0 ]; then mode=start
    else mode=step; fi
    victim_rank=$((RANDOM % 2))
    base=$(newest)
    touch launched
    launch --set output.file=chaos.h5 --resume auto
    launched=$SECONDS
    # the ranks' pids first, so that the kill follows the moment at once
    pids=()
    while kill -0 "$launcher" 2> /dev/null && [ "${#pids[@]}" -lt 2 ]; do
        mapfile -t pids < <(ranks)
        sleep 0.01
    done
    case $mode in
    start) delay=$(ms 600); sleep "$delay"; reached=0 ;;
    step) n=$((1 + RANDOM % 3)) delay=$(ms 40)
          wait_for $(($(newest) + 4 * n)) && sleep "$delay"; reached=$? ;;
    final) delay=$(ms 80) finals=$((finals + 1))
           wait_for $((base < last - 4 ? last - 4 : base + 1)) && sleep "$delay"; reached=$? ;;
    none) reached=1 ;;
    esac
    victim=""
    if [ "$reached" -eq 0 ]; then
        victim=${pids[$victim_rank]:-}
        [ -n "$victim" ] && kill -KILL "$victim" 2> /dev/null || victim=""
    fi
    killed_at=${EPOCHREALTIME/./}
    wait "$launcher"
    code=$?
    teardown=$(((${EPOCHREALTIME/./} - killed_at) / 1000)) # ms
    [ "$teardown" -gt "$slowest" ] && slowest=$teardown
    # (mpiexec exits 137 itself when a rank was killed: the time tells a hang)
    if [ "$code" -eq 124 ] || [ $((SECONDS - launched)) -ge 60 ]; then
        tail -5 run.log; fail "attempt $attempts: the job did not end after the kill (exit $code)"; break
    fi
    if [ -z "$victim" ]; then
        if [ "$code" -eq 0 ]; then
            echo "attempt $attempts: completed (no kill: $mode)"
            round_done && { complete=1; break; }
            continue
        fi
        tail -5 run.log; fail "attempt $attempts: exit $code without a kill"; break
    fi
    if [ "$code" -eq 0 ]; then
        echo "attempt $attempts: the rank was killed after the run completed (exit 0)"
        round_done && { complete=1; break; }
        continue
    fi
    kills=$((kills + 1))
    where=$mode
    [ -n "$(find . -name '*.tmp' -newer launched)" ] && { where="$mode, mid checkpoint write"; writes=$((writes + 1)); }
    moments[$mode]=$((${moments[$mode]:-0} + 1))
    echo "kill $kills ($where): rank $victim_rank pid $victim after ${delay}s; exit $code, job ended in ${teardown} ms; newest checkpoint at step $(newest)"
done

# 3. the result
echo "chaos: $kills kills in $attempts attempts (step ${moments[step]:-0}, start ${moments[start]:-0}, final ${moments[final]:-0}; $writes mid checkpoint write), slowest teardown ${slowest} ms, $((SECONDS - start)) s"
[ "$complete" -eq 1 ] || fail "the run did not complete in $attempts attempts"
[ "$kills" -ge 20 ] || fail "only $kills kills (want at least 20)"
if [ "$complete" -eq 1 ]; then
    got=$(outcome chaos.h5)
    if [ "$got" = "$reference" ]; then ok "after $kills kills: the weights and history of the uninterrupted run"
    else fail "after $kills kills: differs from the uninterrupted run"; diff <(echo "$reference") <(echo "$got") | head -8; fi
fi
echo "chaos: $fails failures"
[ "$fails" -eq 0 ]
