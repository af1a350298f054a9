#!/usr/bin/env bash
# The GPU machine's suite (issue 15), called by ../shared/gpu/device-check.sh with OUT and BUILD set
# after it built the project with -DGDPO_CUDA=ON into build-gpu; about 4-5 minutes on one H100/H200.
#   1. fidelity: gdpo's GPT-2 / GPT-NeoX logits equal transformers' (hf_crosscheck.py); a tiny
#      `gdpo train --train.device cuda` run's exported model/ loads in transformers (model and
#      tokenizer, torch_dtype named) with the same logits;
#   2. the step on the GPU equals the CPU's (--bench.check, 1e-4 relative, TF32 off) and the GDPO
#      authors' golden values (--bench.golden tests/golden, 1e-4) on both devices;
#   3. speed: examples/s, tokens/s, MFU of SFT/DPO/GDPO steps on GPT-2 Large and Pythia-2.8B shapes
#      (paper lengths, bf16) next to the same step in Python (transformers, eager);
#   4. peak GPU memory of each; NCCL: `gdpo bench dist` and a tiny training run on 2 ranks sharing
#      the GPU (GDPO_ALLOW_GPU_SHARING=1) against 1 rank.
# Results (at most 8 files come back, device-check.log being one): $OUT/gpu-suite-summary.txt (the
# PASS/FAIL lines and the targets), $OUT/gpu-suite-results.json (every JSON result), $OUT/gpu-suite.log
# (all output), $OUT/hf_crosscheck.json. Exit status 1 when any check failed. Options (env):
# PEAK_TFLOPS (989, H100/H200 dense bf16), STEPS (5), SKIP_PYTHIA=1, SKIP_PYTHON=1.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
BUILD=${BUILD:-build-gpu}
G=$BUILD/gdpo
PEAK=${PEAK_TFLOPS:-989}
STEPS=${STEPS:-5}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/gdpo-gpu-suite.XXXXXX)
SUMMARY=$OUT/gpu-suite-summary.txt
: >"$SUMMARY"
exec > >(tee -a "$OUT/gpu-suite.log") 2>&1
export GDPO_ALLOW_GPU_SHARING=1  # 2 ranks on the one GPU (the device rule is one rank per GPU)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
t0=$(date +%s)
status=0
say() { echo "$*" | tee -a "$SUMMARY"; }
section() { echo; echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
# check NAME SECONDS CMD...: runs CMD under a timeout, one PASS/FAIL line in the summary.
check() {
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@"; local rc=$?
  if [ $rc -eq 0 ]; then say "PASS $name"; else say "FAIL $name (exit $rc$([ $rc -eq 124 ] && echo ', timed out'))"; status=1; fi
  return $rc
}
# The PASS/FAIL lines a python checker printed go to the summary too.
checker() { local name=$1; shift; timeout 120 python3 "$@" | tee "$W/lines"; local rc=${PIPESTATUS[0]}
  grep -E '^(PASS|FAIL)' "$W/lines" >>"$SUMMARY"; [ $rc -eq 0 ] || { say "FAIL $name (exit $rc)"; status=1; }; }
mpirun2() { mpiexec -n 2 --oversubscribe -x GDPO_ALLOW_GPU_SHARING -x OMP_WAIT_POLICY "$@"; }

say "gdpo GPU suite: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1), peak $PEAK TFLOP/s assumed"

section "1a. Hugging Face cross-check (fp32 logits, tolerance 1e-4)"
check "hf_crosscheck: GPT-2 and GPT-NeoX logits equal transformers' both ways" 180 \
  python3 jobs/gpu/hf_crosscheck.py --gdpo "$G" --out "$OUT"

section "1b. a tiny gdpo train on cuda; transformers loads <run>/model"
cat >"$W/tiny457.ini" <<'INI'
[model]
family = gpt2
vocab-size = 457
max-positions = 256
hidden-size = 64
layers = 2
heads = 4
activation = gelu_new
tie-word-embeddings = true
bos-id = 456
eos-id = 456
INI
"$G" data synthetic --data.output "$W/pairs.jsonl" --data.questions 16 --data.pairs-per-question 4 \
  --data.seed 1 --log.level warn
train=(train --tokenizer.path tests/golden/tokenizer --model.config "$W/tiny457.ini"
       --data.train "$W/pairs.jsonl" --data.split 0.75,0.25 --data.max-length 160
       --data.max-prompt-length 96 --loss.type gdpo --train.optimizer rmsprop --train.lr 1e-4
       --train.warmup-steps 1 --train.batch-size 8 --train.max-steps 4 --train.export last
       --eval.first-eval false --eval.every-examples 0 --eval.n-examples 8 --eval.batch-size 8
       --train.device cuda)
if check "train: tiny GDPO run on 1 rank, --train.device cuda" 120 "$G" "${train[@]}" --train.run-dir "$W/run1"; then
  checker "export check" jobs/gpu/run_checks.py export "$W/run1" --gdpo "$G"
fi

section "2. the step on the GPU equals the CPU's and the authors' golden values"
for dev in cpu cuda; do
  check "golden: TrainStep on $dev reproduces tests/golden (sft, dpo, cdpo, ipo, gdpo; 1e-4)" 120 \
    "$G" bench step --bench.device $dev --bench.golden tests/golden \
    --bench.losses sft,dpo,cdpo,ipo,gdpo --bench.json "$W/golden-$dev.json"
  check "check: step-1 loss and grad norm on $dev (paper-4l, fp32)" 120 \
    "$G" bench step --bench.device $dev --bench.preset paper-4l --bench.check --bench.json "$W/check-$dev.json"
done
[ -f "$W/check-cpu.json" ] && [ -f "$W/check-cuda.json" ] && \
  checker "cpu vs cuda" jobs/gpu/run_checks.py compare "$W/check-cpu.json" "$W/check-cuda.json" --tol 1e-4

section "3-4. speed, MFU and peak memory: gdpo vs Python (bf16, paper lengths)"
bench() {  # bench PRESET STEPS: gdpo then Python on the same shape
  local preset=$1 steps=$2
  check "bench: gdpo $preset bf16 (sft, dpo, gdpo)" 200 "$G" bench step --bench.device cuda \
    --bench.preset "$preset" --bench.precision bf16 --bench.steps "$steps" --bench.warmup 1 \
    --bench.peak-tflops "$PEAK" --bench.json "$W/bench-gdpo-$preset.json"
  [ "${SKIP_PYTHON:-0}" = 1 ] || check "bench: Python reference $preset bf16 (transformers, eager)" 200 \
    python3 jobs/gpu/python_step_bench.py --model "$preset" --precision bf16 --steps "$steps" \
    --warmup 1 --peak-tflops "$PEAK" --json "$W/bench-python-$preset.json"
}
bench gpt2-large "$STEPS"
[ "${SKIP_PYTHIA:-0}" = 1 ] || bench pythia-2.8b 3

# NCCL refuses two ranks of one communicator on the same GPU ("Duplicate GPU detected"): with one
# GPU the 2 ranks share it over the MPI backend (device tensors staged through the host), and NCCL
# itself is exercised by ctest's dist.gpu_mpi2 (one-rank communicators per rank).
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l)
BACKEND=mpi; [ "$NGPU" -ge 2 ] && BACKEND=nccl
section "4. 2 ranks on the GPU(s), --dist.backend $BACKEND ($NGPU GPUs)"
check "$BACKEND: gdpo bench dist on 2 ranks" 120 \
  mpirun2 "$G" bench dist --dist.backend "$BACKEND" --dist.size-mb 16 --dist.iters 3
if check "train: the tiny GDPO run on 2 ranks, --dist.backend $BACKEND" 150 \
    mpirun2 "$G" "${train[@]}" --dist.backend "$BACKEND" --train.run-dir "$W/run2"; then
  [ -d "$W/run1" ] && checker "1 vs 2 ranks" jobs/gpu/run_checks.py ranks "$W/run1" "$W/run2"
fi

section "targets"
python3 - "$W" "$SUMMARY" "$OUT" <<'PY' || status=1
import glob, json, os, sys
w, summary = sys.argv[1], sys.argv[2]
res = {}
for p in sorted(glob.glob(os.path.join(w, "*.json"))):
    with open(p) as f:
        res[os.path.basename(p)[:-5]] = json.load(f)
def row(name, loss):
    for r in res.get(name, {}).get("results", []):
        if r["loss"] == loss:
            return r
ok = True
lines = []
def target(passed, text):
    global ok
    ok &= bool(passed)
    lines.append("%s target: %s" % ("PASS" if passed else ("FAIL" if passed is not None else "FAIL (not measured)"), text))
g, p = row("bench-gdpo-gpt2-large", "gdpo"), row("bench-python-gpt2-large", "gdpo")
target(None if not (g and p) else g["examples_per_second"] >= 2 * p["examples_per_second"],
       "GDPO step, GPT-2 Large, bf16: gdpo %s examples/s >= 2x Python's %s" % (
           g and "%.2f" % g["examples_per_second"], p and "%.2f" % p["examples_per_second"]))
target(None if not g else g["mfu"] >= 0.40,
       "GDPO step, GPT-2 Large, bf16: MFU %s >= 40%%" % (g and "%.1f%%" % (100 * g["mfu"])))
y = row("bench-gdpo-pythia-2.8b", "gdpo")
target(None if not y or y["peak_device_bytes"] < 0 else y["peak_device_bytes"] < 80 * 2**30,
       "Pythia-2.8B GDPO step (policy + cached reference log-probs) peak GPU memory %s < 80 GiB" % (
           y and "%.1f GiB" % (y["peak_device_bytes"] / 2**30)))
table = ["", "%-28s %-5s %12s %12s %8s %8s %12s" % ("run", "loss", "examples/s", "tokens/s", "s/step", "MFU %", "peak GiB")]
for name in sorted(res):
    if name.startswith("bench-"):
        for r in res[name]["results"]:
            table.append("%-28s %-5s %12.2f %12.0f %8.3f %8.1f %12.2f" % (
                name[6:], r["loss"], r["examples_per_second"], r["tokens_per_second"],
                r["seconds_per_step"], 100 * r["mfu"], r["peak_device_bytes"] / 2**30))
with open(summary, "a") as f:
    f.write("\n".join(lines + table) + "\n")
print("\n".join(lines + table))
with open(os.path.join(sys.argv[3], "gpu-suite-results.json"), "w") as f:
    json.dump(res, f, indent=1)
sys.exit(0 if ok else 1)
PY
section "done: $(grep -c '^PASS' "$SUMMARY") passed, $(grep -c '^FAIL' "$SUMMARY") failed"
rm -rf "$W"
exit $status
