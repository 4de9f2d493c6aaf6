#!/usr/bin/env bash
# Bitwise reproducibility: the same config trained at 1, 2, 4 ranks x 1, 2 threads (and 1
# rank x 3 threads) ends with identical weights and history; exact groups of 1 and 4 lanes;
# momentum with weight decay, and networks of other kinds (relu + softmax + cross-entropy,
# tanh + cross-entropy) at 1, 2 ranks x 1, 2 threads, wide networks (layers of >= 64
# inputs) at 1, 2, 4 ranks x 1, 2 threads; a different seed must give different
# weights (so the comparison can fail).
# usage: invariance.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -euo pipefail
source "$(dirname "$0")/lib.sh"
{ data_ini 1000 300; cat <<INI; } > run.ini
[train]
epochs = 2
batch_size = 64
learning_rate = 2.0
schedule = cosine
warmup_epochs = 0.5
INI

fails=0
for group in 1 4; do
    reference=$(summary 1 1 --set train.exact_group=$group)
    echo "exact_group=$group reference (1 rank x 1 thread): $(echo "$reference" | head -1)"
    for np in 1 2 4; do
        for th in 1 2 3; do # 3 threads (one rank): two threads share a block of W1
            [ "$np$th" = 11 ] && continue
            [ "$th" = 3 ] && [ "$np" != 1 ] && continue
            got=$(summary "$np" "$th" --set train.exact_group=$group)
            if [ "$got" = "$reference" ]; then
                echo "ok   exact_group=$group $np ranks x $th threads: identical"
            else
                echo "FAIL exact_group=$group $np ranks x $th threads differ:"
                diff <(echo "$reference") <(echo "$got") | head -20
                fails=$((fails + 1))
            fi
        done
    done
done
# HDF5 input files (one hyperslab per rank) must train exactly like the IDX files
"$bin" convert "$data/train-images-idx3-ubyte.gz" "$data/train-labels-idx1-ubyte.gz" train.h5 \
    --limit 1000 > /dev/null
"$bin" convert "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" test.h5 \
    --limit 300 > /dev/null
h5=(--set data.train_images=train.h5 --set data.train_labels=train.h5
    --set data.test_images=test.h5 --set data.test_labels=test.h5 --set train.exact_group=4)
for np in 2 4; do
    got=$(summary "$np" 1 "${h5[@]}")
    if [ "$got" = "$reference" ]; then
        echo "ok   HDF5 input, $np ranks: identical to the IDX run"
    else
        echo "FAIL HDF5 input, $np ranks: differs from the IDX run"
        fails=$((fails + 1))
    fi
done

# momentum (Nesterov) with weight decay: the velocity is updated by the thread owning its
# parameter, so it is invariant too
mom=(--set train.momentum=0.5 --set train.nesterov=true --set train.weight_decay=0.001
     --set train.learning_rate=1.5)
mreference=$(summary 1 1 "${mom[@]}")
[ "$(echo "$mreference" | head -1)" != "$(echo "$reference" | head -1)" ] \
    || { echo "FAIL momentum gave the weights of plain descent"; fails=$((fails + 1)); }
for shape in "2 1" "1 2" "2 2"; do
    read -r np th <<< "$shape"
    got=$(summary "$np" "$th" "${mom[@]}")
    if [ "$got" = "$mreference" ]; then
        echo "ok   momentum $np ranks x $th threads: identical ($(echo "$got" | head -1))"
    else
        echo "FAIL momentum $np ranks x $th threads differ:"
        diff <(echo "$mreference") <(echo "$got") | head -20
        fails=$((fails + 1))
    fi
done

# other kinds of network: the same bits at 1, 2 ranks x 1, 2 threads, and not the seed's
kinds=("--set model.activation=relu --set model.output=softmax --set model.cost=cross_entropy --set train.learning_rate=0.1 --set train.exact_group=1"
       "--set model.activation=tanh --set model.cost=cross_entropy --set model.init=he --set train.learning_rate=0.5 --set train.exact_group=4")
for kind in "${kinds[@]}"; do
    # shellcheck disable=SC2086
    first=$(summary 1 1 $kind)
    if [ "$(echo "$first" | head -1)" = "$(echo "$reference" | head -1)" ]; then
        echo "FAIL $kind: the same weights as the seed's network: the kind had no effect"
        fails=$((fails + 1))
    fi
    for shape in "1 2" "2 1" "2 2"; do
        # shellcheck disable=SC2086
        got=$(summary $shape $kind)
        if [ "$got" = "$first" ]; then
            echo "ok   $kind: ${shape% *} ranks x ${shape#* } threads: identical"
        else
            echo "FAIL $kind: ${shape% *} ranks x ${shape#* } threads differ from 1 x 1:"
            diff <(echo "$first") <(echo "$got") | head -20
            fails=$((fails + 1))
        fi
    done
done

# wide layers (>= 64 inputs: their weights summed in integers by rows, spent at once on one
# rank): the same bits at 1, 2, 4 ranks x 1, 2 threads and 1 rank x 3 threads, plain descent
# and momentum with weight decay
wides=("--set model.layers=784,96,80,10 --set model.activation=relu --set model.output=softmax --set model.cost=cross_entropy --set train.learning_rate=0.1"
       "--set model.layers=784,64,70,10 --set model.activation=tanh --set train.learning_rate=0.5 --set train.momentum=0.5 --set train.weight_decay=0.001")
for wide in "${wides[@]}"; do
    # shellcheck disable=SC2086
    first=$(summary 1 1 $wide)
    for shape in "1 2" "1 3" "2 1" "2 2" "4 1" "4 2"; do
        # shellcheck disable=SC2086
        got=$(summary $shape $wide)
        if [ "$got" = "$first" ]; then
            echo "ok   wide $wide: ${shape% *} ranks x ${shape#* } threads: identical"
        else
            echo "FAIL wide $wide: ${shape% *} ranks x ${shape#* } threads differ from 1 x 1:"
            diff <(echo "$first") <(echo "$got") | head -20
            fails=$((fails + 1))
        fi
    done
done

other=$(summary 2 1 --set model.seed=2)
if [ "$(echo "$other" | head -1)" = "$(echo "$reference" | head -1)" ]; then
    echo "FAIL a different seed gave the same weights: the comparison cannot fail"
    fails=$((fails + 1))
fi
echo "invariance: $fails failures"
[ "$fails" -eq 0 ]
