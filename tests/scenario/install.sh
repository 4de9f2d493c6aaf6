#!/usr/bin/env bash
# downhill installed as HPC software: `cmake --install` to a temporary prefix, then, in a
# clean shell (env -i) with only Lmod's init and `module load downhill`, from an empty folder
# outside the source tree:
#   1. downhill --version names the release (and the commit of a git build) and numerics;
#   2. a short training from the installed config, `downhill info`, downhill-plot-run;
#   3. downhill-sweep on 1 and 2 ranks and downhill-plot-scaling;
#   4. jobs/train.sbatch, as installed, submitted to a real single-node SLURM
#      (scripts/slurm-local.sh): it must say it runs the module's binary and end with the
#      weights of the same run made directly (2 ranks in the job, 1 rank directly).
# usage: tests/scenario/install.sh BUILD_DIR   (exit 0 ok, 1 a failure, 77 Lmod or SLURM
#   not installed: bash scripts/install-deps.sh --tests)
set -uo pipefail

if [ $# -ne 1 ] || [ "$1" = --help ]; then
    sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0 || exit 2
fi
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
PATH=$PATH:/usr/sbin
lmod_init=/usr/share/lmod/lmod/init/bash
[ -r "$lmod_init" ] || { echo "skip: Lmod not installed ($lmod_init)"; exit 77; }
for p in sbatch scontrol slurmctld slurmd munged; do
    command -v "$p" > /dev/null || { echo "skip: $p not installed"; exit 77; }
done

t0=$(date +%s)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/downhill-install.XXXXXX")
chmod 755 "$scratch" # munged needs the folders above its socket searchable
prefix=$scratch/prefix
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
cleanup() {
    [ -d "$scratch/slurm" ] && bash "$root/scripts/slurm-local.sh" stop "$scratch/slurm"
    if [ "$fails" -eq 0 ]; then rm -rf "$scratch"; else echo "install: files kept in $scratch"; fi
    echo "install: $(($(date +%s) - t0)) s"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$prefix" > "$scratch/install.log" 2>&1 ||
    { fail "cmake --install"; cat "$scratch/install.log"; exit 1; }
for f in bin/downhill bin/downhill-sweep bin/downhill-plot-run bin/downhill-plot-scaling \
    share/downhill/configs/fashion-mnist.ini share/downhill/jobs/train.sbatch \
    share/downhill/jobs/scaling.sbatch share/doc/downhill/README.md \
    share/modulefiles/downhill; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done

# clean SCRIPT: runs SCRIPT in a clean shell (no inherited environment but HOME, a minimal
# PATH and the test's data folder) with the module loaded, in an empty folder
mkdir -p "$scratch/work"
clean() {
    (cd "$scratch/work" && env -i HOME="$HOME" PATH=/usr/bin:/bin:/usr/sbin FASHION="$data" \
        bash --norc --noprofile -c "source $lmod_init && module use $prefix/share/modulefiles &&
        module load downhill && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 &&
        $1")
}
short="--set data.train_limit=2000 --set data.test_limit=500 --set train.epochs=2"
short+=" --set train.batch_size=64"

# 1. the version
version=$(clean 'downhill --version')
if [[ $version =~ ^downhill\ [0-9]+\.[0-9]+\.[0-9]+(\+g[0-9a-f]{12}(-dirty)?)?\ \(float(32|64),\ numerics\ [0-9]+\)$ ]]; then
    ok "installed downhill --version: $version"
else
    fail "downhill --version from the module: '$version'"
fi
[ -d "$root/.git" ] && ! [[ $version == *+g* ]] && fail "a git build's version names no commit"

# 2. a training from the installed config, info and the plots
clean "downhill train \"\$DOWNHILL_SHARE/configs/fashion-mnist.ini\" $short \
       --set output.file=direct.h5 > direct.log 2>&1 && downhill info direct.h5 > info.txt &&
       downhill-plot-run direct.h5 --out plots > plots.log 2>&1" ||
    fail "training, info or plot with the module loaded (see $scratch/work/*.log)"
direct=$(sed -n 's/^params_hash: //p' "$scratch/work/info.txt" 2> /dev/null)
if [ -n "$direct" ] && [ -s "$scratch/work/plots/curves.png" ]; then
    ok "train, info ($direct) and downhill-plot-run from $scratch/work"
else
    fail "no weights hash from downhill info, or no plot"
fi

# 3. the sweep and its plot
clean "downhill-sweep --ranks '1 2' --modes strong --train-limit 1000 --test-limit 200 \
       --epochs 2 --out sweep > sweep.log 2>&1 &&
       downhill-plot-scaling sweep/scaling.csv sweep/scaling.png >> sweep.log 2>&1" ||
    fail "downhill-sweep or downhill-plot-scaling (see $scratch/work/sweep.log)"
if [ -s "$scratch/work/sweep/scaling.png" ]; then
    ok "downhill-sweep on 1 and 2 ranks, scaling.png"
else
    fail "no scaling.png from the installed sweep"
fi

# 4. the installed job script under SLURM, with only the module loaded
bash "$root/scripts/slurm-local.sh" start "$scratch/slurm" > "$scratch/slurm.log" 2>&1 ||
    { fail "the SLURM fixture did not start"; tail -20 "$scratch/slurm.log"; exit 1; }
job=$(clean "export SLURM_CONF=$scratch/slurm/slurm.conf && sbatch --parsable -n 2 \
      \"\$DOWNHILL_SHARE/jobs/train.sbatch\" \"\$DOWNHILL_SHARE/configs/fashion-mnist.ini\" \
      $short --set output.file=job.h5")
[[ $job =~ ^[0-9]+$ ]] || { fail "sbatch: '$job'"; exit 1; }
export SLURM_CONF=$scratch/slurm/slurm.conf
state=""
for _ in $(seq 240); do
    state=$(scontrol show job "$job" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) break ;; esac
    sleep 0.5
done
out=$scratch/work/downhill-$job.out
if [ "$state" != COMPLETED ]; then
    fail "job $job ended $state"; cat "$out"
else
    grep -q "binary $prefix/bin/downhill (from PATH)" "$out" || fail "the job did not say it runs the module's binary"
    jobhash=$("$prefix/bin/downhill" info "$scratch/work/job.h5" | sed -n 's/^params_hash: //p')
    if [ -n "$jobhash" ] && [ "$jobhash" = "$direct" ]; then
        ok "sbatch of the installed train.sbatch: 2 ranks, weights $jobhash as the direct run"
    else
        fail "the job's weights $jobhash differ from the direct run's $direct"; cat "$out"
    fi
fi

[ "$fails" -eq 0 ] && echo "install: all passed"
exit $((fails > 0))
