#!/usr/bin/env bash
# Training throughput (examples/s of the training steps of one epoch, as the run prints
# it) over batch sizes, ranks, threads and the two gradient reductions. Each point is
# the median of REPS runs; the table goes to stdout as Markdown.
# usage: bench/throughput.sh [BUILD_DIR] [REPS]    (env: EPOCHS=2, LIMIT=0 = all)
set -euo pipefail
build=${1:-build} reps=${2:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
config=$(cd "$(dirname "$0")/.." && pwd)/configs/fashion-mnist.ini

# rate NP THREADS BATCH REDUCTION: median samples/s of the last epoch over reps runs
rate() {
    local np=$1 th=$2 batch=$3 red=$4 runs=()
    for _ in $(seq "$reps"); do
        runs+=("$(OMP_NUM_THREADS=$th mpirun --oversubscribe --bind-to none -np "$np" \
            "$build/downhill" train "$config" --force --set train.epochs="${EPOCHS:-2}" \
            --set data.train_limit="${LIMIT:-0}" --set train.batch_size="$batch" \
            --set train.reduction="$red" --set output.file="$work/b.h5" \
            | awk '$1 ~ /^[0-9]+$/ { last = $6 } END { print last }')")
    done
    printf '%s\n' "${runs[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "| batch | ranks | threads | exact (examples/s) | float (examples/s) | exact / float |"
echo "|---:|---:|---:|---:|---:|---:|"
for batch in 10 64; do
    for np in 1 2; do
        for th in 1 2; do
            if [ $((np * th)) -gt "$(nproc)" ]; then
                echo "| $batch | $np | $th | (oversubscribed: skipped) | | |"
                continue
            fi
            e=$(rate "$np" "$th" "$batch" exact)
            f=$(rate "$np" "$th" "$batch" float)
            echo "| $batch | $np | $th | $e | $f | $(awk -v e="$e" -v f="$f" 'BEGIN { printf "%.2f", e / f }') |"
        done
    done
done
