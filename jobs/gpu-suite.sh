#!/usr/bin/env bash
# The GPU machine's suite (called by ../shared/gpu/device-check.sh with OUT and BUILD set): the
# Hugging Face cross-check of both model families and the step benchmark, results under $OUT.
# Keep it under ~5 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
BUILD=${BUILD:-build-gpu}
mkdir -p "$OUT"
status=0
echo "== Hugging Face cross-check (fp32 logits, tolerance 1e-4)"
python3 jobs/gpu/hf_crosscheck.py --gdpo "$BUILD/gdpo" --out "$OUT" || status=1
echo "== gdpo bench step (paper-4l preset)"
timeout 180 "$BUILD/gdpo" bench step --bench.preset paper-4l 2>&1 | tee "$OUT/bench-step.txt" || status=1
exit $status
