#!/usr/bin/env bash
# The stage scripts' batch-shell logic (slurm/stage.sh) without a cluster: fake srun (runs the
# command after its options), scontrol (records its arguments) and gdpo (a script standing in for
# the ranks). Checks, for every preemptible stage script (train, sft, generate, evaluate): a USR1 or
# TERM to the batch shell reaches the ranks; exit 75 after USR1 requeues, after TERM (scancel,
# preemption) it does not, nor does any other status; requeues are bounded; the ranks' own status is what the job reports; the state file follows (running,
# requeued, done, failed) and a job array task takes its arguments from its line of GDPO_TASKS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
script="$root/slurm/train.sbatch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

cat > "$tmp/srun" <<'SH'
#!/usr/bin/env bash
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
SH
cat > "$tmp/scontrol" <<'SH'
#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG/scontrol.log"
SH
# The ranks: exit 75 on USR1/TERM (after "checkpointing"), else the status in FAKE_STATUS after
# FAKE_SECONDS. Records the signal it got and its arguments.
cat > "$tmp/gdpo" <<'SH'
#!/usr/bin/env bash
echo "$*" > "$FAKE_LOG/args.log"
on_signal() { echo "$1" > "$FAKE_LOG/signal.log"; sleep 0.3; exit 75; }
trap 'on_signal USR1' USR1
trap 'on_signal TERM' TERM
for _ in $(seq 1 $((FAKE_SECONDS * 10))); do sleep 0.1; done
exit "${FAKE_STATUS:-0}"
SH
chmod +x "$tmp/srun" "$tmp/scontrol" "$tmp/gdpo"

# run_job SIGNAL STATUS RESTARTS: starts the batch script, sends SIGNAL (or none) once the ranks
# run, and leaves its exit status in $job_rc and logs in $tmp/log.
run_job() {
  rm -rf "$tmp/log" && mkdir "$tmp/log"
  FAKE_LOG="$tmp/log" FAKE_STATUS=$2 FAKE_SECONDS=${4:-20} SLURM_JOB_ID=4242 \
    SLURM_RESTART_COUNT=$3 GDPO="$tmp/gdpo" SRUN="$tmp/srun" SCONTROL="$tmp/scontrol" \
    SLURM_SUBMIT_DIR="$tmp" GDPO_ROOT="$root" GDPO_STAGE_STATE="$tmp/log/stage.json" \
    bash "$script" --train.run-dir runs/x > "$tmp/log/out.txt" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do [ -f "$tmp/log/args.log" ] && break; sleep 0.1; done
  [ -f "$tmp/log/args.log" ] || fail "the ranks never started"
  [ "$1" != none ] && kill -s "$1" "$pid"
  wait "$pid"
  job_rc=$?
}

state_is() { grep -q "\"state\": \"$1\"" "$tmp/log/stage.json" 2>/dev/null; }

for stage in train sft generate evaluate; do
  script="$root/slurm/$stage.sbatch"
  run_job USR1 0 0  # the time-limit warning: checkpoint, exit 75, requeue
  [ "$job_rc" -eq 0 ] || fail "$stage USR1: the job exited $job_rc, not 0 after requeueing"
  [ "$(cat "$tmp/log/signal.log" 2>/dev/null)" = USR1 ] || fail "$stage: USR1 did not reach the ranks"
  [ "$(cat "$tmp/log/scontrol.log" 2>/dev/null)" = "requeue 4242" ] || fail "$stage USR1: no requeue"
  grep -q "after SIGUSR1" "$tmp/log/out.txt" || fail "$stage USR1: the message does not name the signal"
  state_is requeued || fail "$stage USR1: the state file does not say requeued"
  run_job TERM 0 0  # scancel or a preemption: checkpoint, exit 75, no requeue by the script
  [ "$job_rc" -eq 75 ] || fail "$stage TERM: the job exited $job_rc, not 75"
  [ "$(cat "$tmp/log/signal.log" 2>/dev/null)" = TERM ] || fail "$stage: TERM did not reach the ranks"
  [ ! -f "$tmp/log/scontrol.log" ] || fail "$stage TERM: requeued (a cancelled job must stay cancelled)"
  state_is stopped || fail "$stage TERM: the state file does not say stopped"
  command=$stage
  [ "$stage" = sft ] && command=train
  [ "$(cat "$tmp/log/args.log")" = "$command --train.run-dir runs/x" ] ||
    fail "$stage: arguments not passed on: $(cat "$tmp/log/args.log")"
done
script="$root/slurm/train.sbatch"

for status in 0 1 2 3; do  # finished or failed: never requeued, the ranks' status is the job's
  run_job none "$status" 0 1
  [ "$job_rc" -eq "$status" ] || fail "status $status: the job exited $job_rc"
  [ ! -f "$tmp/log/scontrol.log" ] || fail "status $status was requeued"
  if [ "$status" -eq 0 ]; then state_is done || fail "status 0: the state file does not say done"
  else state_is failed && grep -q "\"exit_code\": $status" "$tmp/log/stage.json" ||
    fail "status $status: the state file does not say failed with exit $status"
  fi
done

# A job array task: line SLURM_ARRAY_TASK_ID of GDPO_TASKS holds its state file and arguments
# (tab-separated, spaces kept inside an argument).
printf '%s\t%s\t%s\n' "$tmp/task0.json" --train.run-dir "runs/a b" > "$tmp/tasks"
printf '%s\t%s\t%s\n' "$tmp/task1.json" --train.run-dir "runs/c" >> "$tmp/tasks"
rm -rf "$tmp/log" && mkdir "$tmp/log"
FAKE_LOG="$tmp/log" FAKE_STATUS=0 FAKE_SECONDS=0 SLURM_JOB_ID=4243 SLURM_ARRAY_JOB_ID=4240 \
  SLURM_ARRAY_TASK_ID=1 GDPO="$tmp/gdpo" SRUN="$tmp/srun" SCONTROL="$tmp/scontrol" \
  GDPO_ROOT="$root" GDPO_TASKS="$tmp/tasks" bash "$script" > "$tmp/log/out.txt" 2>&1 ||
  fail "array task 1 failed: $(cat "$tmp/log/out.txt")"
[ "$(cat "$tmp/log/args.log")" = "train --train.run-dir runs/c" ] || fail "array task 1: wrong arguments"
grep -q '"state": "done", "job": "4240", "array_task": "1"' "$tmp/task1.json" ||
  fail "array task 1: state $(cat "$tmp/task1.json" 2>/dev/null)"
[ ! -f "$tmp/task0.json" ] || fail "array task 1 wrote task 0's state"
FAKE_LOG="$tmp/log" FAKE_STATUS=0 FAKE_SECONDS=0 SLURM_JOB_ID=4244 SLURM_ARRAY_JOB_ID=4240 \
  SLURM_ARRAY_TASK_ID=0 GDPO="$tmp/gdpo" SRUN="$tmp/srun" SCONTROL="$tmp/scontrol" \
  GDPO_ROOT="$root" GDPO_TASKS="$tmp/tasks" bash "$script" > "$tmp/log/out.txt" 2>&1
[ "$(cat "$tmp/log/args.log")" = "train --train.run-dir runs/a b" ] || fail "array task 0: wrong arguments"
FAKE_LOG="$tmp/log" SLURM_JOB_ID=4245 SLURM_ARRAY_TASK_ID=5 GDPO="$tmp/gdpo" SRUN="$tmp/srun" \
  GDPO_ROOT="$root" GDPO_TASKS="$tmp/tasks" bash "$script" > "$tmp/log/out.txt" 2>&1
[ $? -eq 2 ] && grep -q "has no task 5" "$tmp/log/out.txt" || fail "a missing task line is not an error"

run_job USR1 0 20  # the 21st start: checkpointed, but the bound is reached
[ "$job_rc" -eq 75 ] || fail "bounded requeues: the job exited $job_rc, not 75"
[ ! -f "$tmp/log/scontrol.log" ] || fail "requeued beyond GDPO_MAX_REQUEUES"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "stage scripts: signal forwarding, requeue on 75 only, bounded requeues, state files, array tasks: ok"
