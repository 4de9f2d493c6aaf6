#!/usr/bin/env bash
# Installs what downhill needs on Debian 12 (root, or sudo). Elsewhere (a cluster with
# modules) it installs nothing and says what to load instead.
# usage: scripts/install-deps.sh [--tests] [--bench]
set -euo pipefail

# to build, run and plot
packages=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          hdf5-tools libinih-dev zlib1g-dev dataset-fashion-mnist python3-h5py python3-numpy
          python3-matplotlib procps)
# and for the tests: a real SLURM, clang (libFuzzer, sanitizers, OpenMP for the clang
# build whose weights are compared), network namespaces,
# Lmod (the install test loads the modulefile)
test_packages=(slurm-wlm munge clang libclang-rt-14-dev libomp-dev iproute2 lmod)
# and for the PyTorch peer of the benchmark (bench/peer_pytorch.py): Debian's PyTorch 1.13,
# whose BLAS (libblas.so.3) OpenBLAS provides once installed. Optional: neither the build
# nor any test needs it.
bench_packages=(python3-torch libopenblas0-pthread)
for arg in "$@"; do
    case $arg in
        --tests) packages+=("${test_packages[@]}") ;;
        --bench) packages+=("${bench_packages[@]}") ;;
        --help)
            echo "usage: $0 [--tests] [--bench]   installs: ${packages[*]}"
            echo "  --tests: also ${test_packages[*]}"
            echo "  --bench: also ${bench_packages[*]} (the PyTorch peer of bench/report.sh)"
            exit 0 ;;
        *) echo "install-deps: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

if ! command -v apt-get > /dev/null || ! command -v dpkg-query > /dev/null; then
    echo "install-deps: not a Debian system: load your site's MPI, HDF5 (parallel build),"
    echo "  CMake, zlib and libinih modules instead, then build with cmake -B build."
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
