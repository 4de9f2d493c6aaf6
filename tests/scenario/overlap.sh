#!/usr/bin/env bash
# The step's sums in buckets (train.overlap) and their width on the wire (train.sum_bytes)
# never change a bit: the same weights and history with overlap true, false and auto at 1, 2, 4
# ranks (and 2 ranks x 2 threads), through the node's shared window and by messages
# (DOWNHILL_NODE_SUM=0); by messages, the same at widths 2 (every bucket falls back to
# int64), 4, 5, 8 and auto; a width too narrow must fall back (so the fallback runs) and
# a different seed must differ (so the comparison can fail).
# usage: overlap.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -euo pipefail
source "$(dirname "$0")/lib.sh"
{ data_ini 1000 300; cat <<INI; } > run.ini
[model]
layers = 784,64,32,10
activation = relu
output = softmax
cost = cross_entropy
[train]
epochs = 2
batch_size = 64
learning_rate = 0.1
momentum = 0.5
INI

# same WHAT REFERENCE GOT: counts a failure when GOT differs from REFERENCE
same() {
    if [ "$3" = "$2" ]; then
        ok "$1: identical"
    else
        fail "$1 differs:"
        diff <(echo "$2") <(echo "$3") | head -20
    fi
}

reference=$(summary 1 1)
echo "reference (1 rank x 1 thread): $(echo "$reference" | head -1)"
for path in window messages; do
    node=1
    [ "$path" = messages ] && node=0
    for shape in "1 1" "2 1" "4 1" "2 2"; do
        read -r np th <<< "$shape"
        for overlap in true false auto; do
            got=$(DOWNHILL_NODE_SUM=$node summary "$np" "$th" --set train.overlap=$overlap)
            same "$path, $np ranks x $th threads, overlap $overlap" "$reference" "$got"
        done
    done
done
for bytes in 2 4 5 8 auto; do
    got=$(DOWNHILL_NODE_SUM=0 summary 2 1 --set train.sum_bytes=$bytes)
    same "messages, 2 ranks, sum_bytes $bytes" "$reference" "$got"
    fell=$(sed -n 's/.* \([0-9]*\) buckets went again as int64.*/\1/p' train.log)
    echo "     sum_bytes $bytes: ${fell:-?} buckets fell back to int64"
    if [ "$bytes" = 2 ] && ! [ "${fell:-0}" -gt 0 ]; then
        fail "sum_bytes 2: no bucket fell back: the fallback did not run"
    fi
done
other=$(summary 2 1 --set model.seed=2)
[ "$(echo "$other" | head -1)" != "$(echo "$reference" | head -1)" ] \
    || fail "a different seed gave the same weights: the comparison cannot fail"
echo "overlap: $fails failures"
[ "$fails" -eq 0 ]
