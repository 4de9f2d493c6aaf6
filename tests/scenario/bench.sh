#!/usr/bin/env bash
# `downhill bench` end to end on 2 threads: every line bench/report.sh reads is there and
# well formed: two FMA peaks, a step line per batch x threads x reduction (12), the speedup
# of two threads over one per batch (3), the gradient combination costs (5); every number
# positive, min <= median <= max, speedups within 0.2..4 (a sanity bound, not a speed claim:
# speed is benchmarked, not tested).
# usage: bench.sh DOWNHILL
set -euo pipefail
bin=$1
data=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
OMP_NUM_THREADS=2 "$bin" bench --limit 2048 \
    --set data.train_images="$data/train-images-idx3-ubyte.gz" \
    --set data.train_labels="$data/train-labels-idx1-ubyte.gz" \
    --set data.test_images="$data/t10k-images-idx3-ubyte.gz" \
    --set data.test_labels="$data/t10k-labels-idx1-ubyte.gz" > "$out"
awk '
function spread(med, lo, hi, what) {
    if (!(med > 0 && lo > 0 && lo <= med && med <= hi)) { print "FAIL " what ": " $0; bad++ }
}
$1 == "peak"    { peaks++; spread($5, $6, $7, "peak") }
$1 == "step"    { steps++; spread($6, $7, $8, "step"); key[$3 " " $4 " " $5]++ }
$1 == "speedup" { speedups++; spread($6, $7, $8, "speedup")
                  if ($6 < 0.2 || $6 > 4) { print "FAIL speedup out of 0.2..4: " $0; bad++ } }
$1 == "flops"   { if ($2 + $3 + $4 + $5 != $6 || $2 <= 0) { print "FAIL flops: " $0; bad++ } }
$1 == "combine" { combines++; if (!($6 >= 0 && $7 <= $6 && $6 <= $8)) { print "FAIL combine: " $0; bad++ } }
END {
    n = 0; for (k in key) n++
    if (peaks != 2)     { print "FAIL " peaks + 0 " peak lines, want 2"; bad++ }
    if (steps != 12 || n != 12) { print "FAIL " steps + 0 " step lines (" n " distinct), want 12"; bad++ }
    if (speedups != 3)  { print "FAIL " speedups + 0 " speedup lines, want 3"; bad++ }
    if (combines != 5)  { print "FAIL " combines + 0 " combine lines, want 5"; bad++ }
    if (bad) exit 1
    print "PASS bench: " peaks " peaks, " steps " steps, " speedups " speedups, " combines " combines"
}' "$out" || { cat "$out"; exit 1; }
