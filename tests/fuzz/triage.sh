#!/usr/bin/env bash
# Checks scripts/fuzz_triage.sh on recorded sanitizer logs (tests/fuzz/triage/): a crash
# whose first own frame is in libhdf5 (hdf5-*.log) is HDF5's, any other (downhill-*.log)
# is ours and must fail the fuzz run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/fuzz_triage.sh
fail=0
for log in tests/fuzz/triage/*.log; do
    want=downhill
    case $(basename "$log") in hdf5-*) want=hdf5 ;; esac
    got=downhill
    hdf5_only_log "$log" && got=hdf5
    echo "$(basename "$log"): $got"
    [ "$got" = "$want" ] || { echo "FAIL: $log classified as $got, expected $want"; fail=1; }
done
# sealed_input: the seeds downhill writes now carry the integrity block, the older ones not
for seed in tests/fuzz/corpus/h5/*.h5; do
    want=foreign
    case $(basename "$seed") in sealed-*) want=sealed ;; esac
    got=foreign
    sealed_input "$seed" && got=sealed
    echo "$(basename "$seed"): $got"
    [ "$got" = "$want" ] || { echo "FAIL: $seed classified as $got, expected $want"; fail=1; }
done
exit "$fail"
