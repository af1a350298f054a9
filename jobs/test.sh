#!/usr/bin/env bash
# Builds gdpo (via jobs/setup.sh, which installs missing packages) and runs the whole test suite.
# Ends with one line counting passed, failed and skipped tests: a test that needs ../shared/data
# (absent in a fresh clone) skips with a message, and a skip is never a pass.
set -euo pipefail
# Idle OpenMP threads must not spin against OpenBLAS's own threads (2-4x slower steps otherwise).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash jobs/setup.sh
log="$BUILD_DIR/ctest.log"
set +e
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
total=$(sed -nE 's/.* tests? failed out of ([0-9]+).*/\1/p' "$log" | tail -n 1)
failed=$(sed -nE 's/.* ([0-9]+) tests? failed out of .*/\1/p' "$log" | tail -n 1)
skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$log" || true)
if [ -n "$total" ]; then
  if [ "$skipped" -gt 0 ]; then
    echo "skipped tests (their reasons are in $log):"
    grep -E '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$log" | sed 's/^[[:space:]]*/  /'
  fi
  echo "tests: $((total - failed - skipped)) passed, ${failed} failed, ${skipped} skipped"
fi
exit "$rc"
