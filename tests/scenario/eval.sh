#!/usr/bin/env bash
# `downhill eval`: the per-class accuracy and confusion matrix are the same at any ranks x
# threads and agree with the predictions file (CSV and HDF5); examples/classify.py (h5py +
# numpy, float64) gets the accuracy downhill gets (float32); the plot script draws the
# confusion matrix; --predictions errors fail on every rank, once, without a hang.
# usage: eval.sh DOWNHILL "MPIEXEC [FLAGS]" NUMPROC_FLAG SOURCE_DIR
set -uo pipefail
src=$4
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

# run: the launcher with RANKS ranks and THREADS threads
run() {
    local ranks=$1 threads=$2
    shift 2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$threads timeout 120 $mpiexec $npflag "$ranks" "$bin" "$@"
}
run 2 1 train "$src/configs/tiny.ini" --set output.file=run.h5 --set checkpoint.every_epochs=0 \
    --set data.train_images="$data/train-images-idx3-ubyte.gz" \
    --set data.train_labels="$data/train-labels-idx1-ubyte.gz" \
    --set data.test_images="$data/t10k-images-idx3-ubyte.gz" \
    --set data.test_labels="$data/t10k-labels-idx1-ubyte.gz" > train.log 2>&1 \
    || { cat train.log; echo "FAIL training"; exit 1; }

# the same report at 1x1, 2x1, 1x2 and 3x2 (ranks x threads), predictions in both formats
for shape in 1x1:p11.csv 2x1:p21.h5 1x2:p12.h5 3x2:p32.csv; do
    IFS=x: read -r ranks threads file <<< "$shape"
    if run "$ranks" "$threads" eval run.h5 --predictions "$file" > "eval-$file.txt" 2> err.txt; then
        grep -v '^predictions: wrote' "eval-$file.txt" > "report-$file.txt"
        ok "eval at ${ranks}x$threads wrote $file"
    else
        fail "eval at ${ranks}x$threads: $(head -3 err.txt)"
    fi
done
for other in p21.h5 p12.h5 p32.csv; do
    cmp -s report-p11.csv.txt "report-$other.txt" && ok "report at ${other} = at 1x1" \
        || fail "the report differs between 1x1 and the run that wrote $other"
done
cmp -s p11.csv p32.csv && ok "CSV predictions identical at 1x1 and 3x2" || fail "CSV predictions differ"
grep -q '^confusion matrix' report-p11.csv.txt || fail "no confusion matrix printed"
grep -q '^    9: ' report-p11.csv.txt || fail "no per-class line of class 9"

# the files agree with the report, with each other and with the test labels
"$py" - "$data" <<'PY' || fails=$((fails + 1))
import gzip, re, sys
import h5py
import numpy as np
data = sys.argv[1]
text = open("report-p11.csv.txt").read()
correct, count = map(int, re.search(r"^correct: (\d+) of (\d+)$", text, re.M).groups())
rows = re.findall(r"^ {4}(\d) ((?: +\d+){10})$", text, re.M)
printed = np.array([[int(v) for v in r[1].split()] for r in rows])
per_class = re.findall(r"^ +(\d+): (\d+) / (\d+) = ([0-9.]+)$", text, re.M)
csv = np.loadtxt("p11.csv", delimiter=",", skiprows=1)
header = open("p11.csv").readline().strip().split(",")
labels = np.frombuffer(gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
fails = []
def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)
check(header == ["index", "label", "predicted"] + [f"prob_{j}" for j in range(10)], "CSV header")
check(csv.shape == (count, 13), f"CSV holds {count} rows of 13 columns")
check((csv[:, 0] == np.arange(count)).all(), "CSV index is 0 .. count - 1")
check((csv[:, 1] == labels[:count]).all(), "CSV labels are the test labels in order")
probs = csv[:, 3:].astype(np.float32)
check((probs.argmax(axis=1) == csv[:, 2]).all(), "predicted = first largest output")
check(int((csv[:, 1] == csv[:, 2]).sum()) == correct, f"CSV has the {correct} correct examples")
cm = np.zeros((10, 10), np.int64)
np.add.at(cm, (csv[:, 1].astype(int), csv[:, 2].astype(int)), 1)
check(printed.shape == (10, 10) and (printed == cm).all(), "printed confusion matrix = CSV's")
check(len(per_class) == 10 and all(int(h) == cm[int(t), int(t)] and int(n) == cm[int(t)].sum()
                                   for t, h, n, _ in per_class), "per-class lines = CSV's")
for name in ("p21.h5", "p12.h5"):
    with h5py.File(name, "r") as f:
        check(f.attrs["format"] == "downhill-predictions" and f.attrs["format_version"] == 1
              and f.attrs["classes"] == 10, f"{name}: format attributes")
        check((f["index"][:] == np.arange(count)).all() and (f["label"][:] == labels[:count]).all()
              and (f["predicted"][:] == csv[:, 2]).all(), f"{name}: index, label, predicted = CSV's")
        check(f["probabilities"].dtype == np.float32 and (f["probabilities"][:] == probs).all(),
              f"{name}: probabilities = CSV's, bit for bit (float32, 9 digits)")
        check((f["confusion"][:] == cm).all(), f"{name}: /confusion = the printed matrix")
sys.exit(1 if fails else 0)
PY

# examples/classify.py (float64) against downhill eval (float32): the same correct count.
# An example whose two largest outputs differ by less than float32's rounding (about 1e-7)
# could take the other class in float64, so one in 10,000 may differ; none is expected.
if "$py" "$src/examples/classify.py" run.h5 > classify.txt 2> err.txt; then
    ours=$(sed -n 's/^correct: \([0-9]*\) of \([0-9]*\)$/\1 \2/p' report-p11.csv.txt)
    theirs=$(sed -n 's/^correct: \([0-9]*\) of \([0-9]*\)$/\1 \2/p' classify.txt)
    read -r c1 n1 <<< "$ours"
    read -r c2 n2 <<< "$theirs"
    diff=$((c1 > c2 ? c1 - c2 : c2 - c1))
    if [ -n "$c1" ] && [ "$n1" = "$n2" ] && [ $((diff * 10000)) -le "$n1" ]; then
        ok "classify.py: $c2 of $n2 correct, downhill eval: $c1 of $n1"
    else
        fail "classify.py '$theirs' against downhill eval '$ours'"
    fi
else
    fail "classify.py: $(tail -3 err.txt)"
fi
# the example honours the network's kind: root attributes first, then the config text
cp run.h5 kind-config.h5 && cp run.h5 kind-attrs.h5
"$py" - <<'PY'
import h5py
with h5py.File("kind-config.h5", "r+") as f:
    for k in ("activation", "output"):  # no kind attributes: the config text decides
        if k in f.attrs:
            del f.attrs[k]
    f.attrs["config"] = f.attrs["config"].replace("activation = sigmoid", "activation = tanh") \
                                         .replace("output = sigmoid", "output = softmax")
with h5py.File("kind-attrs.h5", "r+") as f:
    f.attrs["activation"] = "relu"  # the attributes win over the config text
    f.attrs["config"] = f.attrs["config"].replace("activation = sigmoid", "activation = tanh")
PY
for pair in kind-config.h5:"activation tanh, output softmax" kind-attrs.h5:"activation relu, output sigmoid"; do
    file=${pair%%:*} want=${pair#*:}
    "$py" "$src/examples/classify.py" "$file" --show 1 > kind.txt 2>&1
    grep -q "$want" kind.txt && ok "classify.py reads $want from $file" \
        || fail "classify.py on $file: no '$want' in: $(head -2 kind.txt)"
done
grep -q "outputs \[" classify.txt || fail "classify.py printed no outputs"

# the confusion matrix as a PNG, from either file format
for file in p11.csv p21.h5; do
    "$py" "$src/scripts/plot_run.py" --predictions "$file" --out "plots-$file" > /dev/null
    size=$(stat -c %s "plots-$file/confusion.png" 2> /dev/null || echo 0)
    [ "$size" -gt 10000 ] && ok "confusion.png from $file ($size bytes)" || fail "no confusion.png from $file"
done

# errors: non-zero exit on every rank, one message, no hang, no file left behind
mkdir folder.csv
for case in "bad.txt:must end in .csv" "nodir/p.csv:cannot write to folder nodir" \
            "run.h5:is the run file" "folder.csv:is a folder"; do
    file=${case%%:*} pattern=${case#*:}
    for np in 1 2; do
        run "$np" 1 eval run.h5 --predictions "$file" > out.txt 2> err.txt
        code=$?
        if [ "$code" -eq 0 ] || [ "$code" -eq 124 ]; then
            fail "--predictions $file ($np ranks): exit code $code (0 = accepted, 124 = hang)"
        elif ! grep -q -- "$pattern" err.txt || [ "$(grep -c 'downhill: error' err.txt)" -ne 1 ]; then
            fail "--predictions $file ($np ranks): want one error line with '$pattern': $(head -3 err.txt)"
        else
            ok "--predictions $file ($np ranks): $(grep 'downhill: error' err.txt)"
        fi
    done
done
[ ! -e bad.txt ] || fail "bad.txt was created"
"$bin" info run.h5 > /dev/null || fail "run.h5 damaged by --predictions run.h5"
ln -s /dev/full full.csv
run 2 1 eval run.h5 --predictions full.csv > out.txt 2> err.txt
code=$?
{ [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q "write failed" err.txt; } \
    && ok "a failed write (disk full) is an error: $(grep 'downhill: error' err.txt)" \
    || fail "disk full: exit $code, $(head -2 err.txt)"
run 1 1 train "$src/configs/tiny.ini" --predictions x.csv > out.txt 2> err.txt
[ $? -eq 2 ] && grep -q "option of eval only" err.txt && ok "train refuses --predictions" \
    || fail "train --predictions: $(head -2 err.txt)"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
