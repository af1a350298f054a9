#!/usr/bin/env bash
# Builds gdpo (via jobs/setup.sh, which installs missing packages) and runs the whole test suite.
set -euo pipefail
# Idle OpenMP threads must not spin against OpenBLAS's own threads (2-4x slower steps otherwise).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash jobs/setup.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
