#!/usr/bin/env bash
# Damaged files downhill wrote: a few hundred corrupted copies of a checkpoint and of a run
# file (random single-bit flips and byte overwrites over the whole file, and the same
# focused on HDF5 metadata: the first and last 6 KB, the superblock, the object headers).
# Each checkpoint copy is resumed (`--resume COPY`) and the run finished; each run-file copy
# is read by `downhill info` and `downhill eval`. Every outcome is one of
#   refused    non-zero exit, stderr holds exactly one "downhill: error:" line naming the
#              file and nothing else (notes and warnings of downhill aside)
#   unclear    refused, but the message is missing, repeated, does not name the file, or
#              comes with other output (an HDF5 error dump)
#   identical  exit 0 and the same result as the undamaged file (resume: the final weights
#              hash and the history columns of the run file; info and eval: stdout)
#   silent     exit 0 but a different result
#   crashed    ended by a signal (exit >= 128)
#   hung       still running after the time limit
# The test passes with zero unclear, silent, crashed and hung copies. The damage is drawn
# from a fixed seed (BITFLIP_SEED, default 20); BITFLIP_COPIES (default 80) copies of each
# file, BITFLIP_JOBS (default 2) at a time; BITFLIP_SAVE=DIR keeps the failing copies.
# usage: bitflip.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG
set -uo pipefail
source "$(dirname "$0")/lib.sh"
copies=${BITFLIP_COPIES:-80} seed=${BITFLIP_SEED:-20} jobs=${BITFLIP_JOBS:-2}
# one process per command, no mpirun: the singleton MPI needs no daemon; each command has
# its own TMPDIR (isolated singletons share Open MPI's session folder names otherwise)
export OMPI_MCA_ess_singleton_isolated=1 OMP_NUM_THREADS=1 TMPDIR=$work

{ data_ini 2048 500; cat <<INI; } > small.ini
[train]
epochs = 3
batch_size = 64
[checkpoint]
every_epochs = 1
keep = 100
INI

# 1. the undamaged run: 3 epochs, a checkpoint after each; the epoch-1 checkpoint is damaged
timeout 120 "$bin" train small.ini --set output.file=ref.h5 > ref.log 2>&1 \
    || { cat ref.log; fail "reference run"; exit 1; }
ckpt=ref.ckpt-0000000032.h5
[ -f "$ckpt" ] || { ls; fail "no epoch-1 checkpoint $ckpt"; exit 1; }

# history FILE: the run file's history columns but the clocks
history() {
    h5dump -d /history/epoch -d /history/train_cost -d /history/test_cost \
        -d /history/test_accuracy "$1" 2>&1 | grep -v '^HDF5'
}
# outcome LOG RUNFILE: the final weights hash the run printed and the history it wrote
outcome() { grep -ao 'final weights: hash [0-9a-f]*' "$1"; history "$2"; }

# 2. the references: a resume from the undamaged checkpoint, info and eval of the run file
mkdir -p refck refrun
cp "$ckpt" refck/ckpt.h5
(cd refck && timeout 120 "$bin" train ../small.ini --set output.file=out.h5 --resume ckpt.h5 \
    > out.txt 2> err.txt) || { cat refck/*.txt; fail "undamaged resume"; exit 1; }
outcome refck/out.txt refck/out.h5 > ref-resume.txt
[ "$(outcome ref.log ref.h5)" = "$(cat ref-resume.txt)" ] || fail "the undamaged resume differs from the run"
cp ref.h5 refrun/run.h5
(cd refrun && "$bin" info run.h5 > info.txt 2>&1 && "$bin" eval run.h5 --limit 2000 > eval.txt 2>&1) \
    || { cat refrun/*.txt; fail "info or eval of the undamaged run file"; exit 1; }

# 3. the damaged copies: copies/ck-N.h5 and copies/run-N.h5, their damage in damage.txt
mkdir -p copies
/usr/bin/python3 - "$seed" "$copies" "$ckpt" ref.h5 > damage.txt <<'PY' || { fail "damage"; exit 1; }
import random, sys
seed, copies, ckpt, run = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def headers(path):
    """The file's start, its superblock (after a user block) and every object header
    (absolute offsets; the headers only with h5py)."""
    try:
        import h5py
    except ImportError:
        return [0]
    with h5py.File(path, "r") as f:
        base = f.userblock_size
        found = [h5py.h5o.get_info(f.id).addr]
        f.visititems(lambda name, obj: found.append(h5py.h5o.get_info(obj.id).addr))
    return [0] + ([base] if base else []) + sorted(base + a for a in set(found))

kinds = ["bit", "bytes", "meta-bit", "meta-bytes", "header"]
rng = random.Random(seed)
for tag, path in (("ck", ckpt), ("run", run)):
    data = open(path, "rb").read()
    size, hdr = len(data), headers(path)
    meta = list(range(min(6144, size))) + list(range(max(0, size - 6144), size))
    for i in range(copies):
        kind, d = kinds[i % len(kinds)], bytearray(data)
        if kind in ("bit", "meta-bit"):
            off = rng.randrange(size) if kind == "bit" else rng.choice(meta)
            bit = rng.randrange(8)
            d[off] ^= 1 << bit
            what = "bit %d at %d" % (bit, off)
        else:
            n = rng.randint(1, 8) if kind == "bytes" else 4
            if kind == "bytes":
                off = rng.randrange(size - n)
            elif kind == "meta-bytes":
                off = min(rng.choice(meta), size - n)
            else:  # the start (a user block or the superblock), or a header: 96 bytes
                start = rng.choice(hdr)
                off = min(start + rng.randrange(96 if start == 0 else 128), size - n)
            new = bytes(rng.randrange(256) for _ in range(n))
            d[off:off + n] = new
            what = "%d bytes at %d: %s" % (n, off, new.hex())
        open("copies/%s-%d.h5" % (tag, i), "wb").write(d)
        print("%s-%d %s %s" % (tag, i, kind, what))
PY

# classify KIND DIR CODE OUTPUT REFERENCE NAME: one word for one command's outcome
classify() {
    local code=$3 dir=$2 name=$6
    if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then echo hung
    elif [ "$code" -ge 128 ]; then echo crashed
    elif [ "$code" -ne 0 ]; then
        # clear: one error line naming the file, and no other line but downhill's notes
        if [ "$(grep -ac "^downhill: error:" "$dir/err.txt")" -eq 1 ] \
            && grep -a "^downhill: error:" "$dir/err.txt" | grep -q "$name" \
            && [ "$(grep -acv "^downhill: \\(error\\|note\\|warning\\):" "$dir/err.txt")" -eq 0 ]; then
            echo refused
        else echo unclear; fi
    elif [ "$4" = "$5" ]; then echo identical
    else echo silent; fi
}

# try_ck N: resume from copy ck-N and finish the run
try_ck() {
    local dir=try/ck-$1
    mkdir -p "$dir" && mv "copies/ck-$1.h5" "$dir/ckpt.h5"
    (cd "$dir" && TMPDIR=$PWD exec timeout -k 5 60 "$bin" train ../../small.ini --set output.file=out.h5 \
        --resume ckpt.h5 > out.txt 2> err.txt)
    local code=$? got=""
    [ "$code" -eq 0 ] && got=$(outcome "$dir/out.txt" "$dir/out.h5")
    echo "$got" > "$dir/got.txt"
    report resume "ck-$1" "$(classify resume "$dir" "$code" "$got" "$(cat ref-resume.txt)" ckpt.h5)" "$code" "$dir" ref-resume.txt
    rm -rf "$dir"
}
# try_run N: info and eval of copy run-N
try_run() {
    local dir=try/run-$1 code
    mkdir -p "$dir" && mv "copies/run-$1.h5" "$dir/run.h5"
    (cd "$dir" && TMPDIR=$PWD exec timeout -k 5 30 "$bin" info run.h5 > out.txt 2> err.txt)
    code=$?
    cp "$dir/out.txt" "$dir/got.txt"
    report info "run-$1" "$(classify info "$dir" "$code" "$(cat "$dir/out.txt")" "$(cat refrun/info.txt)" run.h5)" "$code" "$dir" refrun/info.txt
    (cd "$dir" && TMPDIR=$PWD exec timeout -k 5 60 "$bin" eval run.h5 --limit 2000 > out.txt 2> err.txt)
    code=$?
    cp "$dir/out.txt" "$dir/got.txt"
    report eval "run-$1" "$(classify eval "$dir" "$code" "$(cat "$dir/out.txt")" "$(cat refrun/eval.txt)" run.h5)" "$code" "$dir" refrun/eval.txt
    rm -rf "$dir"
}
# report WHAT COPY CLASS CODE DIR REFERENCE: one result line in results/ (for a failing
# copy with its stderr, and for a silent one what differs from REFERENCE)
report() {
    local line
    line="$1 $3 $2 exit=$4 $(grep "^$2 " damage.txt | cut -d' ' -f2-)"
    case $3 in
    refused | identical) ;;
    *) line="$line | $(head -c 300 "$5/err.txt" | tr -c "[:print:]" " ")"
       [ "$3" = silent ] && line="$line | got/want: $(diff "$5/got.txt" "$6" | grep -a '^[<>]' | head -4 | tr '\n' ' ')"
       [ -n "${BITFLIP_SAVE:-}" ] && mkdir -p "$BITFLIP_SAVE" && cp "$5/$(cd "$5" && ls ckpt.h5 run.h5 2> /dev/null)" "$BITFLIP_SAVE/$2-$1.h5" ;;
    esac
    echo "$line" > "results/$1-$2"
}
export -f try_ck try_run classify report outcome history
export bin
mkdir -p results try
start=$SECONDS
{ for i in $(seq 0 $((copies - 1))); do echo "try_ck $i"; echo "try_run $i"; done; } \
    | xargs -P "$jobs" -I{} bash -c '{}'
cat results/* > all.txt

# 4. the counts
classes="refused unclear identical silent crashed hung"
printf '%-26s' "copies ($copies each)"; for c in $classes; do printf '%10s' "$c"; done; echo
for what in "resume:checkpoint, resume" "info:run file, info" "eval:run file, eval"; do
    printf '%-26s' "${what#*:}"
    for c in $classes; do printf '%10s' "$(grep -ac "^${what%%:*} $c " all.txt)"; done; echo
done
echo "($((SECONDS - start)) s; seed $seed; damage kinds: bit, bytes anywhere; meta-bit, meta-bytes in the first and last 6 KB; header: superblock and object headers)"
bad=$(grep -ac -E '^[a-z]+ (unclear|silent|crashed|hung) ' all.txt)
for what in resume info eval; do
    for c in crashed hung silent unclear; do grep -a "^$what $c " all.txt | head -8 | cut -c1-360; done
done
if [ "$bad" -eq 0 ]; then ok "every damaged copy refused clearly or read identically"
else fail "$bad damaged copies unclear, silently different, crashed or hung"; fi
[ "$(wc -l < all.txt)" -eq $((3 * copies)) ] || fail "$(wc -l < all.txt) results for $((3 * copies)) commands"
echo "bitflip: $fails failures"
[ "$fails" -eq 0 ]
