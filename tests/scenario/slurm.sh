#!/usr/bin/env bash
# jobs/*.sbatch against a real single-node SLURM started for the test (scripts/slurm-local.sh:
# munged, slurmctld, slurmd, everything in a scratch folder, stopped by PID at the end,
# also when a test fails or the script is interrupted). Installs nothing.
#   1. sbatch jobs/train.sbatch with a tiny config, under mpirun and under srun --mpi=pmix:
#      completes, the HDF5 run file is valid, both launches end with the same weights.
#   2. jobs/scaling.sbatch: the CSV and the PNG exist, strong scaling is bitwise reproducible.
#   3. --time=1 --signal=B:USR1@10: the warning makes the job checkpoint and requeue itself
#      (as often as needed); it ends with the weights and history of an uninterrupted run.
#   4. scancel --signal=USR1 --batch, twice: three allocations, same weights and history.
# Scenarios 3 and 4 run at the same time as the uninterrupted reference run, and 1 and 2
# beside them; the training length is calibrated on this machine (before any job runs) so
# that the first allocation outlives the warning.
# usage: tests/slurm.sh DOWNHILL   (exit 0 all ok, 1 a failure, 77 SLURM not installed)
set -uo pipefail

# shellcheck source=tests/scenario/slurm_lib.sh
. "$(dirname "$0")/slurm_lib.sh" "$@"

require sbatch squeue scontrol scancel srun slurmctld slurmd munged
[ "$(id -u)" -eq 0 ] || { echo "FAIL the SLURM fixture needs root (slurmd runs the jobs)"; exit 1; }

make_scratch slurm
ref_pid=""

cleanup() {
    [ -n "$ref_pid" ] && kill "$ref_pid" 2> /dev/null
    bash "$root/scripts/slurm-local.sh" stop "$scratch/slurm"
    drop_scratch slurm
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 1' INT TERM

bash "$root/scripts/slurm-local.sh" start "$scratch/slurm" || { fail "the SLURM fixture did not start"; tail -20 "$scratch"/slurm/*.log; exit 1; }
export SLURM_CONF=$scratch/slurm/slurm.conf DOWNHILL=$bin
export DOWNHILL_SCRIPTS=$root/scripts
cd "$work" || exit 1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

tiny_ini 500 10 > tiny.ini

show_log() { echo "--- $1"; tail -25 "$1"; }

# 3 and 4. a run long enough to outlive the first warning (27-48 s into the job): measure
# this machine's epoch time, aim at about 60 s of training on one rank
cat tiny.ini > long.ini
sed -i -e 's/train_limit = 2000/train_limit = 20000/' -e 's/test_limit = 500/test_limit = 300/' long.ini
OMP_NUM_THREADS=1 "$bin" train long.ini --set train.epochs=5 --set output.file=calib.h5 > calib.log 2>&1 \
    || { fail "calibration run"; show_log calib.log; exit 1; }
epochs=$(h5dump -y -w 0 -d /history/seconds calib.h5 | awk '/DATA/ { on = 1; next } on && /}/ { on = 0 }
    on { gsub(/,/, " "); for (i = 1; i <= NF; i++) { n++; if (n > 2) s += $i } }
    END { e = int(60 / (s / (n - 2))); print (e < 50 ? 50 : e) }')
sed -i "s/epochs = 2/epochs = $epochs/" long.ini
printf '[checkpoint]\nevery_epochs = 25\n' >> long.ini
echo "slurm: long run: $epochs epochs of 20000 examples (about 60 s on one rank)"

OMP_NUM_THREADS=1 "$bin" train long.ini --set output.file=ref.h5 > ref.log 2>&1 &
ref_pid=$!
jt=$(sbatch --parsable -n 1 --time=1 --signal=B:USR1@10 -o limit.out "$root/jobs/train.sbatch" long.ini --set output.file=limit.h5)
js=$(DOWNHILL_LAUNCHER=srun sbatch --parsable -n 1 -o cancel.out "$root/jobs/train.sbatch" long.ini --set output.file=cancel.h5)

# 1 and 2 run beside 3 and 4 (the calibration above had the machine to itself: more load
# now only makes the long jobs' first allocations outlive their warning more surely);
# they are checked after the loop below
# 1. tiny runs under both launchers (config from the command line, then from the environment)
j1=$(sbatch --parsable -n 2 -o tiny-mpirun.out "$root/jobs/train.sbatch" tiny.ini --set output.file=tiny-mpirun.h5)
j2=$(DOWNHILL_LAUNCHER=srun DOWNHILL_CONFIG=tiny.ini DOWNHILL_ARGS="--set output.file=tiny-srun.h5" \
     sbatch --parsable -n 2 -o tiny-srun.out "$root/jobs/train.sbatch")
# 2. the scaling job: P = 1, 2 under srun, strong and weak
jsc=$(DOWNHILL_LAUNCHER=srun DOWNHILL_CONFIG=tiny.ini DOWNHILL_SCALING_DIR=$work/scaling \
    sbatch --parsable -n 2 -o scaling.out "$root/jobs/scaling.sbatch" --epochs 3 --train-limit 3000 --batch 32 --per-rank-batch 16)

# one loop drives both jobs: signal the second one once in each of its first two
# allocations (after an epoch line), release requeued jobs from their hold-off
declare -A pending_since=()
signalled=0 deadline=$(($(date +%s) + 300))
st="" ss=""
while [ "$(date +%s)" -lt "$deadline" ]; do
    st=$(state "$jt") ss=$(state "$js")
    for pair in "$jt:$st" "$js:$ss"; do
        id=${pair%%:*} s=${pair#*:}
        if [ "$s" = PENDING ] && [ "$(restarts "$id")" -gt 0 ]; then
            # requeued: skip the ~120 s BeginTime hold-off, but not within 2 s of the
            # requeue (a start in the same second as the requeue is refused by slurmd:
            # "Job credential revoked"); repeat, since too early is overridden
            pending_since[$id]=${pending_since[$id]:-$(date +%s)}
            if [ $(($(date +%s) - pending_since[$id])) -ge 2 ]; then
                scontrol update JobId="$id" StartTime=now 2> /dev/null
            fi
        else
            unset "pending_since[$id]"
        fi
    done
    if [ "$ss" = RUNNING ] && [ "$signalled" -lt 2 ]; then
        starts=$(grep -c '^train.sbatch: job' cancel.out 2> /dev/null)
        # an epoch line after the last start header: the trainer is running
        if [ "${starts:-0}" -eq $((signalled + 1)) ] \
            && awk '/^train.sbatch: job/ { e = 0 } /^ +[0-9]+ +[0-9.]+ +[0-9.]+ +0\.[0-9]+ / { e++ } END { exit !(e >= 2) }' cancel.out; then
            scancel --signal=USR1 --batch "$js" && signalled=$((signalled + 1))
        fi
    fi
    case $st in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) t_done=1 ;; *) t_done=0 ;; esac
    case $ss in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) s_done=1 ;; *) s_done=0 ;; esac
    [ $t_done -eq 1 ] && [ $s_done -eq 1 ] && break
    sleep 1
done
# 1. the tiny runs
for j in "$j1:mpirun" "$j2:srun"; do
    id=${j%%:*} launcher=${j#*:}
    s=$(wait_done "$id" 120)
    if [ "$s" = COMPLETED ] && h5dump -H "tiny-$launcher.h5" > /dev/null \
        && grep -q '^format: downhill-run' <<< "$("$bin" info "tiny-$launcher.h5")" \
        && grep -q '^last_epoch: 2' <<< "$("$bin" info "tiny-$launcher.h5")" \
        && grep -q "running: $launcher" "tiny-$launcher.out"; then
        ok "train.sbatch with $launcher: job $id completed, valid run file tiny-$launcher.h5"
    else
        fail "train.sbatch with $launcher: job $id $s"; show_log "tiny-$launcher.out"
    fi
done
if [ -f tiny-mpirun.h5 ] && [ -f tiny-srun.h5 ] && [ "$(outcome tiny-mpirun.h5)" = "$(outcome tiny-srun.h5)" ]; then
    ok "mpirun and srun --mpi=pmix launches end with the same weights"
else
    fail "mpirun and srun launches differ"
fi

# 2. the scaling job
s=$(wait_done "$jsc" 180)
if [ "$s" = COMPLETED ] && [ "$(grep -c '^strong,' scaling/scaling.csv)" -eq 2 ] \
    && [ "$(grep -c '^weak,' scaling/scaling.csv)" -eq 2 ] \
    && [ "$(head -c 4 scaling/scaling.png | tail -c 3)" = PNG ] \
    && grep -q "strong scaling: every P" scaling.out; then
    ok "scaling.sbatch: job $jsc wrote scaling.csv (4 runs, strong scaling bitwise equal) and scaling.png"
else
    fail "scaling.sbatch: job $jsc $s"; show_log scaling.out
fi

wait "$ref_pid" || fail "the uninterrupted reference run"
ref_pid=""
reference=$(outcome ref.h5)

# same NAME JOB STATE FILE LOG MIN_STARTS
same() {
    local starts
    starts=$(grep -c '^train.sbatch: job' "$5")
    if [ "$3" != COMPLETED ]; then
        fail "$1: job $2 ended $3"; show_log "$5"; return
    fi
    if [ "$starts" -lt "$6" ] || ! grep -q 'requeueing job' "$5" || ! grep -q '^resumed from ' "$5"; then
        fail "$1: job $2 ran in $starts allocation(s), expected >= $6 with a requeue and a resume"; show_log "$5"; return
    fi
    if [ "$(outcome "$4")" = "$reference" ]; then
        ok "$1: $starts allocations (output of each kept), same weights and history as the uninterrupted run"
    else
        fail "$1: differs from the uninterrupted run"; diff <(echo "$reference") <(outcome "$4") | head -8
    fi
}
same "time limit (--time=1 --signal=B:USR1@10, mpirun)" "$jt" "$st" limit.h5 limit.out 2
same "scancel --signal=USR1 --batch twice (srun)" "$js" "$ss" cancel.h5 cancel.out 3
if grep -q 'got USR1' limit.out; then
    ok "time limit: the warning signal reached the batch shell and was forwarded"
else
    fail "time limit: no warning signal seen in limit.out"
fi

verdict slurm
