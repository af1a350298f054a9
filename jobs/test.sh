#!/usr/bin/env bash
# Builds gdpo (via jobs/setup.sh, which installs missing packages) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash jobs/setup.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
