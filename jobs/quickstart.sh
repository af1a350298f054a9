#!/usr/bin/env bash
# The embedded default, end to end on a laptop CPU (a few minutes): installs and builds gdpo, makes
# synthetic opinion data whose group distribution is p* = (0.55, 0.25, 0.15, 0.05), trains a tiny
# GPT-2 with SFT, then DPO and GDPO from that SFT model, and prints their belief calibration side by
# side (JS distance between the model's belief distribution and p*: lower is better).
set -euo pipefail
# Idle OpenMP threads must not spin against OpenBLAS's own threads (2-4x slower steps otherwise).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "$0")/.."
GDPO_TARGET=gdpo bash jobs/setup.sh  # the binary only, not the test suite
gdpo=build/gdpo
out=${QUICKSTART_DIR:-runs/quickstart}
mkdir -p "$out"

"$gdpo" data synthetic --data.output "$out/pairs.jsonl" --data.questions 32 \
  --data.pairs-per-question 8 --data.probabilities 0.55,0.25,0.15,0.05 --data.seed 1
# Evaluated on the training questions: how well each run keeps the group's distribution over the
# questions it was aligned on (held-out questions: see README).
common=(--config configs/quickstart.ini --data.train "$out/pairs.jsonl" --data.eval "$out/pairs.jsonl")
# Every pair's chosen response is an SFT example (the synthetic questions have many; the authors'
# default, one example per prompt, would leave 24 examples here).
"$gdpo" train "${common[@]}" --model.config tiny-gpt2 --loss.type sft --train.lr 3e-3 \
  --data.sft-examples per-pair --train.n-epochs 6 --train.run-dir "$out/sft"
for loss in dpo gdpo; do
  "$gdpo" train "${common[@]}" --model.path "$out/sft/model" --loss.type "$loss" \
    --train.lr 1e-3 --train.n-epochs 4 --train.export last --train.run-dir "$out/$loss"
done
echo
"$gdpo" inspect "$out/sft" "$out/dpo" "$out/gdpo"
