#!/usr/bin/env bash
# The wide network's scaling experiment, end to end: strong and weak scaling of
# 784-512-512-10 in shared memory (1 and 2 ranks) and on simulated hosts (network
# namespaces, links shaped with tc tbf), with the gradient reduction overlapping the
# backward pass (train.overlap) on and off, each measurement beside the communication
# model's prediction (scripts/comm_model.py). One CSV, one PNG; exits 1 unless every run
# worked and every strong-scaling run (every setting, P and overlap) ended with the
# weights of the one-rank run.
#
# usage: scripts/scaling-wide.sh [options]          (root for the simulated hosts)
#   --bin PATH          downhill binary (default: $DOWNHILL, else build/downhill)
#   --config FILE       base config (default configs/fashion-mnist.ini: sigmoid,
#                       quadratic cost, plain SGD)
#   --layers L          model.layers (default 784,512,512,10)
#   --settings "..."    default "shm 2x10gbit 2x1gbit 4x10gbit 4x1gbit": shm = 2 ranks in
#                       shared memory; NxRATE = N simulated hosts, one rank each, every
#                       link shaped to RATE (scripts/simhosts.sh up N RATE)
#   --overlap "on off"  train.overlap values; when the binary does not know the key, each
#                       setting runs once and the CSV says n/a
#   --modes "strong weak"
#   --batch B           strong scaling: global batch (default 64)
#   --per-rank-batch b  weak scaling: batch per rank (default 32)
#   --train-limit N     training examples (default 3072)
#   --test-limit N      test examples (default 200)
#   --epochs E          epochs per run (default 3; the rate is the median of epochs 2..E)
#   --learning-rate X   train.learning_rate (default 0.1: the config's 1.0 saturates the
#                       wide sigmoid network, whose gradients then vanish)
#   --comm-reps N       repetitions of the `downhill comm` calibration per setting (20)
#   --out DIR           everything goes here (default scaling-wide): scaling-wide.csv,
#                       scaling-wide.png, comm-SETTING.csv, each run's file and log
#   --set k=v           extra config override for every run (repeatable)
# Each setting first measures its link with `downhill comm` (alpha of the halving
# allreduce from messages <= 1 KiB, beta from those >= 1 MiB, the size of the wide
# network's buckets, beyond tbf's unshaped burst; fitted by comm_model.py); one-rank runs at the global batch, at the
# weak batch and at every per-rank batch B/P give the compute time per example t and the
# backward pass's share of it (the run file's /timing). The prediction for each row:
# comm_model.py --layers L --step-query P:B, overlap off and on (docs/SCALING.md).
# CSV columns: setting, link_rate, hosts, ranks, mode, overlap, batch, per_rank_batch,
#   samples_per_second, speedup, efficiency, predicted_efficiency (for the row's overlap;
#   n/a = off), predicted_off, predicted_on, step_ms (measured: batch / samples_per_second),
#   predicted_step_ms, compute_ms and allreduce_ms (measured per step, the ranks' average of
#   the run file's /timing: data to update, and the allreduce, which includes waiting for
#   the slowest rank), predicted_exposed_ms (the model's communication not hidden),
#   alpha_us, beta_ns_per_B, sum_bytes (bytes per value on the wire: 8 in a node's window;
#   between hosts what rank 0 sent per step, when the log says, else train.sum_bytes),
#   us_per_example and backward_share (one rank at the per-rank batch), params_hash,
#   run_file (under DIR).
#   Speedup: throughput over the one-rank run of the same mode; efficiency = speedup / P
#   (weak: throughput per rank over the one-rank run's).
# The whole default experiment takes about 5-10 minutes on a 2-core machine.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${DOWNHILL:-$root/build/downhill}
config=$root/configs/fashion-mnist.ini
layers=784,512,512,10
settings="shm 2x10gbit 2x1gbit 4x10gbit 4x1gbit"
overlaps="on off"
modes="strong weak"
batch=64
per_rank=32
train_limit=3072
test_limit=200
epochs=3
lr=0.1
comm_reps=20
out=scaling-wide
sets=()
PY=/usr/bin/python3

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --bin) bin=$2 ;;
        --config) config=$2 ;;
        --layers) layers=$2 ;;
        --settings) settings=$2 ;;
        --overlap) overlaps=$2 ;;
        --modes) modes=$2 ;;
        --batch) batch=$2 ;;
        --per-rank-batch) per_rank=$2 ;;
        --train-limit) train_limit=$2 ;;
        --test-limit) test_limit=$2 ;;
        --epochs) epochs=$2 ;;
        --learning-rate) lr=$2 ;;
        --comm-reps) comm_reps=$2 ;;
        --out) out=$2 ;;
        --set) sets+=(--set "$2") ;;
        *) echo "scaling-wide: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    [ $# -ge 2 ] || { echo "scaling-wide: $1 needs a value" >&2; exit 2; }
    shift 2
done

die() { echo "scaling-wide: error: $*" >&2; exit 1; }
[ -x "$bin" ] || die "no downhill binary at $bin (--bin or DOWNHILL)"
[ -r "$config" ] || die "cannot read $config"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(env -u OMP_NUM_THREADS nproc) # nproc obeys OMP_NUM_THREADS
export OMP_NUM_THREADS=1
mkdir -p "$out"
out=$(cd "$out" && pwd)
sum_bytes=6 # bytes per value between hosts when neither the log nor the config says
common=(--set model.layers="$layers" --set train.learning_rate="$lr" "${sets[@]}")
shm_launcher="mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS -np {P}"
export SIMHOSTS_DIR=$out/simhosts
trap 'bash "$here/simhosts.sh" down' EXIT

# Does the binary know train.overlap? A run of 0 epochs on a few examples tells.
probe=$("$bin" train "$config" "${common[@]}" --set train.overlap=true --set train.epochs=0 \
    --set data.train_limit=64 --set data.test_limit=64 --set output.file="$out/probe.h5" \
    --set checkpoint.every_epochs=0 --force 2>&1) && probe_rc=0 || probe_rc=$?
rm -f "$out"/probe*.h5
if grep -q 'unknown key "train.overlap"' <<<"$probe"; then
    echo "scaling-wide: this downhill does not know train.overlap: each setting runs once," \
         "overlap n/a" >&2
    overlaps=n/a
elif [ "$probe_rc" -ne 0 ]; then
    echo "$probe" | tail -5 >&2
    die "the configuration does not run (see above)"
fi

# sweep DIR RANKS MODES BATCH PER_RANK LAUNCHER [--set k=v ...]: scripts/sweep.sh into DIR
# (its CSV: DIR/scaling.csv, its output: DIR.log). A failed run is reported and counted.
failed=0
sweep() {
    local dir=$1 ranks=$2 sweep_modes=$3 b=$4 pr=$5 launcher=$6
    shift 6
    if ! bash "$here/sweep.sh" --bin "$bin" --config "$config" --ranks "$ranks" --threads 1 \
        --modes "$sweep_modes" --batch "$b" --per-rank-batch "$pr" \
        --train-limit "$train_limit" --test-limit "$test_limit" --epochs "$epochs" \
        --launcher "$launcher" --out "$dir" "${common[@]}" "$@" > "$dir.log" 2>&1; then
        echo "scaling-wide: FAILED runs in $dir, see $dir.log:" >&2
        tail -5 "$dir.log" >&2
        failed=1
    fi
    [ -r "$dir/scaling.csv" ] || echo "mode" > "$dir/scaling.csv"
}

# h5sum RUN DATASET: the sum of a 1-D dataset of a run file over the epochs after the first
# (the rate's epochs), e.g. /timing/backward_avg
h5sum() {
    h5dump -y -w 0 -d "$2" "$1" | awk '/DATA/ { on = 1; next } on && /}/ { on = 0 }
        on { gsub(/,/, " "); for (i = 1; i <= NF; i++) if (++n > 1) s += $i }
        END { printf "%.6f\n", s }'
}

# phase_ms RUN PHASE...: milliseconds per step of the phases (the ranks' average), over the
# epochs after the first; the steps per epoch come from the run's log (RUN.log)
phase_ms() {
    local run=$1 sum=0 phase steps
    shift
    steps=$(grep -o '([0-9]* steps per epoch' "${run%.h5}.log" | tr -dc '0-9')
    for phase in "$@"; do
        sum=$(awk -v a="$sum" -v v="$(h5sum "$run" "/timing/${phase}_avg")" 'BEGIN { print a + v }')
    done
    awk -v s="$sum" -v n="${steps:-0}" -v e="$epochs" \
        'BEGIN { printf "%.3f\n", (n > 0 ? 1e3 * s / (n * (e - 1)) : 0) }'
}

COMPUTE_PHASES="data forward backward combine update"

# backward_share RUN: backward / (data + forward + backward + combine + update)
backward_share() {
    local b all
    b=$(phase_ms "$1" backward)
    # shellcheck disable=SC2086  # the phases are words
    all=$(phase_ms "$1" $COMPUTE_PHASES)
    awk -v b="$b" -v a="$all" 'BEGIN { printf "%.4f\n", (a > 0 ? b / a : 0) }'
}

# 1. one rank: the baselines (strong at B, weak at b) and the compute time per example at
#    every per-rank batch the settings use.
declare -A rate1 share1 hash1 run1
per_rank_batches=" $per_rank $batch "
for s in $settings; do
    case $s in
        shm) p=2 ;;
        [0-9]*x*) p=${s%%x*} ;;
        *) die "setting $s: use shm or NxRATE (e.g. 2x1gbit)" ;;
    esac
    [ $((batch % p)) -eq 0 ] || die "the strong batch $batch does not split over $p ranks"
    grep -q " $((batch / p)) " <<<"$per_rank_batches" || per_rank_batches+="$((batch / p)) "
done
echo "scaling-wide: one rank at batches$per_rank_batches" >&2
for b in $per_rank_batches; do
    sweep "$out/p1-b$b" 1 strong "$b" "$b" "$shm_launcher"
    row=$(tail -n +2 "$out/p1-b$b/scaling.csv")
    [ -n "$row" ] || continue
    IFS=, read -r _ _ _ _ _ r _ _ h f <<<"$row"
    rate1[$b]=$r hash1[$b]=$h run1[$b]=$f share1[$b]=$(backward_share "$f")
done
[ -n "${rate1[$batch]:-}" ] || die "the one-rank run at batch $batch failed: $out/p1-b$batch.log"

# wire_bytes RUN P: bytes per value the run's exact sums took on the wire between hosts:
# measured when the log says what rank 0 sent (2 (Q - 1) / Q of the message in the halving
# allreduce, Q = P a power of two; train.sum_bytes = auto picks widths per block, and
# buckets past the width go again as int64), else the run's train.sum_bytes, else 6
wire_bytes() {
    local log=${1%.h5}.log p=$2 sent width
    sent=$(sed -n 's/.*rank 0 sent \([0-9.]*\) bytes per step.*/\1/p' "$log" | tail -1)
    if [ -n "$sent" ] && [ $((p & (p - 1))) -eq 0 ]; then
        awk -v s="$sent" -v p="$p" -v np="$n_params" \
            'BEGIN { printf "%.3f\n", (s / (2 * (p - 1) / p) - 40) / np }'
        return
    fi
    width=$(awk '$1 == "sum_bytes" && $2 == "=" { print $3; exit }' "$log")
    case $width in [2-8]) echo "$width" ;; *) echo "$sum_bytes" ;; esac
}
n_params=$(awk -v l="$layers" 'BEGIN { k = split(l, n, ",")
    for (i = 2; i <= k; i++) s += n[i] * (n[i - 1] + 1); print s }')

rows=$out/rows
: > "$rows"
# row SETTING RATE HOSTS P MODE OVERLAP B b SAMPLES HASH RUN ALPHA BETA SUMBYTES: one CSV row
# with the measured efficiency and the model's (overlap off and on)
row() {
    local setting=$1 rate=$2 hosts=$3 p=$4 mode=$5 ov=$6 b=$7 pr=$8 sps=$9 hash=${10} run=${11}
    local alpha=${12} beta=${13} wbytes=${14}
    if [ "$wbytes" = wire ]; then wbytes=$(wire_bytes "$run" "$p"); fi
    local ref speedup eff poff pon pstep pexp pred t share q step compute allreduce which
    ref=${rate1[$([ "$mode" = strong ] && echo "$b" || echo "$pr")]}
    t=$(awk -v r="${rate1[$pr]}" 'BEGIN { printf "%.4f", 1e6 / r }')
    share=${share1[$pr]}
    # speedup = rate / rate_1 (weak: the same ratio, the work growing with P)
    speedup=$(awk -v s="$sps" -v r="$ref" 'BEGIN { printf "%.3f", s / r }')
    eff=$(awk -v s="$speedup" -v p="$p" 'BEGIN { printf "%.3f", s / p }')
    step=$(awk -v s="$sps" -v b="$b" 'BEGIN { printf "%.3f", 1e3 * b / s }')
    # shellcheck disable=SC2086  # the phases are words
    compute=$(phase_ms "$run" $COMPUTE_PHASES)
    allreduce=$(phase_ms "$run" allreduce)
    if [ "$p" -eq 1 ]; then
        poff=1.000 pon=1.000 pexp=0.000
        pstep=$(awk -v t="$t" -v b="$b" 'BEGIN { printf "%.3f", t * b / 1e3 }')
    else
        q=$("$PY" "$here/comm_model.py" --alpha-us "$alpha" --beta-ns "$beta" --layers "$layers" \
            --sum-bytes "$wbytes" --compute-us-per-example "$t" \
            --reference-us-per-example "$(awk -v r="$ref" 'BEGIN { printf "%.4f", 1e6 / r }')" \
            --backward-share "$share" --cores "$cores" --threads 1 --step-query "$p:$b")
        poff=$(awk '$4 == "off" { printf "%.3f", $9 }' <<<"$q")
        pon=$(awk '$4 == "on" { printf "%.3f", $9 }' <<<"$q")
        which=off
        if [ "$ov" = on ]; then which=on; fi
        pstep=$(awk -v o="$which" '$4 == o { printf "%.3f", $8 / 1e3 }' <<<"$q")
        pexp=$(awk -v o="$which" '$4 == o { printf "%.3f", $7 / 1e3 }' <<<"$q")
    fi
    pred=$poff
    if [ "$ov" = on ]; then pred=$pon; fi
    echo "$setting,$rate,$hosts,$p,$mode,$ov,$b,$pr,$sps,$speedup,$eff,$pred,$poff,$pon,$step,$pstep,$compute,$allreduce,$pexp,$alpha,$beta,$wbytes,$t,$share,$hash,${run#"$out"/}" >> "$rows"
}

for mode in $modes; do
    b=$per_rank
    if [ "$mode" = strong ]; then b=$batch; fi
    if [ -n "${rate1[$b]:-}" ]; then
        row "1 rank" - 1 1 "$mode" - "$b" "$b" "${rate1[$b]}" "${hash1[$b]}" "${run1[$b]}" 0 0 0
    fi
done

# 2. every setting: its link measured, then the runs at P = hosts (shm: 2), per overlap
for s in $settings; do
    if [ "$s" = shm ]; then
        p=2 hosts=1 rate=shm wbytes=8 launcher=$shm_launcher
    else
        p=${s%%x*} hosts=${s%%x*} rate=${s#*x} wbytes=wire
        launcher="bash $here/simhosts.sh run {P} --"
        bash "$here/simhosts.sh" down
        bash "$here/simhosts.sh" up "$hosts" "$rate" >&2 || {
            rc=$?
            [ $rc -eq 77 ] && { echo "scaling-wide: simulated hosts unavailable: $s skipped" >&2; continue; }
            die "simhosts up $hosts $rate failed"
        }
    fi
    echo "scaling-wide: $s: measuring the link (downhill comm, $comm_reps reps)" >&2
    cmd=${launcher//\{P\}/$p}
    # shellcheck disable=SC2086  # the launcher is a command line
    # 64k first: the first size measured absorbs the start's stalls (not used by the fit)
    $cmd "$bin" comm --sizes 64k,8,256,1k,1m,4m --reps "$comm_reps" \
        --csv "$out/comm-$s.csv" > "$out/comm-$s.log" 2>&1 || die "downhill comm failed in $s: $out/comm-$s.log"
    fit=$("$PY" "$here/comm_model.py" "$out/comm-$s.csv" --kind exact --algorithm halving \
        --large-bytes 1048576) ||
        die "comm_model.py could not fit $out/comm-$s.csv"
    read -r alpha beta < <(awk '$1 == "halving" { print $2, $3; exit }' <<<"$fit")
    echo "scaling-wide: $s: alpha $alpha us, beta $beta ns/B" >&2
    for ov in $overlaps; do
        ovset=()
        [ "$ov" != n/a ] && ovset=(--set train.overlap="$([ "$ov" = on ] && echo true || echo false)")
        tag=$s-overlap-${ov/\//}
        echo "scaling-wide: $s, P = $p, overlap $ov: $modes" >&2
        sweep "$out/$tag" "$p" "$modes" "$batch" "$per_rank" "$launcher" "${ovset[@]}"
        while IFS=, read -r mode rp _ b pr sps _ _ hash run; do
            row "$s" "$rate" "$hosts" "$rp" "$mode" "$ov" "$b" "$pr" "$sps" "$hash" "$run" \
                "$alpha" "$beta" "$wbytes"
        done < <(tail -n +2 "$out/$tag/scaling.csv")
    done
done
bash "$here/simhosts.sh" down

csv=$out/scaling-wide.csv
{
    echo "setting,link_rate,hosts,ranks,mode,overlap,batch,per_rank_batch,samples_per_second,speedup,efficiency,predicted_efficiency,predicted_off,predicted_on,step_ms,predicted_step_ms,compute_ms,allreduce_ms,predicted_exposed_ms,alpha_us,beta_ns_per_B,sum_bytes,us_per_example,backward_share,params_hash,run_file"
    cat "$rows"
} > "$csv"
rm -f "$rows"
cut -d, -f1,4-6,9,11-19 "$csv" | column -t -s, 2> /dev/null || cat "$csv"
echo "scaling-wide: wrote $csv"
"$PY" "$here/plot_scaling.py" "$csv" "$out/scaling-wide.png" || failed=1

strong_hashes=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "params_hash") h = i }
                         NR > 1 && $5 == "strong" { print $h }' "$csv" | sort -u)
if [ "$(grep -c . <<<"$strong_hashes")" -gt 1 ]; then
    echo "scaling-wide: FAIL: strong-scaling runs ended with different weights: $(tr '\n' ' ' <<<"$strong_hashes")" >&2
    exit 1
elif [ -n "$strong_hashes" ]; then
    echo "scaling-wide: strong scaling: every setting, P and overlap ended with params_hash $strong_hashes"
fi
[ "$failed" -eq 0 ] || echo "scaling-wide: some runs failed: see the logs in $out" >&2
exit $failed
