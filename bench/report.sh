#!/usr/bin/env bash
# Runs `downhill bench` at 1 and 2 ranks and writes bench/RESULTS.md (a Markdown table with
# the date, CPU, compiler and the raw output) and bench/throughput.png (a bar chart of the
# training step's examples/s, drawn with /usr/bin/python3 and matplotlib).
# usage: bench/report.sh [BUILD_DIR]  (env: LIMIT=16384 training examples, THREADS: threads
# per rank, default the cores divided among the ranks; WIDE: the wider networks benched at
# one rank, default "784,128,128,10 784,512,512,10", with WIDE_LIMIT=4096 examples; WIDE=""
# skips them; PEER=0 skips the PyTorch peer)
# The PyTorch peer (bench/peer_pytorch.py: the same layers, cost, SGD and batches, one and
# the bench's threads) is measured for the reference network and the WIDE layers when
# /usr/bin/python3 can import torch (scripts/install-deps.sh --bench); otherwise the report
# says it was skipped.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
raw=$(mktemp) wide=$(mktemp) peer=$(mktemp)
trap 'rm -f "$raw" "$wide" "$peer"' EXIT
cores=$(nproc)
for np in 1 2; do
    # threads per rank: THREADS, or the cores each rank has (more threads than cores
    # collapse to a fraction of a percent: not a measurement)
    threads=${THREADS:-$((cores / np > 0 ? cores / np : 1))}
    OMP_NUM_THREADS=$threads mpirun --oversubscribe --bind-to none -np "$np" \
        "$build/downhill" bench --limit "${LIMIT:-16384}" >> "$raw"
done
for layers in ${WIDE-784,128,128,10 784,512,512,10}; do
    OMP_NUM_THREADS=${THREADS:-$cores} mpirun --oversubscribe --bind-to none -np 1 \
        "$build/downhill" bench --limit "${WIDE_LIMIT:-4096}" --set model.layers="$layers" >> "$wide"
done
# the peer: the reference network and the wide layers, at the threads the wide rows use
peer_note=""
if [ "${PEER:-1}" = 0 ]; then
    peer_note="PyTorch peer skipped (PEER=0)."
elif ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    peer_note="PyTorch peer skipped: /usr/bin/python3 cannot import torch (install it with \`scripts/install-deps.sh --bench\`)."
else
    peer_threads=$(printf '%s\n' 1 "${THREADS:-$cores}" | sort -un)
    for layers in 784,16,16,10 ${WIDE-784,128,128,10 784,512,512,10}; do
        for th in $peer_threads; do
            /usr/bin/python3 "$here/peer_pytorch.py" --layers "$layers" --threads "$th" \
                --batch 10,64,256 --limit "${WIDE_LIMIT:-4096}" >> "$peer"
        done
    done
fi
# spread_rows KIND: the raw lines of KIND as table rows: four fields, then median [min..max].
spread_rows() {
    awk -v kind="$1" '$1 == kind { printf "| %s | %s | %s | %s | %s [%s..%s] |\n",
                                  $2, $3, $4, $5, $6, $7, $8 }' "$raw"
}
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
cc=$(awk -F= '/^CMAKE_C_COMPILER:/ { print $2 }' "$build/CMakeCache.txt" 2>/dev/null || echo cc)
{
    echo "# downhill benchmark results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu, $("$cc" --version | head -1)," \
         "$(uname -sr). Regenerate with \`bash bench/report.sh build\`."
    echo
    echo "FMA peak (downhill's own kernels), GFLOP/s: median [min..max]. \"% of peak\" below is"
    echo "against the AVX2 peak (the issue's definition); the AVX-512 peak is for reference."
    echo
    echo "| kernel | ranks | threads/rank | cores | GFLOP/s |"
    echo "|---|---:|---:|---:|---:|"
    awk '$1 == "peak" || $1 == "peak512" { printf "| %s | %s | %s | %s | %s [%s..%s] |\n",
         $1 == "peak" ? "AVX2" : "AVX-512", $2, $3, $4, $5, $6, $7 }' "$raw"
    echo
    echo "Training step (forward, backward, gradient sum, update): examples/s median [min..max]"
    echo
    echo "| ranks | threads/rank | batch | reduction | examples/s | GFLOP/s | % of peak |"
    echo "|---:|---:|---:|---|---:|---:|---:|"
    awk '$1 == "step" { printf "| %s | %s | %s | %s | %s [%s..%s] | %s | %s |\n",
         $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$raw"
    echo
    if grep -q '^speedup ' "$raw"; then
        echo "Speedup of the most threads over one (exact path; pairs of repetitions timed in"
        echo "turn, so the machine's drift between runs cancels): ratio median [min..max]"
        echo
        echo "| ranks | threads/rank | batch | reduction | speedup |"
        echo "|---:|---:|---:|---|---:|"
        spread_rows speedup
        echo
    fi
    if [ -s "$wide" ]; then
        echo "Wider networks (one rank; \`--set model.layers=...\`): FLOP per example as bench"
        echo "counts them (forward, weight gradients, hidden deltas, the rest: biases, activation"
        echo "derivatives, output), then the training step as above."
        echo
        echo "| layers | forward | weight gradients | deltas | rest | total |"
        echo "|---|---:|---:|---:|---:|---:|"
        awk '/^# downhill bench/ { for (i = 1; i <= NF; i++) if ($i == "layers") l = $(i + 1) }
             $1 == "flops" { sub(",$", "", l); printf "| %s | %s | %s | %s | %s | %s |\n",
                             l, $2, $3, $4, $5, $6 }' "$wide"
        echo
        echo "| layers | threads | batch | reduction | examples/s | GFLOP/s | % of peak |"
        echo "|---|---:|---:|---|---:|---:|---:|"
        awk '/^# downhill bench/ { for (i = 1; i <= NF; i++) if ($i == "layers") l = $(i + 1)
                                   sub(",$", "", l) }
             $1 == "step" { printf "| %s | %s | %s | %s | %s [%s..%s] | %s | %s |\n",
                            l, $3, $4, $5, $6, $7, $8, $9, $10 }' "$wide"
        echo
    fi
    if [ -s "$peer" ]; then
        echo "Beside PyTorch (bench/peer_pytorch.py: the same layers, sigmoid, quadratic cost,"
        echo "plain SGD, float32, torch's default initialisation; one rank; examples/s of the"
        echo "training steps, median of 7 repetitions; the raw output below has the spread):"
        echo
        echo "| layers | threads | batch | downhill exact | downhill float | PyTorch | exact / PyTorch |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        # downhill's one-rank step rows of every network (raw and wide), then the peer's
        cat "$raw" "$wide" "$peer" | awk '
            /^# downhill bench/ || /^# peer pytorch/ {
                for (i = 1; i <= NF; i++) if ($i == "layers") l = $(i + 1)
                sub(",$", "", l) }
            $1 == "step" && $2 == 1 { v[l " " $3 " " $4 " " $5] = $6 }
            $1 == "peer" { k = l " " $3 " " $4; if (!(k in t)) order[++n] = k; t[k] = $6 }
            END { for (i = 1; i <= n; i++) {
                      split(order[i], f, " ")
                      e = v[order[i] " exact"]; fl = v[order[i] " float"]
                      printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3],
                             e == "" ? "" : e, fl == "" ? "" : fl, t[order[i]],
                             e == "" ? "" : sprintf("%.2f", e / t[order[i]]) } }'
        echo
    else
        echo "$peer_note"
        echo
    fi
    echo "Gradient combination per step, microseconds: median [min..max]"
    echo
    echo "| what | ranks | threads | values | us/step |"
    echo "|---|---:|---:|---:|---:|"
    spread_rows combine
    echo
    echo "Raw output:"
    echo
    echo '```'
    cat "$raw" "$wide" "$peer"
    echo '```'
} > "$here/RESULTS.md"
/usr/bin/python3 - "$raw" "$here/throughput.png" <<'PY'
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("step ")]
labels = sorted({(int(r[1]), int(r[2])) for r in rows})
batches = sorted({int(r[3]) for r in rows})
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, red in zip(axes, ("exact", "float")):
    width = 0.8 / max(len(labels), 1)
    for n, (np_, th) in enumerate(labels):
        ys = [next((float(r[5]) for r in rows if r[4] == red and int(r[1]) == np_
                    and int(r[2]) == th and int(r[3]) == b), 0) for b in batches]
        ax.bar([i + n * width for i in range(len(batches))], ys, width,
               label=f"{np_} rank(s) x {th} thread(s)")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(batches))])
    ax.set_xticklabels([f"batch {b}" for b in batches])
    ax.set_title(f"training step, reduction = {red}")
    ax.set_ylabel("examples/s")
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
PY
echo "wrote $here/RESULTS.md and $here/throughput.png"
