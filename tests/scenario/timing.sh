#!/usr/bin/env bash
# Phase timers: /timing holds min/avg/max per phase per epoch, the phases add up to the
# epoch's wall time (within 20% plus 2 ms of scheduler noise; 24,000 examples make an epoch
# some 50 ms), and scripts/plot_run.py draws non-empty PNGs from it.
# usage: timing.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG SOURCE_DIR
set -euo pipefail
bin=$1 mpiexec=$2 npflag=$3 src=$4
data=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 $mpiexec $npflag 2 "$bin" train "$src/configs/tiny.ini" \
    --set data.train_images="$data/train-images-idx3-ubyte.gz" \
    --set data.train_labels="$data/train-labels-idx1-ubyte.gz" \
    --set data.test_images="$data/t10k-images-idx3-ubyte.gz" \
    --set data.test_labels="$data/t10k-labels-idx1-ubyte.gz" \
    --set data.train_limit=24000 --set train.epochs=3 --set output.file=run.h5 > train.log
grep -q "time per phase over 2 ranks" train.log || { cat train.log; echo "FAIL no phase summary"; exit 1; }
/usr/bin/python3 - <<'PY'
import sys
import h5py
f = h5py.File("run.h5", "r")
phases = ["data", "forward", "backward", "combine", "allreduce", "update", "evaluation", "checkpoint"]
fails = 0
for p in phases:
    for stat in ("min", "avg", "max"):
        if f"timing/{p}_{stat}" not in f or len(f[f"timing/{p}_{stat}"]) != 3:
            print(f"FAIL /timing/{p}_{stat} missing or not one value per epoch"); fails += 1
if fails:
    sys.exit(1)
for p in phases:
    lo, avg, hi = (f[f"timing/{p}_{s}"][:] for s in ("min", "avg", "max"))
    if not ((lo <= avg + 1e-12).all() and (avg <= hi + 1e-12).all() and (lo >= 0).all()):
        print(f"FAIL {p}: min <= avg <= max does not hold"); fails += 1
seconds = f["history/seconds"][1:]
total = sum(f[f"timing/{p}_avg"][:] for p in phases if p != "checkpoint")
for epoch, (t, s) in enumerate(zip(total, seconds), 1):
    ok = abs(t - s) <= 0.2 * s + 0.002  # 20%, and 2 ms of scheduler noise
    print(f"{'ok  ' if ok else 'FAIL'} epoch {epoch}: phases add up to {t:.4f} s, epoch took {s:.4f} s")
    fails += not ok
if f["timing/forward_avg"][:].min() <= 0 or f["timing/allreduce_avg"][:].min() <= 0:
    print("FAIL forward or allreduce time is zero"); fails += 1
sys.exit(1 if fails else 0)
PY
/usr/bin/python3 "$src/scripts/plot_run.py" run.h5 --out plots
for png in plots/curves.png plots/phases.png; do
    [ "$(stat -c %s "$png" 2> /dev/null || echo 0)" -gt 10000 ] || { echo "FAIL $png missing or empty"; exit 1; }
done
echo "ok   plots: $(ls plots)"
