#!/usr/bin/env bash
# The README's first command: install, build, and train the default network on
# Fashion-MNIST with 2 MPI ranks. The run file is fashion-mnist-run.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Open MPI refuses root unless told; --oversubscribe lets 2 ranks start on 1 core.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# --force: running the quickstart again replaces its own run file
mpirun --oversubscribe -np 2 build/downhill train configs/fashion-mnist.ini --force "$@"
echo "quickstart: inspect the run with: build/downhill info fashion-mnist-run.h5"
