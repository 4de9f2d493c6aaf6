#!/usr/bin/env bash
# A full file system, and a file-size limit: the run stops with one clear error line that
# carries the OS reason, without a crash or a hang; what was written before stays intact,
# and a resume from it (with room again) ends with the uninterrupted run's weights and
# history.
#   1. checkpoints on a tmpfs mounted by the test, 1.5 checkpoints large (the first
#      fits, the second does not): "No space left on device", the first checkpoint
#      intact, the resume from it exact. Skipped when mounting is not permitted (root).
#   2. the run file on a tmpfs of 2/3 its size, on a resume from the epoch-1 checkpoint
#      (kept elsewhere): the same checks.
#   3. RLIMIT_FSIZE (`ulimit -f`, SIGXFSZ ignored) between the checkpoint's and the run
#      file's size, on a resume: "File too large", then the same checks.
# Exit 77 when nothing could run; each run has a time limit.
# usage: fulldisk.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -uo pipefail
source "$(dirname "$0")/lib.sh"

{ data_ini 2048 500; cat <<INI; } > small.ini
[train]
epochs = 3
batch_size = 64
[checkpoint]
every_epochs = 1
keep = 100
INI

# train NP ARGS...: downhill train on NP ranks, stdout in run.log, stderr in err.log
train() {
    local np=$1
    shift
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 timeout -k 5 120 $mpiexec $npflag "$np" "$bin" train small.ini "$@" \
        > run.log 2> err.log
}
# outcome FILE: weights hash and every history column but the clocks
outcome() {
    "$bin" info "$1" 2>&1 | grep -E '^(params_hash|history_length|last_epoch):'
    h5dump -d /history/epoch -d /history/train_cost -d /history/test_cost \
        -d /history/test_accuracy "$1" 2>&1 | grep -v '^HDF5'
}
# clear NAME CODE REASON FILE: the run failed (not by a signal, not a hang) with one error
# line that names FILE and gives REASON
clear_error() {
    local name=$1 code=$2 reason=$3 file=$4 line
    line=$(grep -a '^downhill: error:' err.log | head -1)
    if [ "$code" -eq 0 ] || [ "$code" -eq 124 ] || [ "$code" -ge 128 ]; then
        fail "$name: exit code $code (0 = no error, 124 = hang, >= 128 = signal)"
    elif [ "$(grep -ac '^downhill: error:' err.log)" -ne 1 ] || ! grep -q "$reason" <<< "$line" \
        || ! grep -q "$file" <<< "$line"; then
        fail "$name: want one error line with '$reason' naming $file"
    elif [ -n "$(grep -av '^downhill: \(error\|note\|warning\):' err.log | mpiexec_lines)" ]; then
        fail "$name: other lines on stderr than downhill's error"
    else ok "$name (exit $code): $line"; return; fi
    echo "    stderr:"; head -c 1200 err.log | sed 's/^/    /'; echo
}
# mpiexec_lines: stdin without the banner Open MPI's mpiexec prints when a rank fails
mpiexec_lines() {
    grep -avE '^(-+|Primary job +terminated normally.*|a non-zero exit code.*|mpiexec detected .*|mpirun detected .*|the job to be terminated.*|  Process name: .*|  Exit code: .*|)$'
}
# intact_resume NAME CKPT: CKPT holds the uninterrupted run's weights at its step, and a
# resume from it on 2 ranks ends with the uninterrupted run's weights and history
intact_resume() {
    local name=$1 ckpt=$2 base
    base=$(basename "$ckpt")
    if [ "$("$bin" info "$ckpt" 2>&1 | grep '^params_hash')" = "$("$bin" info "ref.${base#*.}" | grep '^params_hash')" ]; then
        ok "$name: $base intact"
    else fail "$name: $base damaged or missing"; "$bin" info "$ckpt" 2>&1 | head -3; fi
    if train 2 --set output.file="resumed-$name.h5" --resume "$ckpt" \
        && [ "$(outcome "resumed-$name.h5")" = "$reference" ]; then
        ok "$name: the resume from $base ends with the uninterrupted run's weights and history"
    else fail "$name: the resume from $base differs or failed"; tail -3 err.log; fi
}

# the uninterrupted run
train 2 --set output.file=ref.h5 || { cat run.log err.log; fail "reference run"; exit 1; }
reference=$(outcome ref.h5)
ran=0
# the sizes (KB) follow the files this build writes: a tmpfs of 1.5 checkpoints (the first
# fits, the second does not), one of 2/3 of the run file, a limit between the two files
ckpt_size=$(stat -c %s ref.ckpt-0000000032.h5) run_size=$(stat -c %s ref.h5)
pages() { echo $((($1 + 4095) / 4096 * 4)); } # (whole 4 KB pages)
tmpfs_ckpt=$(pages $((ckpt_size * 3 / 2))) tmpfs_run=$(pages $((run_size * 2 / 3)))
limit=$(((ckpt_size + run_size) / 2048))
echo "checkpoint $ckpt_size B, run file $run_size B: tmpfs ${tmpfs_ckpt}k and ${tmpfs_run}k, ulimit -f $limit"

# 1. and 2. on a small tmpfs
mkdir disk
if mount -t tmpfs -o size="${tmpfs_ckpt}k" tmpfs disk 2> /dev/null; then
    trap 'umount "$work/disk" 2> /dev/null; rm -rf "$work"' EXIT
    ran=1
    # 1. the second checkpoint does not fit
    train 2 --set output.file=run1.h5 --set checkpoint.prefix=disk/c1
    clear_error "checkpoint on a full tmpfs" $? "No space left on device" "disk/c1.ckpt-0000000064.h5"
    [ -z "$(ls disk/*.tmp 2> /dev/null)" ] || echo "note: a partial checkpoint is left: $(ls disk/*.tmp)"
    mount -o remount,size=8m disk || fail "remount with room"
    intact_resume fullckpt disk/c1.ckpt-0000000032.h5
    # 2. the run file does not fit (checkpoints elsewhere)
    rm -f disk/*
    mount -o remount,size="${tmpfs_run}k" disk || fail "remount at $tmpfs_run KB"
    # (its first flush already needs more: a resume from the epoch-1 checkpoint)
    cp ref.ckpt-0000000032.h5 c2.ckpt-0000000032.h5
    train 2 --set output.file=disk/run2.h5 --set checkpoint.prefix=c2 --resume auto
    clear_error "run file on a full tmpfs" $? "No space left on device" "disk/run2.h5"
    intact_resume fullrun c2.ckpt-0000000032.h5
    umount disk
else echo "skip: mount -t tmpfs not permitted (not root?): the tmpfs cases do not run"; fi

# 3. a file-size limit (1 KB blocks; SIGXFSZ ignored) on a resume from the epoch-1
# checkpoint: the checkpoints fit, the new run file does not. One rank without mpiexec:
# the limit would stop mpiexec's own shared-memory files.
if [ "$run_size" -gt $((ckpt_size + 8192)) ]; then
    cp ref.ckpt-0000000032.h5 c3.ckpt-0000000032.h5
    ( trap '' XFSZ; ulimit -f "$limit"; export OMPI_MCA_ess_singleton_isolated=1 OMP_NUM_THREADS=1 TMPDIR=$work
      exec timeout -k 5 120 "$bin" train small.ini --set output.file=run3.h5 \
          --set checkpoint.prefix=c3 --resume auto > run.log 2> err.log )
    clear_error "run file over RLIMIT_FSIZE" $? "File too large" "run3.h5"
    ran=1
    intact_resume fsize c3.ckpt-0000000032.h5
else echo "skip: the run file is not larger than a checkpoint: no size limit between them"; fi

echo "fulldisk: $fails failures"
[ "$ran" -eq 1 ] || exit 77
[ "$fails" -eq 0 ]
