#!/usr/bin/env bash
# A run that collapses says so: Fashion-MNIST's tiny network (2,000 training and 1,000 test
# examples) at learning rate 20 saturates every sigmoid output at 0 in its first epoch and
# must print the collapse warning after the epoch line (in full once, then one line), the
# same at 1 and 2 ranks and from rank 0 only; at the default rate 3 it learns and must not.
# usage: collapse.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG SOURCE_DIR
set -uo pipefail
src=$4
source "$(dirname "$0")/lib.sh"

# train RANKS LOG LR: tiny.ini for 2 epochs at learning rate LR
train() {
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 timeout 120 $mpiexec $npflag "$1" "$bin" train "$src/configs/tiny.ini" \
        --set data.train_images="$data/train-images-idx3-ubyte.gz" \
        --set data.train_labels="$data/train-labels-idx1-ubyte.gz" \
        --set data.test_images="$data/t10k-images-idx3-ubyte.gz" \
        --set data.test_labels="$data/t10k-labels-idx1-ubyte.gz" \
        --set train.learning_rate="$3" --set checkpoint.every_epochs=0 \
        --set output.file="run-$1-$3.h5" > "$2" 2>&1 || fail "training at $1 ranks, rate $3"
}
train 1 collapse1.log 20
train 2 collapse2.log 20
train 2 learns.log 3

full='^warning: the network has collapsed: 1000 of 1000 test examples (100.0%) have every output below 0.05'
for log in collapse1.log collapse2.log; do
    n_full=$(grep -c "$full" "$log")
    n_again=$(grep -c '^warning: still collapsed: ' "$log")
    after=$(grep -A1 '^     1 ' "$log" | tail -1)
    if [ "$n_full" -eq 1 ] && [ "$n_again" -eq 1 ] && [[ $after == "warning: the network has collapsed"* ]] \
        && grep -q 'train.learning_rate' "$log" && grep -q 'model.cost = cross_entropy' "$log" \
        && grep -q "quadratic cost's gradient vanishes" "$log"; then
        ok "$log: the warning follows epoch 1 (once in full, then one line), names the cause and keys"
    else
        fail "$log: full warnings $n_full, repeats $n_again, line after epoch 1: '$after'"
        grep -A4 '^ epoch' "$log" | sed 's/^/    /'
    fi
done
diff <(grep '^warning: \|^  Likely\|^  Change' collapse1.log) <(grep '^warning: \|^  Likely\|^  Change' collapse2.log) > /dev/null \
    && ok "the same warning at 1 and 2 ranks" || fail "the warning differs between 1 and 2 ranks"
if grep -q 'collapsed' learns.log; then
    fail "learns.log: a run that learns was called collapsed"
else
    ok "a run that learns: no warning (test accuracy $(awk '$1 == 2 {print $4}' learns.log))"
fi
[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
