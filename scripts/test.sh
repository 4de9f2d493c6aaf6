#!/usr/bin/env bash
# The README's second command (and what CI runs): install, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
