#!/usr/bin/env bash
# The embedded default, end to end on a laptop CPU (a few minutes): installs and builds gdpo, makes
# synthetic opinion data whose group distribution is p* = (0.55, 0.25, 0.15, 0.05), trains a tiny
# GPT-2 with SFT, then DPO and GDPO from that SFT model, prints their training evaluations side by
# side, then evaluates each on held-out test questions as the paper does (sampled generations, JS
# distance to p*, majority bias, consistencies, ROUGE-L) and draws their belief distributions.
set -euo pipefail
# Idle OpenMP threads must not spin against OpenBLAS's own threads (2-4x slower steps otherwise).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "$0")/.."
GDPO_TARGET=gdpo bash jobs/setup.sh  # the binary only, not the test suite
gdpo=build/gdpo
out=${QUICKSTART_DIR:-runs/quickstart}
mkdir -p "$out"

"$gdpo" data synthetic --data.output "$out/pairs.jsonl" --data.questions 64 \
  --data.pairs-per-question 8 --data.probabilities 0.55,0.25,0.15,0.05 --data.seed 1 \
  --data.split-output --data.split 0.75,0.125,0.125
# Trained on 48 questions, evaluated during training on 8 others, tested on 8 held out of both.
common=(--config configs/quickstart.ini --data.train "$out/pairs_train.jsonl"
        --data.eval "$out/pairs_eval.jsonl")
# Every pair's chosen response is an SFT example (the synthetic questions have many; the authors'
# default, one example per prompt, would leave 48 examples here).
"$gdpo" train "${common[@]}" --model.config tiny-gpt2 --loss.type sft --train.lr 3e-3 \
  --data.sft-examples per-pair --train.n-epochs 20 --train.run-dir "$out/sft"
for loss in dpo gdpo; do
  "$gdpo" train "${common[@]}" --model.path "$out/sft/model" --loss.type "$loss" \
    --train.lr 1e-3 --train.n-epochs 4 --train.export last --train.run-dir "$out/$loss"
done
echo
"$gdpo" inspect "$out/sft" "$out/dpo" "$out/gdpo"

# The paper's evaluation on the held-out test questions: 8 sampled responses per question, their
# belief distribution, consistency and ROUGE-L, and a belief judge (a tiny model trained on which
# belief each training response expresses) for belief-preference consistency.
"$gdpo" data judge "$out/pairs_train.jsonl" --data.output "$out/judge.jsonl" --data.split-output \
  --data.split 0.8,0.1,0.1 --data.seed 1 >/dev/null
"$gdpo" train --config configs/quickstart.ini --data.train "$out/judge_train.jsonl" \
  --data.eval "$out/judge_eval.jsonl" --model.config tiny-gpt2 --loss.type sft --train.lr 3e-3 \
  --data.sft-examples per-pair --train.n-epochs 20 --data.max-length 200 --data.max-prompt-length 150 \
  --train.run-dir "$out/judge" --log.level warn >/dev/null
test_data=(--tokenizer.path bytes --data.test "$out/pairs_test.jsonl")
for run in sft dpo gdpo; do
  "$gdpo" generate --model.path "$out/$run" "${test_data[@]}" --generate.max-new-tokens 48 \
    --generate.output "$out/$run/generations.h5" --log.level warn
  "$gdpo" evaluate --model.path "$out/$run" "${test_data[@]}" \
    --evaluate.generations "$out/$run/generations.h5" --evaluate.judge "$out/judge" \
    --evaluate.judge-data "$out/judge_test.jsonl" --evaluate.output "$out/$run/eval.h5" \
    --log.level warn >/dev/null
done
python=${PYTHON:-/usr/bin/python3}
echo
"$python" analysis/tables.py "$out/sft/eval.h5" "$out/dpo/eval.h5" "$out/gdpo/eval.h5"
"$python" analysis/beliefs.py "$out/sft/eval.h5" "$out/dpo/eval.h5" "$out/gdpo/eval.h5" \
  --questions 1 --out "$out/beliefs.png" >/dev/null
echo "belief distributions of the first test question: $out/beliefs.png"
