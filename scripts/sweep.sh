#!/usr/bin/env bash
# Strong and weak scaling sweep of downhill over rank (and thread) counts, gathered in one
# CSV table. Works under mpirun on a workstation, with mpirun or srun inside a SLURM
# allocation (jobs/scaling.sbatch), or with any launcher command.
#
# usage: scripts/sweep.sh [options]
#   --bin PATH          downhill binary (default: $DOWNHILL, else the repository's
#                       build/downhill, or the installed downhill beside this command)
#   --config FILE       base config (default: configs/fashion-mnist.ini of the repository
#                       or of the install)
#   --ranks "1 2 4"     rank counts P
#   --threads "1"       OpenMP threads per rank (each combination is run)
#   --modes "strong weak"
#   --batch B           strong scaling: the global batch, fixed for every P (default 64)
#   --per-rank-batch b  weak scaling: the batch per rank; global batch = P * b (default 16)
#   --train-limit N     training examples (default 6000; 0 = all)
#   --test-limit N      test examples (default 1000)
#   --epochs E          epochs per run (default 3; the rate is the median of epochs 2..E)
#   --launcher CMD      launcher command; {P} is replaced by the ranks, {T} by the threads
#                       (default: "mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS
#                       -np {P}"; in an allocation: "srun --mpi=pmix -n {P} -c {T}")
#   --out DIR           run files, logs and scaling.csv go here (default: scaling)
#   --set k=v           extra config override for every run (repeatable)
# CSV columns: mode, ranks, threads, batch (global), per_rank_batch, samples_per_second,
#   speedup, efficiency, params_hash, run_file. Speedup is throughput relative to the
#   smallest P of the same mode and threads; efficiency = speedup / (P / P_smallest) (for
#   weak scaling: the throughput per rank relative to the smallest P).
# Exit: 0 if every run worked and all strong-scaling runs ended with the same params_hash
#   (bitwise reproducibility: the weights must not depend on P or threads), 1 otherwise.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# run from the repository (scripts/sweep.sh) or installed (PREFIX/bin/downhill-sweep)
here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/downhill" ]; then # installed: the binary beside it, configs in share/
    bin=${DOWNHILL:-$here/downhill}
    config=$here/../share/downhill/configs/fashion-mnist.ini
else
    bin=${DOWNHILL:-$(dirname "$here")/build/downhill}
    config=$(dirname "$here")/configs/fashion-mnist.ini
fi
ranks="1 2 4"
threads="1"
modes="strong weak"
batch=64
per_rank=16
train_limit=6000
test_limit=1000
epochs=3
launcher="mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS -np {P}"
out=scaling
sets=()

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --bin) bin=$2 ;;
        --config) config=$2 ;;
        --ranks) ranks=$2 ;;
        --threads) threads=$2 ;;
        --modes) modes=$2 ;;
        --batch) batch=$2 ;;
        --per-rank-batch) per_rank=$2 ;;
        --train-limit) train_limit=$2 ;;
        --test-limit) test_limit=$2 ;;
        --epochs) epochs=$2 ;;
        --launcher) launcher=$2 ;;
        --out) out=$2 ;;
        --set) sets+=(--set "$2") ;;
        *) echo "sweep: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    [ $# -ge 2 ] || { echo "sweep: $1 needs a value" >&2; exit 2; }
    shift 2
done

[ -x "$bin" ] || { echo "sweep: no downhill binary at $bin (--bin or DOWNHILL)" >&2; exit 1; }
[ -r "$config" ] || { echo "sweep: cannot read $config" >&2; exit 1; }
[ "$epochs" -ge 2 ] || { echo "sweep: --epochs must be >= 2 (the first epoch is warm-up)" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mkdir -p "$out"
csv=$out/scaling.csv
rows=$out/.rows
: > "$rows"

# rate FILE: median training examples/s over the epochs after the first
rate() {
    h5dump -y -w 0 -d /history/samples_per_second "$1" \
        | awk '/DATA/ { on = 1; next } on && /}/ { on = 0 } on { gsub(/,/, " "); for (i = 1; i <= NF; i++) print $i }' \
        | tail -n +3 | sort -g \
        | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

failed=0
for mode in $modes; do
    for t in $threads; do
        for p in $ranks; do
            case $mode in
                strong) b=$batch ;;
                weak) b=$((p * per_rank)) ;;
                *) echo "sweep: unknown mode $mode" >&2; exit 2 ;;
            esac
            name=$mode-p$p-t$t
            run=$out/$name.h5
            cmd=${launcher//\{P\}/$p}
            cmd=${cmd//\{T\}/$t}
            rm -f "$run" "$out/$name".ckpt-*.h5
            echo "sweep: $mode P=$p T=$t batch=$b: $cmd $bin train ..." >&2
            # shellcheck disable=SC2086  # the launcher is a command line
            if OMP_NUM_THREADS=$t $cmd "$bin" train "$config" "${sets[@]}" \
                --set data.train_limit="$train_limit" --set data.test_limit="$test_limit" \
                --set train.epochs="$epochs" --set train.batch_size="$b" \
                --set output.file="$run" --set checkpoint.every_epochs=0 \
                > "$out/$name.log" 2>&1; then
                hash=$("$bin" info "$run" | sed -n 's/^params_hash: //p')
                echo "$mode,$p,$t,$b,$((b / p)),$(rate "$run"),$hash,$run" >> "$rows"
            else
                echo "sweep: FAILED $name, see $out/$name.log:" >&2
                tail -5 "$out/$name.log" >&2
                failed=1
            fi
        done
    done
done

# speedup and efficiency against the smallest P of the same mode and threads
{
    echo "mode,ranks,threads,batch,per_rank_batch,samples_per_second,speedup,efficiency,params_hash,run_file"
    awk -F, -v OFS=, '
        { key = $1 "," $3; row[NR] = $0; k[NR] = key; p[NR] = $2; r[NR] = $6
          if (!(key in p0) || $2 < p0[key]) { p0[key] = $2; r0[key] = $6 } }
        END { for (i = 1; i <= NR; i++) {
                  split(row[i], f, ",")
                  s = r0[k[i]] > 0 ? r[i] / r0[k[i]] : 0
                  e = s / (p[i] / p0[k[i]])
                  print f[1], f[2], f[3], f[4], f[5], f[6], sprintf("%.3f", s), sprintf("%.3f", e), f[7], f[8] } }' "$rows"
} > "$csv"
rm -f "$rows"
column -t -s, "$csv" 2> /dev/null || cat "$csv"
echo "sweep: wrote $csv"

strong_hashes=$(awk -F, '$1 == "strong" { print $9 }' "$csv" | sort -u)
if [ "$(echo "$strong_hashes" | grep -c .)" -gt 1 ]; then
    echo "sweep: FAIL: strong-scaling runs ended with different weights: $(echo "$strong_hashes" | tr '\n' ' ')" >&2
    failed=1
elif [ -n "$strong_hashes" ]; then
    echo "sweep: strong scaling: every P and thread count ended with params_hash $strong_hashes"
fi
exit $failed
