#!/usr/bin/env bash
# jobs/*.sbatch across nodes, on a real four-node SLURM started for the test
# (scripts/slurm-multi.sh: four simulated hosts, one slurmd in each, one slurmctld, one
# munged; stopped and its namespaces removed at the end, also when a test fails or the
# script is interrupted). Installs nothing.
#   1. train.sbatch, tiny config: -N 2 -n 2 (mpirun), -N 2 -n 4 with 2 ranks per node
#      (srun --mpi=pmix, and mpirun), -N 4 -n 4 -c 2 (srun): every job ends with the
#      weights and history of a one-rank run, its log names each node with its ranks and
#      the way the sums travel (node window or messages), as downhill's own line says.
#   2. scaling.sbatch on -N 4 --ntasks-per-node=1: P = 1, 2, 4 on 1, 2, 4 nodes; writes
#      the CSV and the PNG, strong scaling bitwise equal.
#   3. scancel --signal=USR1 --batch on a two-node job (srun, 2 ranks per node): it
#      checkpoints, requeues, resumes on two nodes, ends equal to the uninterrupted run.
#   4. the same for a -N 2 -n 2 job (mpirun) requeued onto ONE node (scontrol update
#      NumNodes=1): it resumes there exactly.
#   5. SIGKILL to rank 3 on the second node of a -N 2 -n 4 job, under mpirun and under srun:
#      the job ends on both nodes within 30 s (FAILED, no rank left anywhere), its output
#      names the rank and the node.
# Scenarios 3-5 run at the same time; requeued jobs are released at once (StartTime=now).
# At the end: one line per job with its nodes, ranks, launcher, wall time, weights hash.
# usage: tests/scenario/slurm_multi.sh DOWNHILL
#   exit 0 all ok, 1 a failure, 77 SLURM not installed or namespaces not available
set -uo pipefail

# shellcheck source=tests/scenario/slurm_lib.sh
. "$(dirname "$0")/slurm_lib.sh" "$@"

require sbatch squeue scontrol scancel srun slurmctld slurmd munged ip h5dump
[ "$(id -u)" -eq 0 ] || { echo "skip: the multi-node SLURM needs root (network namespaces)"; exit 77; }

make_scratch slurm-multi
bg_pids=()
summary=()

cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2> /dev/null; done
    bash "$root/scripts/slurm-multi.sh" stop "$scratch/slurm" > /dev/null
    drop_scratch slurm_multi
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 1' INT TERM

# a link rate far above what the jobs send: the shaping is made and removed, not felt
bash "$root/scripts/slurm-multi.sh" start "$scratch/slurm" --nodes 4 --rate 10gbit
rc=$?
[ $rc -eq 77 ] && { trap - EXIT; rm -rf "$scratch"; exit 77; }
[ $rc -eq 0 ] || { fail "the multi-node SLURM did not start"; tail -5 "$scratch"/slurm/*.log; exit 1; }
eval "$(bash "$root/scripts/slurm-multi.sh" env "$scratch/slurm")"
export DOWNHILL=$bin DOWNHILL_SCRIPTS=$root/scripts
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$work" || exit 1

# tiny: batch 40 divides among 1, 2, 4 ranks (long.ini, for scenarios 3-5, comes later)
tiny_ini 200 40 > tiny.ini

# the one-rank reference, while the cluster works
OMP_NUM_THREADS=1 "$bin" train tiny.ini --set output.file=tiny-ref.h5 > tiny-ref.log 2>&1 &
bg_pids+=($!)

show_log() { echo "--- $1"; grep -v -E '^(#|\[|[a-z_]+ = |$)' "$1" | tail -25; }
# second_node JOB: the second node of the job's allocation
second_node() { scontrol show hostnames "$(squeue -h -j "$1" -o %N)" 2> /dev/null | sed -n 2p; }
# wall OUT: seconds from the first start of the job to its "done" line (empty if not done)
wall() {
    local a b
    a=$(sed -n 's/^train.sbatch: job .* (start 1,.* at \(.*\)$/\1/p' "$1" | head -1)
    b=$(sed -n 's/^train.sbatch: done at \([0-9-]* [0-9:]*\):.*/\1/p' "$1" | tail -1)
    [ -n "$a" ] && [ -n "$b" ] && echo $(($(date -d "$b" +%s) - $(date -d "$a" +%s)))
}
# note NAME OUT LAUNCHER: a line of the closing summary
note() {
    local nodes ranks
    nodes=$(sed -n 's/^train.sbatch: nodes \([^,]*\), ranks \([0-9]*\).*/\1/p' "$2" | paste -sd '>' -)
    ranks=$(sed -n 's/^train.sbatch: nodes [^,]*, ranks \([0-9]*\).*/\1/p' "$2" | paste -sd '>' -)
    summary+=("$(printf '%-34s nodes %-22s ranks %-4s %-6s wall %4s s  hash %s' "$1" "$nodes" "$ranks" "$3" "$(wall "$2")" "$(hash_of "$4")")")
}
# epochs_since_start OUT: epoch lines printed since the last start header
epochs_since_start() {
    [ -f "$1" ] || { echo 0; return; }
    awk '/^train.sbatch: job/ { e = 0 } /^ +[0-9]+ +[0-9.]+ +[0-9.]+ +[01]\.[0-9]+ / { e++ } END { print e + 0 }' "$1" 2> /dev/null
}

# 1 and 2: tiny trainings on 2 and 4 nodes, and the scaling job on 1, 2, 4 nodes
submit() { # NAME LAUNCHER SBATCH_OPTIONS...: a tiny train.sbatch job writing NAME.h5
    local name=$1 launcher=$2
    shift 2
    DOWNHILL_LAUNCHER=$launcher sbatch --parsable "$@" -o "$name.out" \
        "$root/jobs/train.sbatch" tiny.ini --set "output.file=$name.h5"
}
declare -A launcher_of=() nodes_of=()
tiny_jobs=()
for spec in "n2r2:mpirun:2:-N 2 -n 2" "n2r4:srun:2:-N 2 -n 4 --ntasks-per-node=2" \
    "n2r4m:mpirun:2:-N 2 -n 4 --ntasks-per-node=2" "n4r4c2:srun:4:-N 4 -n 4 -c 2"; do
    IFS=: read -r name launcher nodes opts <<< "$spec"
    # shellcheck disable=SC2086  # opts is a list of sbatch options
    j=$(submit "$name" "$launcher" $opts) || { fail "sbatch $name"; continue; }
    tiny_jobs+=("$j:$name")
    launcher_of[$name]=$launcher nodes_of[$name]=$nodes
done
js=$(DOWNHILL_CONFIG=tiny.ini DOWNHILL_SCALING_DIR=$work/scaling \
    sbatch --parsable -N 4 -n 4 --ntasks-per-node=1 -o scaling.out "$root/jobs/scaling.sbatch" \
    --epochs 2 --train-limit 1000 --test-limit 100 --batch 32 --per-rank-batch 8)
wait "${bg_pids[0]}" || fail "the one-rank tiny reference run"
reference=$(outcome tiny-ref.h5)
for jn in "${tiny_jobs[@]}"; do
    j=${jn%%:*} name=${jn#*:}
    s=$(wait_done "$j" 180)
    out=$name.out
    n_lines=$(grep -c '^train.sbatch: node ' "$out" 2> /dev/null)
    if [ "$s" != COMPLETED ]; then
        fail "$name: job $j $s"; show_log "$out"; continue
    fi
    if [ "$(outcome "$name.h5")" != "$reference" ]; then
        fail "$name: weights or history differ from the one-rank run"; show_log "$out"; continue
    fi
    # the job's own node lines agree with downhill's: 2 ranks on a node -> the node window
    if [ "$n_lines" -ne "${nodes_of[$name]}" ]; then
        fail "$name: $n_lines node lines in the log, expected ${nodes_of[$name]}"; show_log "$out"; continue
    fi
    if grep -q "shared-memory window" "$out"; then
        grep -q '^ranks: .*by node shared memory, messages between nodes' "$out"
    else
        grep -q '^ranks: .*by messages$' "$out"
    fi || { fail "$name: the job's node lines and downhill's reduction line disagree"; show_log "$out"; continue; }
    if [ "$name" = n2r4 ] && ! { grep -q '^train.sbatch: node [^ ]*: ranks 0-1: sums added in the node' "$out" \
        && grep -q '^train.sbatch: node [^ ]*: ranks 2-3: sums added in the node' "$out"; }; then
        fail "$name: the log does not name ranks 0-1 and 2-3 on the two nodes"; show_log "$out"; continue
    fi
    ok "$name: ${launcher_of[$name]} on $(sed -n 's/^train.sbatch: nodes \([^,]*\),.*/\1/p' "$out"): same weights and history as one rank; $(grep -c '^train.sbatch: node ' "$out") node lines, $(sed -n 's/^ranks: .*reduction: exact, by //p' "$out")"
    note "$name" "$out" "${launcher_of[$name]}" "$name.h5"
done
s=$(wait_done "$js" 240)
if [ "$s" = COMPLETED ] && [ "$(grep -c '^strong,' scaling/scaling.csv)" -eq 3 ] \
    && [ "$(grep -c '^weak,' scaling/scaling.csv)" -eq 3 ] \
    && [ "$(head -c 4 scaling/scaling.png | tail -c 3)" = PNG ] \
    && [ "$(grep -c '^scaling.sbatch: node ' scaling.out)" -eq 4 ] \
    && grep -q "strong scaling: every P" scaling.out \
    && grep -q 'by messages$' scaling/strong-p4-t1.log; then
    ok "scaling.sbatch on 4 nodes: job $js wrote scaling.csv (P = 1, 2, 4, strong scaling bitwise equal) and scaling.png"
    awk -F, '{ printf "     %-6s %5s %7s %5s %14s %18s %7s %10s %16s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' scaling/scaling.csv
else
    fail "scaling.sbatch on 4 nodes: job $js $s"; show_log scaling.out
fi

echo "slurm_multi: scenarios 1-2 took $(($(date +%s) - t0)) s"

# 3, 4, 5: warned and killed jobs on a run long enough that the signals come mid-run: about
# 20 s of training at the epoch time that n2r4 (4 ranks on 2 nodes) saw under this load
epochs=$(h5dump -y -w 0 -d /history/seconds n2r4.h5 2> /dev/null | awk '/DATA/ { on = 1; next } on && /}/ { on = 0 }
    on { gsub(/,/, " "); for (i = 1; i <= NF; i++) { n++; if (n > 1) s += $i } }
    END { e = n > 1 && s > 0 ? int(20 / (s / (n - 1)) / 10) * 10 : 30; print e < 20 ? 20 : (e > 400 ? 400 : e) }')
sed "s/^epochs = 2/epochs = $epochs/" tiny.ini > long.ini
echo "slurm_multi: long run: $epochs epochs of 2000 examples (about 20 s on 2 nodes under this load)"
OMP_NUM_THREADS=1 "$bin" train long.ini --set output.file=long-ref.h5 > long-ref.log 2>&1 &
bg_pids=($!)
ju=$(DOWNHILL_LAUNCHER=srun sbatch --parsable -N 2 -n 4 --ntasks-per-node=2 -o usr1.out \
    "$root/jobs/train.sbatch" long.ini --set output.file=usr1.h5)
jn=$(sbatch --parsable -N 2 -n 2 -o shrink.out "$root/jobs/train.sbatch" long.ini --set output.file=shrink.h5)
jkm=$(sbatch --parsable -N 2 -n 4 --ntasks-per-node=2 -o kill-mpirun.out \
    "$root/jobs/train.sbatch" long.ini --set output.file=kill-mpirun.h5)
jks=$(DOWNHILL_LAUNCHER=srun sbatch --parsable -N 2 -n 4 --ntasks-per-node=2 -o kill-srun.out \
    "$root/jobs/train.sbatch" long.ini --set output.file=kill-srun.h5)
declare -A signalled=() pending_since=() killed_at=() victim_node=() ended_after=() shrunk=()
# kill_rank3 JOB OUT RANKVAR: SIGKILL to rank 3 of the job on its second node; prints the node
kill_rank3() {
    local node p
    node=$(second_node "$1")
    [ -n "$node" ] || return 1
    for p in $(ip netns pids "$node" 2> /dev/null); do
        [ "$(cat "/proc/$p/comm" 2> /dev/null)" = downhill ] || continue
        tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx "SLURM_JOB_ID=$1" || continue
        tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx "$3=3" || continue
        kill -KILL "$p" && echo "$node" && return 0
    done
    return 1
}
deadline=$(($(date +%s) + 240))
while [ "$(date +%s)" -lt "$deadline" ]; do
    all_done=1
    for j in "$ju:usr1" "$jn:shrink" "$jkm:kill-mpirun" "$jks:kill-srun"; do
        id=${j%%:*} name=${j#*:}
        s=$(state "$id")
        finished "$s" && { [ -n "${killed_at[$id]:-}" ] && [ -z "${ended_after[$id]:-}" ] \
            && ended_after[$id]=$(($(date +%s) - killed_at[$id])); continue; }
        all_done=0
        case $name in
            usr1 | shrink)
                if [ "$s" = RUNNING ] && [ -z "${signalled[$id]:-}" ] && [ "$(epochs_since_start "$name.out")" -ge 2 ]; then
                    scancel --signal=USR1 --batch "$id" && signalled[$id]=1
                fi
                if [ "$s" = PENDING ] && [ "$(restarts "$id")" -gt 0 ] 2> /dev/null; then
                    # requeued: onto one node for "shrink"; skip the ~120 s BeginTime
                    # hold-off, but not within 2 s of the requeue (slurmd refuses a start
                    # in the same second: "Job credential revoked"); repeat, too early is
                    # overridden
                    if [ "$name" = shrink ] && [ -z "${shrunk[$id]:-}" ]; then
                        scontrol update JobId="$id" NumNodes=1 && shrunk[$id]=1
                    fi
                    pending_since[$id]=${pending_since[$id]:-$(date +%s)}
                    [ $(($(date +%s) - pending_since[$id])) -ge 2 ] && scontrol update JobId="$id" StartTime=now 2> /dev/null
                fi
                ;;
            kill-*)
                var=OMPI_COMM_WORLD_RANK
                [ "$name" = kill-srun ] && var=SLURM_PROCID
                if [ "$s" = RUNNING ] && [ -z "${killed_at[$id]:-}" ] && [ "$(epochs_since_start "$name.out")" -ge 2 ]; then
                    if node=$(kill_rank3 "$id" "$name.out" "$var"); then
                        killed_at[$id]=$(date +%s) victim_node[$id]=$node
                    fi
                fi
                ;;
        esac
    done
    [ $all_done -eq 1 ] && break
    sleep 0.5
done
wait "${bg_pids[0]}" || fail "the one-rank long reference run"
bg_pids=()
reference=$(outcome long-ref.h5)

# resumed NAME JOB OUT H5 LAUNCHER: the job was warned, requeued, resumed and ends exact
resumed() {
    local s starts
    s=$(state "$2")
    starts=$(grep -c '^train.sbatch: job' "$3")
    if [ "$s" != COMPLETED ]; then
        fail "$1: job $2 ended ${s:-UNKNOWN}"; show_log "$3"; return 1
    fi
    if [ "$starts" -lt 2 ] || ! grep -q 'got USR1' "$3" || ! grep -q 'requeueing job' "$3" \
        || ! grep -q '^resumed from ' "$3"; then
        fail "$1: job $2 ran in $starts allocation(s), expected a warning, a requeue and a resume"; show_log "$3"; return 1
    fi
    if [ "$(outcome "$4")" != "$reference" ]; then
        fail "$1: differs from the uninterrupted run"; diff <(echo "$reference") <(outcome "$4") | head -8; return 1
    fi
    note "$1" "$3" "$5" "$4"
}
if resumed "usr1-requeue" "$ju" usr1.out usr1.h5 srun; then
    if ! sed -n 's/^train.sbatch: nodes \([^,]*\),.*/\1/p' usr1.out | grep -qv -e '\[' -e ','; then
        ok "USR1 on a two-node job (srun): checkpointed, requeued, resumed on two nodes, same weights and history as the uninterrupted run"
    else
        fail "usr1-requeue: not every allocation had two nodes"; show_log usr1.out
    fi
fi
if resumed "requeue-onto-one-node" "$jn" shrink.out shrink.h5 mpirun; then
    first=$(sed -n 's/^train.sbatch: nodes \([^,]*\),.*/\1/p' shrink.out | head -1)
    last=$(sed -n 's/^train.sbatch: nodes \([^,]*\),.*/\1/p' shrink.out | tail -1)
    if [[ $first == *\[* ]] && [[ $last != *\[* ]] && [[ $last != *,* ]] \
        && grep -q '^ranks: 2, .*by messages$' shrink.out \
        && grep -q '^ranks: 2, .*by node shared memory$' shrink.out; then
        ok "requeue from 2 nodes ($first) onto 1 ($last): resumed exactly, the sums moved from messages to the node window"
    else
        fail "requeue-onto-one-node: allocations $first then $last"; show_log shrink.out
    fi
fi
for j in "$jkm:kill-mpirun:mpirun" "$jks:kill-srun:srun"; do
    IFS=: read -r id name launcher <<< "$j"
    node=${victim_node[$id]:-}
    s=$(state "$id")
    if [ -z "$node" ]; then
        fail "$name: no rank 3 found to kill on the job's second node (job $id $s)"; show_log "$name.out"; continue
    fi
    after=${ended_after[$id]:-}
    case $launcher in
        mpirun) named="process rank 3 with PID [0-9]* on node $node" ;;
        srun) named="$node: task 3: Killed" ;;
    esac
    left=""
    for ns in $(ip netns list | awk '{ print $1 }' | grep "^${node%n*}n[0-9]*$"); do
        for p in $(ip netns pids "$ns" 2> /dev/null); do
            tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx "SLURM_JOB_ID=$id" && left+=" $ns:$p($(cat "/proc/$p/comm" 2> /dev/null))"
        done
    done
    if [ "$s" = FAILED ] && [ -n "$after" ] && [ "$after" -le 30 ] && grep -q "$named" "$name.out" && [ -z "$left" ]; then
        ok "$name: rank 3 killed on $node: the job ended on both nodes ${after} s later (FAILED), the output names rank and node: $(grep -o "$named" "$name.out" | head -1)"
        summary+=("$(printf '%-34s nodes %-22s ranks %-4s %-6s ended %2s s after the kill of rank 3 on %s' "$name" "$(sed -n 's/^train.sbatch: nodes \([^,]*\),.*/\1/p' "$name.out")" 4 "$launcher" "$after" "$node")")
    else
        fail "$name: job $id $s ${after:+${after} s after the kill}, rank and node named: $(grep -c "$named" "$name.out"), left:${left:- none}"; show_log "$name.out"
    fi
done

echo "slurm_multi: jobs (nodes of each allocation, ranks, launcher, wall time from the first start to done, weights hash):"
for line in "${summary[@]}"; do echo "  $line"; done
echo "  one-rank references: tiny $(hash_of tiny-ref.h5), long $(hash_of long-ref.h5)"
verdict slurm_multi
