#!/usr/bin/env bash
# The README's second command (and what CI runs): install, build, run every test.
# Then: a build without -march=native (build-portable/) and its tests (CTest label
# portable: the kernels and the reference step); an AVX2 build and a clang build, whose
# weights must equal this build's (label builds); the tests labelled sanitize (single-process tests and the corpus
# replays) and a 2-rank training under AddressSanitizer + UBSan (build-asan/); and each
# fuzzer for 30 s when clang is present. Labels: tests/CMakeLists.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
bash scripts/build.sh -DDOWNHILL_WERROR=ON # a warning in downhill's code fails CI
# Two tests at a time (CTEST_PARALLEL_LEVEL, default 2); those whose checks depend on
# timing are RUN_SERIAL and run alone (tests/scenario/CMakeLists.txt).
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-2}
(cd build && ctest --output-on-failure --timeout 900 "$@") | tee build/ctest.log

# Portable build (no -march=native, as on clusters whose login and compute nodes differ):
# the kernels without SIMD must compile and pass their tests too. Built: downhill and the
# programs of the label's tests.
cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DDOWNHILL_NATIVE=OFF \
    -DDOWNHILL_WERROR=ON > /dev/null
cmake --build build-portable -j "$(nproc)" --target downhill test_kernels test_reference test_output test_packed
(cd build-portable && ctest --output-on-failure --timeout 900 -L '^portable$')
echo "portable build: ok"

# The same bits from every build: an AVX2 build (x86-64-v3) and a clang build of downhill
# (clang picks libomp), then this build's weights compared with theirs and the portable
# build's, with checkpoints resumed across builds (tests/scenario/builds.sh).
cmake -S . -B build-v3 -DCMAKE_BUILD_TYPE=Release -DDOWNHILL_NATIVE=OFF \
    -DCMAKE_C_FLAGS=-march=x86-64-v3 -DDOWNHILL_TESTS=OFF -DDOWNHILL_WERROR=ON > /dev/null
cmake --build build-v3 -j "$(nproc)" --target downhill
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DDOWNHILL_TESTS=OFF \
    -DDOWNHILL_WERROR=ON > /dev/null
cmake --build build-clang -j "$(nproc)" --target downhill
(cd build && DOWNHILL_BUILDS="x86-64-v3=$PWD/../build-v3/downhill portable=$PWD/../build-portable/downhill clang=$PWD/../build-clang/downhill" \
    ctest --output-on-failure --timeout 900 -L '^builds$')
echo "builds: the same weights from every build"

# Sanitizers (gcc): the tests labelled sanitize, then one small 2-rank training.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOWNHILL_SANITIZE=ON > /dev/null
cmake --build build-asan -j "$(nproc)"
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 900 -L '^sanitize$')
# Open MPI's own leaks are suppressed (tests/fuzz/lsan.supp); that needs its plugins kept
# loaded and full malloc stacks.
asan_run=$(mktemp -d)
OMPI_MCA_mca_base_component_disable_dlclose=1 ASAN_OPTIONS=fast_unwind_on_malloc=0 \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 \
    mpirun -np 2 --oversubscribe build-asan/downhill train configs/tiny.ini \
    --set data.train_limit=500 --set data.test_limit=200 --set train.epochs=1 \
    --set output.file="$asan_run/run.h5"
rm -rf "$asan_run"
echo "sanitizers: clean"

bash scripts/fuzz.sh 30

# One closing line for CI, from the main CTest run (its failures already stopped us).
summary=$(grep -E '[0-9]+ tests failed out of [0-9]+' build/ctest.log | tail -1)
total=${summary##*out of }
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
echo "tests: $((total - failed)) passed, $failed failed"
