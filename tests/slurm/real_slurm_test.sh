#!/usr/bin/env bash
# slurm/train.sbatch on a real one-node Slurm cluster brought up on this machine (local_cluster.sh:
# Debian's Slurm 22.05 and MUNGE, installed if missing and purged again afterwards; root only).
# Usage: real_slurm_test.sh GDPO_BINARY. Exit 0: passed, 1: failed, 77: skipped (not root, no apt).
# Checks, on a tiny synthetic data set and a tiny GPT-2 (--dist.threads 1):
#   a. `sbatch --ntasks=2 slurm/train.sbatch`: srun --mpi=pmix starts 2 MPI ranks; training
#      completes.
#   b. preemption: `scancel --signal=USR1 --batch` once the job has written a checkpoint after step
#      0; the ranks exit 75, the job requeues itself, resumes from that checkpoint and completes,
#      and its final weights are bitwise those of the same training run directly, without Slurm.
#   c. the same with a time limit: `sbatch --time=1 --signal=B:USR1@50`.
#   d. a failing stage (a bad option: exit 2) ends FAILED without requeue, and a job depending on it
#      (afterok, --kill-on-invalid-dep=yes) is cancelled without running.
#   e. the opinion table's smoke pipeline submitted by jobs/opinion-table.sh: every stage done, each
#      after the stages it depends on, and the table equal to the same pipeline run with --local.
#   f. a plain scancel (SIGTERM) of a running stage: it checkpoints and is not requeued.
# b, c and the direct run go side by side (one CPU each, on 2 CPUs). 2 to 2.7 minutes on 2 busy
# cores, about 20 s of it installing and purging the packages (0 s where they are installed).
# Environment: REAL_SLURM_TRAIN_SECONDS (60, see below), REAL_SLURM_TEST_DEADLINE (780, below),
# LOCAL_CLUSTER_KEEP_PACKAGES=1 and LOCAL_CLUSTER_PORT (local_cluster.sh).
#
# Timing: the training of b and c is sized (a calibration run first) to take about
# REAL_SLURM_TRAIN_SECONDS (60) of one uncontended CPU: c's first signal comes 10 to 40 s after its
# start (slurmctld checks time limits every 30 s), so the first run must still be training then.
# Each run of c gets that signal again (the time limit stays 1 minute), so c may be requeued more
# than once before it completes: every restart resumes from the last checkpoint, and the weights
# must still be bitwise equal.
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -lt 1 ] || [ ! -x "$1" ]; then echo "usage: $0 GDPO_BINARY"; exit 2; fi
gdpo_arg=$(realpath "$1")
train_seconds=${REAL_SLURM_TRAIN_SECONDS:-60}
# shellcheck source=local_cluster.sh
source "$here/local_cluster.sh"

start=$SECONDS
tmp=$(mktemp -d)
chmod 755 "$tmp"  # munged's socket lives below it (see local_cluster.sh)
ref_pid=
cleanup() {
  local rc=0
  kill "$watchdog" 2>/dev/null
  [ -n "$ref_pid" ] && kill "$ref_pid" 2>/dev/null && wait "$ref_pid" 2>/dev/null
  cluster_down || rc=1
  cd /
  rm -rf "$tmp"
  return $rc
}
trap 'rc=$?; cleanup || { echo "FAIL: cluster_down did not undo everything"; rc=1; }; exit $rc' EXIT
trap 'echo "FAIL: interrupted (SIGINT)"; exit 130' INT
trap 'echo "FAIL: interrupted (SIGTERM)"; exit 143' TERM
# ctest kills a test that outlives its TIMEOUT with SIGKILL, which no trap sees: the daemons would
# stay up and the packages installed. So the test TERMs itself first, after
# REAL_SLURM_TEST_DEADLINE seconds (780: register it with a TIMEOUT of 900 or more).
deadline=$((SECONDS + ${REAL_SLURM_TEST_DEADLINE:-780}))
( while [ "$SECONDS" -lt "$deadline" ]; do sleep 1; done
  echo "real_slurm_test: deadline reached, stopping" >&2; kill -TERM $$ ) &
watchdog=$!

if [ -n "${GDPO_SKIP_REAL_SLURM:-}" ]; then
  echo "SKIP: GDPO_SKIP_REAL_SLURM is set"
  exit 77
fi
if ! cluster_available > "$tmp/why"; then
  echo "SKIP: $(cat "$tmp/why")"
  exit 77
fi

failures=0
checks=0
t0=$SECONDS
say() { echo "[$(printf '%3d' $((SECONDS - start)))s] $*"; }
fail() { say "FAIL: $*"; failures=$((failures + 1)); }
begin() { checks=$((checks + 1)); t0=$SECONDS; say "check $*"; }
pass() { say "  ok: $* ($((SECONDS - t0)) s)"; }
show_log() {  # a job's output without the effective configuration
  echo "----- $1"; grep -v ' = ' "$1" | grep -v '^\[.*\]$' | tail -n "${2:-40}"; echo "-----"
}

work=$tmp/work
mkdir -p "$work/d"
cd "$work" || exit 1
# The binary may be rebuilt while the test runs: a private copy.
gdpo=$tmp/gdpo
cp "$gdpo_arg" "$gdpo" || exit 1
export GDPO=$gdpo OMP_WAIT_POLICY=PASSIVE

say "cluster_up (installs the packages if missing)"
if ! cluster_up "$tmp/cluster"; then
  echo "FAIL: the cluster did not come up"
  exit 1
fi
say "cluster up: $(sinfo -h -o '%P %D node(s) %c CPUs %T')"
srun --mpi=list 2>&1 | grep -qw pmix || fail "srun --mpi=list has no pmix"

"$gdpo" data synthetic --data.output "$work/d/pairs.jsonl" --data.questions 16 \
  --data.pairs-per-question 8 --data.seed 1 --data.split-output --data.split 0.75,0.25 >/dev/null ||
  { echo "FAIL: gdpo data synthetic"; exit 1; }
common=(--config "$root/configs/quickstart.ini" --data.train "$work/d/pairs_train.jsonl"
        --data.eval "$work/d/pairs_eval.jsonl" --model.config tiny-gpt2 --tokenizer.path bytes
        --loss.type sft --data.sft-examples per-pair --dist.threads 1)
# 96 training examples, 16 a step: 6 steps an epoch.

# ---- a. two MPI ranks through srun --mpi=pmix
begin "a: sbatch --ntasks=2 slurm/train.sbatch (srun --mpi=pmix, 2 ranks), 2 epochs"
a_opts=()
[ "$(nproc)" -lt 2 ] && a_opts=(--overcommit)  # 2 tasks on a 1-CPU node (b, c: one after another)
ida=$(sbatch --parsable --ntasks=2 "${a_opts[@]}" --output="$work/a.out" \
  "$root/slurm/train.sbatch" "${common[@]}" --train.lr 3e-3 --train.n-epochs 2 \
  --train.run-dir "$work/runs/a") ||
  fail "a: sbatch refused the job"

# ---- d. a failing stage: not requeued, its dependents cancelled (submitted held, so that the
# dependent is queued before the first job can fail)
idd=$(sbatch --parsable --hold --ntasks=1 --output="$work/d.out" "$root/slurm/train.sbatch" \
  "${common[@]}" --train.no-such-option 1 --train.run-dir "$work/runs/d")
iddep=$(sbatch --parsable --ntasks=1 --dependency="afterok:$idd" --kill-on-invalid-dep=yes \
  --output="$work/dep.out" --wrap "touch '$work/dependent-ran'")

if [ -n "${ida:-}" ]; then
  wait_job "$ida" 120 >/dev/null; st=$WAIT_JOB_STATE
  ok=1
  [ "$st" = COMPLETED ] || { fail "a: job $ida ended $st, not COMPLETED"; ok=; }
  [ "$(job_field "$ida" ExitCode)" = 0:0 ] ||
    { fail "a: exit code $(job_field "$ida" ExitCode)"; ok=; }
  grep -q '2 rank(s) on a node' "$work/a.out" || { fail "a: the log does not show 2 ranks"; ok=; }
  grep -q 'steps of 16 pairs (2 rank(s) x 1 x 8)' "$work/a.out" ||
    { fail "a: the training is not split over 2 ranks"; ok=; }
  [ -s "$work/runs/a/model/model.safetensors" ] || { fail "a: no model written"; ok=; }
  if [ -n "$ok" ]; then
    pass "job $ida COMPLETED; $(grep -o '[0-9]* rank(s) on a node of [0-9]* CPUs' "$work/a.out");" \
         "$(grep -o 'steps of 16 pairs (2 rank(s) x 1 x 8)' "$work/a.out")"
  else
    show_log "$work/a.out"
  fi
fi

begin "d: a stage failing with exit 2 is not requeued; its afterok dependent is cancelled"
ok=1
if [ -z "${idd:-}" ] || [ -z "${iddep:-}" ]; then
  fail "d: sbatch refused the jobs"; ok=
else
  scontrol release "$idd"
  wait_job "$idd" 60 >/dev/null; st=$WAIT_JOB_STATE
  [ "$st" = FAILED ] || { fail "d: job $idd ended $st, not FAILED"; ok=; }
  [ "$(job_field "$idd" ExitCode)" = 2:0 ] ||
    { fail "d: job $idd exit code $(job_field "$idd" ExitCode), not 2:0"; ok=; }
  [ "$(job_field "$idd" Restarts)" = 0 ] || { fail "d: job $idd was requeued"; ok=; }
  grep -q 'requeueing' "$work/d.out" && { fail "d: the batch script requeued it"; ok=; }
  wait_job "$iddep" 30 >/dev/null; dst=$WAIT_JOB_STATE
  [ "$dst" = CANCELLED ] || { fail "d: the dependent job $iddep is $dst, not CANCELLED"; ok=; }
  [ ! -e "$work/dependent-ran" ] || { fail "d: the dependent job ran"; ok=; }
  if [ -n "$ok" ]; then
    pass "job $idd FAILED with exit 2:0, Restarts=0; dependent $iddep CANCELLED" \
         "($(job_field "$iddep" Reason)), never ran"
  else
    show_log "$work/d.out" 10
  fi
fi

# ---- b and c: the same training, preempted by hand (b) and by its time limit (c), and run
# directly (the reference), side by side.
# Calibration: 20 epochs (120 steps) run directly, timed with their start-up.
t=$(date +%s%N)
"$gdpo" train "${common[@]}" --train.lr 1e-3 --train.n-epochs 20 --eval.every-examples 960 \
  --train.run-dir "$work/runs/calibrate" > "$work/calibrate.out" 2>&1 ||
  { show_log "$work/calibrate.out"; echo "FAIL: the calibration run failed"; exit 1; }
ms=$(( ($(date +%s%N) - t) / 1000000 + 1 ))
epochs=$(( train_seconds * 1000 * 20 / ms ))
[ "$epochs" -lt 100 ] && epochs=100
[ "$epochs" -gt 3000 ] && epochs=3000
long=("${common[@]}" --train.lr 1e-3 --train.n-epochs "$epochs" --eval.every-examples 960
      --train.export last)
say "calibration: 120 steps in $ms ms; b, c and the direct run: $epochs epochs" \
    "($((epochs * 6)) steps, a checkpoint every 60)"

# The reference: the same command, no Slurm (nothing in the environment that looks like srun).
unset_slurm=()
for v in $(compgen -e | grep -E '^(SLURM_|PMIX_|PMI_|OMPI_)'); do unset_slurm+=(-u "$v"); done
env "${unset_slurm[@]}" "$gdpo" train "${long[@]}" --train.run-dir "$work/runs/ref" \
  > "$work/ref.out" 2>&1 &
ref_pid=$!

idc=$(sbatch --parsable --ntasks=1 --time=1 --signal=B:USR1@50 --output="$work/c.out" \
  "$root/slurm/train.sbatch" "${long[@]}" --train.run-dir "$work/runs/c")
idb=$(sbatch --parsable --ntasks=1 --output="$work/b.out" "$root/slurm/train.sbatch" \
  "${long[@]}" --train.run-dir "$work/runs/b")

# check_preempted NAME JOBID: the job ended COMPLETED after at least one exit 75 and requeue (as
# many requeues by the batch script, numbered from SLURM_RESTART_COUNT, as Slurm counts restarts),
# resumed from a checkpoint after step 0, and its weights equal the reference's.
check_preempted() {
  local name=$1 id=$2 st restarts ok=1 requeues
  wait_job "$id" 400 >/dev/null; st=$WAIT_JOB_STATE
  restarts=$(job_field "$id" Restarts)
  [ "$st" = COMPLETED ] || { fail "$name: job $id ended $st, not COMPLETED"; ok=; }
  [ "${restarts:-0}" -ge 1 ] ||
    { fail "$name: job $id was never requeued (Restarts=$restarts; c: did its training end before" \
           "the signal? REAL_SLURM_TRAIN_SECONDS=$train_seconds)"; ok=; }
  grep -q 'exit code 75' "$work/$name.out" || { fail "$name: no rank exited 75"; ok=; }
  grep -q "checkpointed and exited 75 after SIGUSR1; requeueing job $id (restart 1)" \
    "$work/$name.out" || { fail "$name: the batch script did not requeue after SIGUSR1"; ok=; }
  requeues=$(grep -c "requeueing job $id (restart" "$work/$name.out")
  if [ "$requeues" != "${restarts:-0}" ] ||
     ! grep -q "requeueing job $id (restart ${restarts:-0})" "$work/$name.out"; then
    fail "$name: $requeues requeue(s) in the log, Slurm counts Restarts=$restarts"; ok=
  fi
  local resumed
  resumed=$(grep -o 'resumed from [^ ]* at step [0-9]*' "$work/$name.out" | head -1)
  case $resumed in
    *"at step "[1-9]*) ;;
    *) fail "$name: did not resume from a checkpoint after step 0 (${resumed:-none})"; ok= ;;
  esac
  grep -q 'DUE TO TIME LIMIT' "$work/$name.out" && { fail "$name: killed at its time limit"; ok=; }
  if [ -n "$ref_pid" ]; then
    wait "$ref_pid"; local rc=$?
    ref_pid=
    [ "$rc" -eq 0 ] || { show_log "$work/ref.out"; fail "the direct run exited $rc"; }
  fi
  if ! cmp -s "$work/runs/ref/model/model.safetensors" "$work/runs/$name/model/model.safetensors"
  then
    fail "$name: its weights differ from the uninterrupted direct run's"; ok=
  fi
  if [ -n "$ok" ]; then
    pass "job $id COMPLETED after Restarts=$restarts (as many exits 75 and requeues); $resumed;" \
         "model.safetensors bitwise equal to the direct run's"
  else
    show_log "$work/$name.out"
  fi
}

# b's first checkpoint after step 0, if any.
later_checkpoint() {
  local f
  for f in "$work"/runs/b/checkpoints/step-*; do
    [[ ${f##*/} =~ ^step-0*[1-9][0-9]*\.h5$ ]] && { echo "${f##*/}"; return; }
  done
}

begin "b: scancel --signal=USR1 --batch once a checkpoint after step 0 exists: exit 75, requeue," \
      "resume, weights equal to a direct run"
if [ -z "${idb:-}" ]; then
  fail "b: sbatch refused the job"
else
  signalled=
  for _ in $(seq 1 600); do  # 2 minutes at most
    if [ -n "$(later_checkpoint)" ]; then
      scancel --signal=USR1 --batch "$idb" && signalled=1
      break
    fi
    job_final "$(job_state "$idb")" && break
    sleep 0.2
  done
  if [ -n "$signalled" ]; then
    say "  b: signalled job $idb once it had written $(later_checkpoint)"
    check_preempted b "$idb"
  else
    fail "b: no checkpoint after step 0 appeared (job $(job_state "$idb"))"
    show_log "$work/b.out"
  fi
fi

begin "c: sbatch --time=1 --signal=B:USR1@50: exit 75, requeue, resume, weights equal to a" \
      "direct run"
if [ -z "${idc:-}" ]; then
  fail "c: sbatch refused the job"
else
  check_preempted c "$idc"
  say "  c: $(grep -c 'exited 75 after SIGUSR1' "$work/c.out") run(s) signalled at the time" \
      "limit, then one completed"
fi

# ---- e. the smoke pipeline of the opinion table, submitted with sbatch, against --local
begin "e: jobs/opinion-table.sh --smoke through sbatch: every stage done, in dependency order," \
      "the same table as --local"
bash "$root/jobs/opinion-table.sh" --smoke --out "$work/pipe-slurm" > "$work/e-submit.out" 2>&1 ||
  { fail "e: the submission failed"; cat "$work/e-submit.out"; }
env "${unset_slurm[@]}" bash "$root/jobs/opinion-table.sh" --smoke --local \
  --out "$work/pipe-local" > "$work/e-local.out" 2>&1 &
local_pid=$!
arrays=$(grep -c 'job array' "$work/e-submit.out")
[ "$arrays" -eq 7 ] || fail "e: $arrays job arrays submitted, not 7 (data sft judge train generate evaluate tables)"
for _ in $(seq 1 600); do  # until every job of the pipeline has left the queue (5 minutes at most)
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -o %i)" ] || fail "e: jobs still queued after 5 minutes: $(squeue -h)"
wait "$local_pid" || { fail "e: the --local run failed"; tail -20 "$work/e-local.out"; }
ok=1
p=$work/pipe-slurm
n_done=$(grep -l '"state": "done"' "$p"/*/*/stage.json 2>/dev/null | wc -l)
# data, SFT, judge, 3 methods, 4 generations, 4 evaluations, the table
[ "$n_done" -eq 15 ] || { fail "e: $n_done of 15 stages done"; ok=; }
# Each stage started after every stage it depends on had ended (its state file's last update).
first_start() { sed -n 's/^gdpo: stage started on [^ ]* at \([^:]*:[^:]*:[0-9]*Z\).*/\1/p' "$p"/logs/"$1"-*.out | sort | head -1; }
last_end() { sed -n 's/.*"updated": "\([^"]*\)".*/\1/p' "$p"/"$1"/*/stage.json | sort | tail -1; }
for edge in data:sft data:judge sft:train train:generate sft:generate generate:evaluate \
            judge:evaluate evaluate:tables; do
  before=${edge%%:*} after=${edge#*:}
  b_end=$(last_end "$before") a_start=$(first_start "$after")
  if [ -z "$b_end" ] || [ -z "$a_start" ] || [[ "$a_start" < "$b_end" ]]; then
    fail "e: $after started at ${a_start:-?}, before $before ended (${b_end:-?})"; ok=
  fi
done
if ! cmp -s "$p/table.md" "$work/pipe-local/table.md"; then
  fail "e: the table differs from --local's"; ok=
  diff "$p/table.md" "$work/pipe-local/table.md" | head -20
fi
grep -q '^| gdpo tiny |' "$p"/logs/tables-*.out || { fail "e: the tables job did not print the table"; ok=; }
"$gdpo" inspect "$p" > "$work/e-inspect.out" 2>&1 && grep -q "15 stages, 15 done" "$work/e-inspect.out" ||
  { fail "e: gdpo inspect: $(head -1 "$work/e-inspect.out")"; ok=; }
grep -q "slurm: job " "$p"/logs/sft-*.out || { fail "e: gdpo did not print its Slurm job"; ok=; }
if [ -n "$ok" ]; then
  pass "15 stages done in dependency order; table.md equal to --local's; inspect: all done"
else
  for f in "$p"/logs/*.out; do show_log "$f" 8; done
fi

# ---- f. a plain scancel (SIGTERM) of a running stage: checkpointed, not requeued, CANCELLED
begin "f: scancel of a running train.sbatch job: exit 75 after a checkpoint, no requeue"
idf=$(sbatch --parsable --ntasks=1 --output="$work/f.out" "$root/slurm/train.sbatch" \
  "${long[@]}" --train.run-dir "$work/runs/f")
for _ in $(seq 1 300); do
  ls "$work"/runs/f/checkpoints/step-* > /dev/null 2>&1 && break
  sleep 0.2
done
scancel "$idf"
wait_job "$idf" 120 > /dev/null; st=$WAIT_JOB_STATE
sleep 1
ok=1
[ "$st" = CANCELLED ] || { fail "f: job $idf ended $st, not CANCELLED"; ok=; }
[ "$(job_field "$idf" Restarts)" = 0 ] || { fail "f: job $idf was requeued"; ok=; }
grep -q "not requeueing" "$work/f.out" || { fail "f: the script does not say it is not requeueing"; ok=; }
if [ -n "$ok" ]; then pass "job $idf CANCELLED, Restarts=0"; else show_log "$work/f.out"; fi

say "summary: $checks checks, $failures failure(s), $((SECONDS - start)) s before cluster_down"
[ "$failures" -eq 0 ]
