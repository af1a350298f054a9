#!/usr/bin/env bash
# slurm/train.sbatch's batch-shell logic without a cluster: fake srun (runs the command after its
# options), scontrol (records its arguments) and gdpo (a script standing in for the ranks). Checks:
# a USR1 or TERM to the batch shell reaches the ranks; exit 75 requeues, any other status does not;
# requeues are bounded; the ranks' own status is what the job reports.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script="$here/../../slurm/train.sbatch"
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
    SLURM_SUBMIT_DIR="$tmp" bash "$script" --train.run-dir runs/x > "$tmp/log/out.txt" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do [ -f "$tmp/log/args.log" ] && break; sleep 0.1; done
  [ -f "$tmp/log/args.log" ] || fail "the ranks never started"
  [ "$1" != none ] && kill -s "$1" "$pid"
  wait "$pid"
  job_rc=$?
}

for sig in USR1 TERM; do
  run_job "$sig" 0 0
  [ "$job_rc" -eq 0 ] || fail "$sig: the job exited $job_rc, not 0 after requeueing"
  [ "$(cat "$tmp/log/signal.log" 2>/dev/null)" = "$sig" ] || fail "$sig did not reach the ranks"
  [ "$(cat "$tmp/log/scontrol.log" 2>/dev/null)" = "requeue 4242" ] || fail "$sig: no requeue"
  grep -q "after SIG$sig" "$tmp/log/out.txt" || fail "$sig: the message does not name the signal"
done
[ "$(cat "$tmp/log/args.log")" = "train --train.run-dir runs/x" ] || fail "arguments not passed on"

for status in 0 1 2 3; do  # finished or failed: never requeued, the ranks' status is the job's
  run_job none "$status" 0 1
  [ "$job_rc" -eq "$status" ] || fail "status $status: the job exited $job_rc"
  [ ! -f "$tmp/log/scontrol.log" ] || fail "status $status was requeued"
done

run_job USR1 0 20  # the 21st start: checkpointed, but the bound is reached
[ "$job_rc" -eq 75 ] || fail "bounded requeues: the job exited $job_rc, not 75"
[ ! -f "$tmp/log/scontrol.log" ] || fail "requeued beyond GDPO_MAX_REQUEUES"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "train.sbatch: signal forwarding, requeue on 75 only, bounded requeues: ok"
