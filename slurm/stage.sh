# The batch-shell half of every stage script (sourced, not run): runs one stage command, forwards
# Slurm's warning signal to it, requeues the job only after exit 75, and records the stage's state
# for `gdpo inspect PIPELINE_DIR`. The same code runs a stage without Slurm (`jobs/... --local`).
#
# Environment (every variable optional):
#   GDPO               the gdpo binary (default build/gdpo in the checkout, GDPO_ROOT)
#   SRUN               the launcher of a multi-rank stage (default `srun --mpi=pmix
#                      --kill-on-bad-exit=1`); empty runs the command directly (one rank, --local)
#   SCONTROL           scontrol (tests replace it)
#   GDPO_MAX_REQUEUES  requeues of one job before exit 75 is final (default 20)
#   GDPO_STAGE_STATE   the stage's state file (JSON, written atomically); none: nothing recorded
#   GDPO_TASKS         a job array's task list: line i (0-based, SLURM_ARRAY_TASK_ID, or
#                      GDPO_TASK_INDEX without Slurm) holds the task's state file and arguments,
#                      tab-separated, as `gdpo_task_args` reads it
#
# States: waiting (submitted; written by the submitter), running, requeued, stopped (after SIGTERM,
# checkpointed), done, failed.

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # idle OpenMP threads must not spin
GDPO_ROOT=$(cd "${GDPO_ROOT:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
export GDPO_ROOT
GDPO=${GDPO:-$GDPO_ROOT/build/gdpo}
SCONTROL=${SCONTROL:-scontrol}
GDPO_MAX_REQUEUES=${GDPO_MAX_REQUEUES:-20}
if [ -z "${SRUN+set}" ]; then SRUN="srun --mpi=pmix --kill-on-bad-exit=1"; fi

# gdpo_state STATE [EXIT_CODE]: writes the stage's state file (no-op without GDPO_STAGE_STATE).
gdpo_state() {
  [ -n "${GDPO_STAGE_STATE:-}" ] || return 0
  local job=${SLURM_JOB_ID:-} task=""
  [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && job=$SLURM_ARRAY_JOB_ID && task=${SLURM_ARRAY_TASK_ID:-}
  mkdir -p "$(dirname "$GDPO_STAGE_STATE")"
  printf '{"state": "%s", "job": "%s", "array_task": "%s", "restarts": %d, "exit_code": %s, "host": "%s", "updated": "%s"}\n' \
    "$1" "$job" "$task" "${SLURM_RESTART_COUNT:-0}" "${2:-null}" "$(hostname -s)" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$GDPO_STAGE_STATE.tmp.$$" &&
    mv -f "$GDPO_STAGE_STATE.tmp.$$" "$GDPO_STAGE_STATE"
}

# gdpo_task_args: in a job array, sets GDPO_STAGE_STATE and the positional arguments ("$@" of the
# caller, through the array GDPO_ARGS) from line SLURM_ARRAY_TASK_ID of GDPO_TASKS. Each line is
# STATE_FILE<TAB>ARG<TAB>ARG... (arguments hold no tab or newline).
gdpo_task_args() {
  GDPO_ARGS=("$@")
  [ -n "${GDPO_TASKS:-}" ] || return 0
  local index=${GDPO_TASK_INDEX:-${SLURM_ARRAY_TASK_ID:-}}
  if [ -z "$index" ]; then
    echo "gdpo: GDPO_TASKS is set but this job is not an array task" >&2
    return 2
  fi
  local line
  line=$(sed -n "$((index + 1))p" "$GDPO_TASKS")
  if [ -z "$line" ]; then
    echo "gdpo: $GDPO_TASKS has no task $index" >&2
    return 2
  fi
  IFS=$'\t' read -r -a GDPO_ARGS <<< "$line"
  GDPO_STAGE_STATE=${GDPO_ARGS[0]}
  GDPO_ARGS=("${GDPO_ARGS[@]:1}")
}

_gdpo_step_pid=
_gdpo_signalled=
_gdpo_forward() {  # the batch shell's trap: pass the signal on to the ranks
  _gdpo_signalled=$1
  echo "gdpo: the batch shell got SIG$1; forwarding it to the ranks"
  [ -n "$_gdpo_step_pid" ] && kill -s "$1" "$_gdpo_step_pid" 2>/dev/null
  return 0
}

# gdpo_stage [--ranks] COMMAND...: runs COMMAND (through SRUN with --ranks), then exits the job:
# 0 and state done on success. On exit 75 (the command checkpointed after a signal):
#   after USR1 (the job's --signal=B:USR1@... warning, or `scancel --signal=USR1 --batch`) the
#     script requeues the job itself (bounded by GDPO_MAX_REQUEUES), state requeued;
#   after TERM (a plain `scancel`, or a preemption) it exits 75, state stopped: a cancelled job
#     stays cancelled, and a preemption with PreemptMode=REQUEUE is requeued by Slurm itself; the
#     checkpoint is there either way.
# Any other status is the job's, state failed, and jobs depending on it (afterok) never start.
gdpo_stage() {
  local launcher=()
  if [ "$1" = --ranks ]; then
    shift
    # shellcheck disable=SC2206  # SRUN is a command line
    [ -n "$SRUN" ] && launcher=($SRUN)
  fi
  trap '_gdpo_forward USR1' USR1
  trap '_gdpo_forward TERM' TERM
  gdpo_state running
  echo "gdpo: stage started on $(hostname -s) at $(date -u +%FT%TZ)${SLURM_JOB_ID:+, job $SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}${SLURM_RESTART_COUNT:+ restart $SLURM_RESTART_COUNT}: $*"
  "${launcher[@]}" "$@" &
  _gdpo_step_pid=$!
  # A trapped signal interrupts `wait` (status > 128) while the ranks are still checkpointing:
  # wait again until the step itself has ended, and keep its own status.
  local rc
  while :; do
    wait "$_gdpo_step_pid"
    rc=$?
    if [ "$rc" -gt 128 ] && [ -n "$_gdpo_signalled" ] && kill -0 "$_gdpo_step_pid" 2>/dev/null; then
      continue
    fi
    break
  done
  trap - USR1 TERM

  if [ "$rc" -eq 0 ]; then
    gdpo_state done 0
    exit 0
  fi
  if [ "$rc" -eq 75 ] && [ "$_gdpo_signalled" = TERM ]; then
    echo "gdpo: the ranks checkpointed and exited 75 after SIGTERM (a cancel or a preemption):" \
         "not requeueing; Slurm requeues a preempted job itself, and resubmitting resumes"
    gdpo_state stopped 75
    exit 75
  fi
  if [ "$rc" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    local restarts=${SLURM_RESTART_COUNT:-0}
    if [ "$restarts" -ge "$GDPO_MAX_REQUEUES" ]; then
      echo "gdpo: checkpointed (exit 75) but the job was already requeued $restarts times" \
           "(GDPO_MAX_REQUEUES=$GDPO_MAX_REQUEUES); not requeueing"
      gdpo_state failed 75
      exit 75
    fi
    echo "gdpo: the ranks checkpointed and exited 75${_gdpo_signalled:+ after SIG$_gdpo_signalled};" \
         "requeueing job $SLURM_JOB_ID (restart $((restarts + 1)))"
    gdpo_state requeued 75
    # An array task has its own SLURM_JOB_ID: only that task is requeued.
    "$SCONTROL" requeue "$SLURM_JOB_ID" ||
      { gdpo_state failed 75; exit 75; }
    exit 0
  fi
  gdpo_state failed "$rc"
  exit "$rc"
}
