#!/usr/bin/env bash
# The paper's pipelines (jobs/*.sh, jobs/lib/pipeline.sh) without a cluster:
#   1. submission with a fake sbatch: one job array per stage with the configured resources, chained
#      with afterok (and --kill-on-invalid-dep), every stage's state "waiting" with its job id;
#   2. resubmission skips the stages that are done and drops them from the dependencies;
#   3. careless use: unknown options, a bad stage name, a bad configuration key, a missing binary;
#   4. the smoke sizes of every entry point run here (--local), print their table or figure, and a
#      second run does no work and gives the same table; `gdpo inspect` shows every stage done;
#   5. a failing stage stops a --local pipeline, later stages do not run, and inspect says so.
# Usage: pipeline_test.sh GDPO_BINARY
set -u
gdpo=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
export OMP_WAIT_POLICY=PASSIVE GDPO="$gdpo"

# ---- 1. submission ---------------------------------------------------------------------------------
cat > "$tmp/sbatch" <<'SH'
#!/usr/bin/env bash
# Records its arguments (one per line, a blank line after each call) and prints the next job id.
n=$(( $(cat "$FAKE_DIR/next" 2>/dev/null || echo 100) + 1 ))
echo "$n" > "$FAKE_DIR/next"
{ printf '%s\n' "job $n" "$@"; echo; } >> "$FAKE_DIR/calls"
echo "$n"
SH
chmod +x "$tmp/sbatch"
export SBATCH="$tmp/sbatch" FAKE_DIR="$tmp"

# call_of GROUP: the recorded arguments of the sbatch call of GROUP's array (one per line).
call_of() { awk -v want="--job-name=gdpo-$1" 'BEGIN{RS=""} $0 ~ want"\n" {print}' "$tmp/calls"; }
has() { call_of "$1" | grep -qx -- "$2" || fail "$1: no '$2' in its sbatch call: $(call_of "$1" | tr '\n' ' ')"; }
hasnt() { ! call_of "$1" | grep -q -- "$2" || fail "$1: unexpected '$2' in its sbatch call"; }
job_of() { call_of "$1" | sed -n 's/^job //p'; }

out="$tmp/opinion"
bash "$root/jobs/opinion-table.sh" --out "$out" --partition gpu --account acc \
  --time train=72:00:00 --sbatch=--mail-type=END > "$tmp/submit.txt" 2>&1 ||
  fail "submission failed: $(cat "$tmp/submit.txt")"
# 6 datasets x 2 models x (SFT + 3 methods); the judge per dataset; 4 methods generate and evaluate.
for spec in data:6 sft:12 judge:6 train:36 generate:48 evaluate:48 tables:1; do
  group=${spec%%:*} n=${spec#*:}
  has "$group" "--array=0-$((n - 1))"
  has "$group" "--partition=gpu"
  has "$group" "--account=acc"
  has "$group" "--mail-type=END"
  has "$group" "slurm/$( [ "$group" = judge ] && echo sft || echo "$group").sbatch"
  [ "$(wc -l < "$(call_of "$group" | sed -n 's/^--export=.*GDPO_TASKS=\([^,]*\),.*/\1/p')")" -eq "$n" ] ||
    fail "$group: its task list does not hold $n tasks"
done
has sft "--ntasks=4"; has sft "--gpus-per-task=1"; has sft "--time=24:00:00"
has train "--time=72:00:00"  # --time train=... beats the configuration
has generate "--ntasks=4"; has evaluate "--ntasks=1"
hasnt data "--gpus-per-task"; hasnt tables "--gpus-per-task"
hasnt data "--dependency"
has sft "--dependency=afterok:$(job_of data)"
has judge "--dependency=afterok:$(job_of data)"
has train "--dependency=afterok:$(job_of sft)"
has generate "--dependency=afterok:$(job_of sft):$(job_of train)"
has evaluate "--dependency=afterok:$(job_of generate):$(job_of judge)"
has tables "--dependency=afterok:$(job_of evaluate)"
for group in sft judge train generate evaluate tables; do has "$group" "--kill-on-invalid-dep=yes"; done
n_waiting=$(grep -l '"state": "waiting"' "$out"/*/*/stage.json | wc -l)
[ "$n_waiting" -eq $((6 + 12 + 6 + 36 + 48 + 48 + 1)) ] || fail "$n_waiting stages are waiting, not 157"
grep -q "\"job\": \"$(job_of train)\", \"array_task\": \"35\"" "$out"/train/*/stage.json ||
  fail "no train stage records job $(job_of train) task 35"
# Each stage's arguments: the SFT model of its dataset and model feeds its methods.
tasks=$(call_of train | sed -n 's/^--export=.*GDPO_TASKS=\([^,]*\),.*/\1/p')
grep -q -e $'--model.path\t'"$out"'/sft/usa-gpt2-large-[0-9a-f]*/model' "$tasks" ||
  fail "the usa gpt2-large methods do not start from its SFT model"
grep -q -e $'--config\tconfigs/paper/common.ini\t--config\tconfigs/paper/gdpo.ini' "$tasks" ||
  fail "GDPO's configs are not common.ini then gdpo.ini"
"$gdpo" inspect "$out" > "$tmp/inspect.txt" 2>&1 || fail "inspect failed: $(cat "$tmp/inspect.txt")"
grep -q "157 stages, 157 waiting" "$tmp/inspect.txt" || fail "inspect: $(head -1 "$tmp/inspect.txt")"

# ---- 2. resubmission -------------------------------------------------------------------------------
for f in "$out"/data/*/stage.json "$out"/sft/*/stage.json; do
  sed -i 's/"state": "waiting"/"state": "done"/' "$f"
done
rm -f "$tmp/calls"
bash "$root/jobs/opinion-table.sh" --out "$out" > "$tmp/resubmit.txt" 2>&1 || fail "resubmission failed"
[ -z "$(call_of data)" ] || fail "the data stages were submitted again"
[ -z "$(call_of sft)" ] || fail "the SFT stages were submitted again"
grep -c "is done, skipped" "$tmp/resubmit.txt" | grep -qx 18 || fail "not 18 stages skipped"
hasnt judge "--dependency"  # its only dependency (data) is done
hasnt train "--dependency"
has generate "--dependency=afterok:$(job_of train)"

# Every other entry point submits too (counts of arrays and tasks).
for spec in "movie-table.sh:7" "table1.sh:2" "training-curves.sh:4"; do
  rm -f "$tmp/calls"
  bash "$root/jobs/${spec%%:*}" --out "$tmp/${spec%%:*}" > "$tmp/other.txt" 2>&1 ||
    fail "${spec%%:*}: $(cat "$tmp/other.txt")"
  [ "$(grep -c '^job ' "$tmp/calls")" -eq "${spec#*:}" ] || fail "${spec%%:*}: not ${spec#*:} arrays"
done
bash "$root/jobs/table1.sh" --out "$tmp/dry" --dry-run > "$tmp/dry.txt" 2>&1 || fail "dry run failed"
grep -q -- "--array=0-7" "$tmp/dry.txt" || fail "dry run: no 8-task data array"

# ---- 3. careless use -------------------------------------------------------------------------------
expect_usage() {  # MESSAGE_PATTERN ARGS...
  local pattern=$1
  shift
  local text rc
  text=$("$@" 2>&1)
  rc=$?
  [ "$rc" -eq 2 ] || fail "$*: exit $rc, not 2"
  echo "$text" | grep -q -- "$pattern" || fail "$*: the message does not say '$pattern': $text"
}
expect_usage "unknown option '--nope'" bash "$root/jobs/opinion-table.sh" --out "$tmp/x" --nope
expect_usage "unknown stage 'trian'" bash "$root/jobs/opinion-table.sh" --out "$tmp/x" --time trian=1:00:00
expect_usage "'x' is not a positive integer" bash "$root/jobs/opinion-table.sh" --out "$tmp/x" --ranks sft=x
expect_usage "needs a value" bash "$root/jobs/opinion-table.sh" --out
printf '[pipeline]\nname = t\n\n[stage.train]\nrank = 4\n' > "$tmp/bad.ini"
expect_usage "bad.ini:5: unknown key \"rank\" in \[stage.train\]" bash "$root/jobs/opinion-table.sh" --config "$tmp/bad.ini"
printf '[pipeline]\nname = t\n[stag.train]\n' > "$tmp/bad.ini"
expect_usage "bad.ini:3: unknown section \[stag.train\]" bash "$root/jobs/opinion-table.sh" --config "$tmp/bad.ini"
expect_usage "no gdpo binary" env GDPO=/nonexistent bash "$root/jobs/table1.sh" --out "$tmp/x"
expect_usage "is not here" env SBATCH=/nonexistent-sbatch bash "$root/jobs/table1.sh" --out "$tmp/x"

# --config and --out are the caller's paths, whatever its directory.
mkdir -p "$tmp/elsewhere"
sed 's/^name = table1-smoke/name = mine/' "$root/configs/pipelines/table1-smoke.ini" > "$tmp/elsewhere/mine.ini"
(cd "$tmp/elsewhere" && bash "$root/jobs/table1.sh" --config mine.ini --out out --dry-run > dry.txt 2>&1) ||
  fail "relative --config/--out: $(cat "$tmp/elsewhere/dry.txt")"
grep -q "mine.ini -> $tmp/elsewhere/out " "$tmp/elsewhere/dry.txt" ||
  fail "relative --config/--out not taken from the caller's directory: $(head -1 "$tmp/elsewhere/dry.txt")"

# ---- 4. the smoke sizes, here ----------------------------------------------------------------------
for spec in "opinion-table.sh:table.md" "movie-table.sh:table.md" "table1.sh:table.txt" \
            "training-curves.sh:figure.png"; do
  script=${spec%%:*} result=${spec#*:}
  dir="$tmp/smoke-${script%.sh}"
  bash "$root/jobs/$script" --smoke --local --out "$dir" > "$tmp/smoke.txt" 2>&1 ||
    { fail "$script --smoke --local: $(tail -20 "$tmp/smoke.txt")"; continue; }
  [ -s "$dir/$result" ] || fail "$script: no $result"
  cp "$dir/$result" "$tmp/first"
  bash "$root/jobs/$script" --smoke --local --out "$dir" > "$tmp/again.txt" 2>&1 || fail "$script: the rerun failed"
  ! grep -q "(log " "$tmp/again.txt" || fail "$script: the rerun ran a stage again: $(cat "$tmp/again.txt")"
  cmp -s "$dir/$result" "$tmp/first" || fail "$script: the rerun changed $result"
  "$gdpo" inspect "$dir" > "$tmp/inspect.txt" 2>&1 || fail "$script: inspect failed"
  n=$(grep -c '^[a-z]*/.* done ' "$tmp/inspect.txt")
  grep -q "$n stages, $n done (" "$tmp/inspect.txt" || fail "$script: not every stage done: $(cat "$tmp/inspect.txt")"
  grep -q "result: $dir/$result" "$tmp/inspect.txt" || fail "$script: inspect names no result"
done
for method in sft dpo cdpo gdpo; do
  grep -q "^| $method tiny |" "$tmp/smoke-opinion-table/table.md" || fail "no $method row in the opinion table"
  grep -q "^| $method tiny |" "$tmp/smoke-movie-table/table.md" || fail "no $method row in the movie table"
done
grep -q "^opinion " "$tmp/smoke-table1/table.txt" && grep -q "^reviews " "$tmp/smoke-table1/table.txt" ||
  fail "Table 1 lacks a dataset: $(cat "$tmp/smoke-table1/table.txt")"

# ---- 5. a failing stage ----------------------------------------------------------------------------
sed 's/^args = --train.lr 1e-3 /args = --train.lr -1 /' "$root/configs/pipelines/opinion-smoke.ini" > "$tmp/failing.ini"
bash "$root/jobs/opinion-table.sh" --config "$tmp/failing.ini" --local --out "$tmp/failing" > "$tmp/fail.txt" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "a failing stage: exit $rc, not the stage's 2"
grep -q "train synthetic-tiny-dpo-[0-9a-f]* failed (exit 2" "$tmp/fail.txt" || fail "the failure is not named: $(tail -3 "$tmp/fail.txt")"
[ ! -d "$tmp/failing/generate" ] || fail "stages after the failed one ran"
"$gdpo" inspect "$tmp/failing" > "$tmp/inspect.txt" 2>&1
grep -q "1 failed" "$tmp/inspect.txt" && grep -q "planned" "$tmp/inspect.txt" ||
  fail "inspect of the failed pipeline: $(cat "$tmp/inspect.txt")"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "pipelines: submission, resubmission, careless use, smoke sizes here, a failing stage: ok"
