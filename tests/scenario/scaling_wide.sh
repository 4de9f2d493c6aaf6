#!/usr/bin/env bash
# The wide network's scaling experiment (scripts/scaling-wide.sh) in a tiny setting: shared
# memory and 2 simulated hosts at 1 Gbit/s, a small wide network (784-64-64-10), 2 epochs of
# 512 examples. Checks the CSV's shape (a header, the one-rank rows, a strong and a weak
# row per setting and overlap value, every prediction a positive number), that every
# strong-scaling run ended with the one-rank run's weights, and that the plot was drawn.
# No timing is asserted. Needs root and network namespaces, else exit 77 (skip).
# usage: scaling_wide.sh DOWNHILL SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d /tmp/downhill-scaling-wide.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
command -v ip > /dev/null || { echo "skip: iproute2 not installed"; exit 77; }
probe=dhsw$$
ip netns add "$probe" 2> /dev/null || { echo "skip: cannot create network namespaces"; exit 77; }
ip netns del "$probe"

rc=0
bash "$src/scripts/scaling-wide.sh" --bin "$bin" --settings "shm 2x1gbit" \
    --layers 784,64,64,10 --train-limit 512 --test-limit 100 --epochs 2 --comm-reps 3 \
    --out "$work/w" > "$work/log" 2>&1 || rc=$?
csv=$work/w/scaling-wide.csv
[ $rc -eq 0 ] || { cat "$work/log"; fail "scaling-wide.sh exited with $rc"; }
[ -r "$csv" ] || fail "no CSV"
cat "$csv"

header=$(head -1 "$csv")
for name in setting link_rate ranks mode overlap samples_per_second speedup efficiency \
    predicted_efficiency predicted_off predicted_on step_ms predicted_step_ms compute_ms \
    allreduce_ms params_hash; do
    grep -q "\(^\|,\)$name\(,\|$\)" <<<"$header" || fail "no column $name in the CSV"
done
cols=$(awk -F, 'NR == 1 { print NF }' "$csv")
awk -F, -v n="$cols" 'NF != n { exit 1 }' "$csv" || fail "rows of different widths"

# overlap values: on and off, or n/a once when the binary lacks train.overlap
ovs=$(awk -F, 'NR > 1 && $4 > 1 { print $6 }' "$csv" | sort -u | tr '\n' ' ')
case $ovs in
    "n/a ") per=1 ;;
    "off on ") per=2 ;;
    *) fail "overlap values '$ovs': expected 'off on' or 'n/a'" ;;
esac
one=$(awk -F, 'NR > 1 && $4 == 1' "$csv" | wc -l)
multi=$(awk -F, 'NR > 1 && $4 == 2' "$csv" | wc -l)
[ "$one" -eq 2 ] || fail "expected 2 one-rank rows (strong, weak), got $one"
[ "$multi" -eq $((2 * 2 * per)) ] ||
    fail "expected $((2 * 2 * per)) two-rank rows (2 settings x 2 modes x $per overlap), got $multi"
for s in shm 2x1gbit; do
    for m in strong weak; do
        n=$(awk -F, -v s="$s" -v m="$m" '$1 == s && $5 == m' "$csv" | wc -l)
        [ "$n" -eq "$per" ] || fail "$s $m: $n rows, expected $per"
    done
done
# col NAME: the column number of NAME in the CSV
col() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) print i }' "$csv"; }
# every prediction a positive number, in (0, 1] for weak scaling (strong scaling compares
# with the one-rank run at the whole batch, whose time per example may be longer than at
# B/P: superlinear is possible there), every rate and step time positive
for c in predicted_efficiency predicted_off predicted_on; do
    awk -F, -v c="$(col "$c")" 'NR > 1 && !($c > 0 && ($5 == "strong" || $c <= 1)) { exit 1 }' \
        "$csv" || fail "a $c <= 0, or above 1 for weak scaling"
done
for c in samples_per_second step_ms predicted_step_ms compute_ms; do
    awk -F, -v c="$(col "$c")" 'NR > 1 && !($c > 0) { exit 1 }' "$csv" || fail "a $c <= 0"
done

hashes=$(awk -F, -v c="$(col params_hash)" 'NR > 1 && $5 == "strong" { print $c }' "$csv" |
    sort -u | grep -c .)
[ "$hashes" -eq 1 ] || fail "strong-scaling runs ended with $hashes different weights"
grep -q "strong scaling: every setting, P and overlap ended with params_hash" "$work/log" ||
    fail "no identical-weights verdict"
[ "$(stat -c %s "$work/w/scaling-wide.png" 2> /dev/null || echo 0)" -gt 10000 ] || fail "no plot"
echo "PASS: scaling-wide: $((one + multi)) rows, overlap $ovs, strong scaling bitwise identical"
