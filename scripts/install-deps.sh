#!/usr/bin/env bash
# Installs what downhill needs on Debian 12 (root, or sudo). Elsewhere (a cluster with
# modules) it installs nothing and says what to load instead.
# usage: scripts/install-deps.sh [--tests]
set -euo pipefail

# to build, run and plot
packages=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          hdf5-tools libinih-dev zlib1g-dev dataset-fashion-mnist python3-h5py python3-numpy
          python3-matplotlib procps)
# and for the tests: a real SLURM, clang (libFuzzer, sanitizers, OpenMP for the clang
# build whose weights are compared), network namespaces,
# Lmod (the install test loads the modulefile)
test_packages=(slurm-wlm munge clang libclang-rt-14-dev libomp-dev iproute2 lmod)
[ "${1:-}" = "--tests" ] && packages+=("${test_packages[@]}")

if [ "${1:-}" = "--help" ]; then
    echo "usage: $0 [--tests]   installs: ${packages[*]} (--tests: also ${test_packages[*]})"
    exit 0
fi

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
