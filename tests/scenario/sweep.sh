#!/usr/bin/env bash
# The scaling sweep on 1 and 2 ranks: one CSV with a row per run, the identical-weights
# verdict for strong scaling, and the speedup/efficiency plot.
# usage: sweep.sh DOWNHILL SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$src/scripts/sweep.sh" --bin "$bin" --config "$src/configs/fashion-mnist.ini" \
    --ranks "1 2" --batch 64 --per-rank-batch 32 --train-limit 1000 --test-limit 200 \
    --epochs 2 --out "$work/s" > "$work/log" 2>&1 || { cat "$work/log"; echo "FAIL sweep"; exit 1; }
rows=$(($(wc -l < "$work/s/scaling.csv") - 1))
[ "$rows" -eq 4 ] || { cat "$work/s/scaling.csv"; echo "FAIL expected 4 runs, got $rows"; exit 1; }
grep -q "strong scaling: every P and thread count ended with params_hash" "$work/log" \
    || { cat "$work/log"; echo "FAIL no identical-weights verdict"; exit 1; }
hashes=$(awk -F, '$1 == "strong" { print $9 }' "$work/s/scaling.csv" | sort -u | wc -l)
[ "$hashes" -eq 1 ] || { echo "FAIL strong-scaling runs ended with $hashes different weights"; exit 1; }
/usr/bin/python3 "$src/scripts/plot_scaling.py" "$work/s/scaling.csv" > /dev/null
png=$(find "$work/s" -name '*.png' | head -1)
[ -n "$png" ] && [ "$(stat -c %s "$png")" -gt 10000 ] || { echo "FAIL no plot"; exit 1; }
echo "ok   sweep: 4 runs in one CSV, strong scaling bitwise identical, plot $(basename "$png")"
