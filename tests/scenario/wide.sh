#!/usr/bin/env bash
# configs/fashion-mnist-wide.ini as shipped (784-256-128-10 ReLU, softmax, cross-entropy,
# Nesterov momentum, weight decay, 30 epochs on all of Fashion-MNIST) at 2 ranks reaches
# test accuracy >= 0.89, with no collapse warning, and examples/classify.py agrees with
# `downhill eval` on it; and the same run at 1 rank x 2 threads
# for 2 epochs ends with the weights of 2 ranks x 1 thread (the new keys stay exact).
# usage: wide.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG SOURCE_DIR
set -uo pipefail
src=$4
source "$(dirname "$0")/lib.sh"
cfg=$src/configs/fashion-mnist-wide.ini
paths=(--set data.train_images="$data/train-images-idx3-ubyte.gz"
       --set data.train_labels="$data/train-labels-idx1-ubyte.gz"
       --set data.test_images="$data/t10k-images-idx3-ubyte.gz"
       --set data.test_labels="$data/t10k-labels-idx1-ubyte.gz"
       --set checkpoint.every_epochs=0 --force)

# shellcheck disable=SC2086
OMP_NUM_THREADS=1 timeout 600 $mpiexec $npflag 2 "$bin" train "$cfg" "${paths[@]}" \
    --set output.file=wide.h5 > wide.log 2>&1 || fail "the wide training failed: $(tail -3 wide.log)"
acc=$(awk 'NF == 6 && $1 == 30 { print $4 }' wide.log)
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.89) }'; then
    ok "fashion-mnist-wide.ini at 2 ranks: test accuracy $acc after 30 epochs (>= 0.89)"
else
    fail "fashion-mnist-wide.ini at 2 ranks: test accuracy '$acc' after 30 epochs, expected >= 0.89"
    grep -E '^ +[0-9]+ ' wide.log | sed 's/^/    /'
fi
# the Python example reads the kind (relu, softmax) from the file and agrees with eval
py=$(/usr/bin/python3 "$src/examples/classify.py" wide.h5 | awk '/^correct:/ { print $2 }')
ev=$("$bin" eval wide.h5 | awk '/^correct:/ { print $2 }')
if [ -n "$ev" ] && [ "$py" = "$ev" ]; then
    ok "examples/classify.py and downhill eval: $ev correct on the relu + softmax network"
else
    fail "examples/classify.py found '$py' correct, downhill eval '$ev'"
fi
grep -q '^warning: ' wide.log && fail "the wide run printed a warning: $(grep '^warning: ' wide.log)"

hash_of() { "$bin" info "$1" | awk '/params_hash/ { print $2 }'; }
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 timeout 300 $mpiexec $npflag 2 "$bin" train "$cfg" "${paths[@]}" \
    --set train.epochs=2 --set data.train_limit=4096 --set output.file=r2.h5 > r2.log 2>&1 ||
    fail "2 ranks x 1 thread: $(tail -3 r2.log)"
# shellcheck disable=SC2086
OMP_NUM_THREADS=2 timeout 300 $mpiexec $npflag 1 "$bin" train "$cfg" "${paths[@]}" \
    --set train.epochs=2 --set data.train_limit=4096 --set output.file=t2.h5 > t2.log 2>&1 ||
    fail "1 rank x 2 threads: $(tail -3 t2.log)"
h2=$(hash_of r2.h5) h1=$(hash_of t2.h5)
if [ -n "$h2" ] && [ "$h2" = "$h1" ]; then
    ok "2 ranks x 1 thread and 1 rank x 2 threads: the same weights ($h2)"
else
    fail "2 ranks x 1 thread gave '$h2', 1 rank x 2 threads '$h1'"
fi
[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "PASS: wide"
