# The paper's pipelines (sourced by jobs/table*.sh, jobs/*-table.sh, jobs/training-curves.sh):
# reads a pipeline INI (configs/pipelines/), lays out one directory per stage named from its
# configuration, and runs the stages' slurm/*.sbatch scripts, either submitted as Slurm job arrays
# chained with --dependency=afterok, or one after another on this machine (--local). A stage whose
# state file says "done" is skipped, so a re-submitted pipeline does no work twice; an unfinished
# stage resumes (gdpo train and gdpo generate continue from their run directories).
#
# Pipeline directory (--out):
#   <group>/<name>-<hash>/          one stage: a run directory, generations.h5, eval.h5, data files
#   <group>/<name>-<hash>/stage.json its state (waiting, running, requeued, done, failed), job id
#   logs/<group>-<job>_<task>.out   Slurm's output of each task (--local: logs/<group>-<name>.out)
#   tasks/<group>-<n>.tasks          each submitted array's task list (GDPO_TASKS)
#   stages.txt                       the stages of the last submitted configuration, in order
#   table.md (table.csv) | figure.png   the result
# `gdpo inspect <pipeline directory>` prints every stage's state.

set -euo pipefail

GDPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export GDPO_ROOT

pipeline_usage() {
  cat <<EOF
usage: $PIPELINE_PROGRAM [options]
$PIPELINE_SUMMARY

  --local              run every stage here, in order, instead of submitting Slurm jobs
  --smoke              the smoke size: a tiny model and a few hundred synthetic pairs (minutes on
                       2 cores); its configuration is $PIPELINE_SMOKE_CONFIG
  --config FILE        the pipeline configuration (default $PIPELINE_CONFIG)
  --out DIR            the pipeline directory (default runs/<pipeline name>[-smoke])
  --partition P, --account A, --qos Q
                       passed to every sbatch (default: the configuration's [slurm] section)
  --time STAGE=LIMIT   a stage's time limit (e.g. --time train=72:00:00); repeatable
  --ranks STAGE=N      MPI ranks (Slurm tasks) of a stage; repeatable
  --sbatch ARG         one more sbatch argument for every job (e.g. --sbatch=--mail-type=END)
  --dry-run            print the sbatch commands instead of submitting them
  -h, --help           this help
Stages: $PIPELINE_STAGES. Resubmitting skips the stages that are done and resumes the others.
Environment: GDPO (the gdpo binary, default build/gdpo), SBATCH (default sbatch), PYTHON.
EOF
}

die() {
  echo "$PIPELINE_PROGRAM: error: $*" >&2
  exit 2
}

# ---- the pipeline INI --------------------------------------------------------------------------

# ini_get FILE SECTION KEY: the value (comments after # or ; removed, spaces trimmed); status 1
# when the key is absent.
ini_get() {
  awk -v want_section="$2" -v want_key="$3" '
    { line = $0; sub(/[#;].*$/, "", line) }
    line ~ /^[[:space:]]*$/ { next }
    line ~ /^[[:space:]]*\[/ { gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", line); section = line; next }
    section == want_section {
      i = index(line, "=")
      key = substr(line, 1, i - 1); value = substr(line, i + 1)
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", key); gsub(/^[[:space:]]+|[[:space:]]+$/, "", value)
      if (key == want_key) { found = 1; result = value }
    }
    END { if (found) print result; else exit 1 }' "$1"
}

# ini_check FILE: every line is a comment, a [section] of the known kinds or a known key; else a
# usage error naming the file and line.
ini_check() {
  awk -v file="$1" '
    function bad(msg) { printf "%s:%d: %s\n", file, NR, msg > "/dev/stderr"; failed = 1 }
    { line = $0; sub(/[#;].*$/, "", line) }
    line ~ /^[[:space:]]*$/ { next }
    line ~ /^[[:space:]]*\[/ {
      gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", line); section = line
      if (section !~ /^(pipeline|slurm|dataset\.[A-Za-z0-9_.-]+|model\.[A-Za-z0-9_.-]+|stage\.(data|sft|judge|train|generate|evaluate|tables))$/)
        bad("unknown section [" section "]")
      next
    }
    index(line, "=") == 0 { bad("not a key = value line: " $0); next }
    {
      key = substr(line, 1, index(line, "=") - 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", key)
      kind = section; sub(/\..*/, "", kind)
      ok = 0
      if (kind == "pipeline") ok = key ~ /^(name|datasets|models|methods|judge-model|curve-dataset|curve-model)$/
      else if (kind == "slurm") ok = key ~ /^(partition|account|qos|gpus-per-task|cpus-per-task|mem-per-cpu|constraint)$/
      else if (kind == "dataset") ok = key ~ /^(source|config|input|args)$/
      else if (kind == "model") ok = key ~ /^(path|config|tokenizer)$/
      else if (kind == "stage") ok = key ~ /^(configs|args|ranks|time|gpus-per-task)$/
      if (!ok) bad("unknown key \"" key "\" in [" section "]")
    }
    END { exit failed }' "$1" || die "bad pipeline configuration (above)"
}

# cfg SECTION KEY [DEFAULT]: the configuration's value, the default, or a usage error.
cfg() {
  local v
  if v=$(ini_get "$PIPELINE_CONFIG" "$1" "$2"); then
    echo "$v"
  elif [ $# -ge 3 ]; then
    echo "$3"
  else
    die "$PIPELINE_CONFIG: [$1] has no '$2'"
  fi
}

# ---- options -------------------------------------------------------------------------------------

declare -A TIME_OVERRIDE=() RANKS_OVERRIDE=()
declare -a SBATCH_EXTRA=()
declare -A GROUP_JOB=()   # group -> the job id its dependents wait for ("" when nothing ran)

# pipeline_init PROGRAM SUMMARY CONFIG SMOKE_CONFIG STAGES "$@"
pipeline_init() {
  PIPELINE_PROGRAM=$1 PIPELINE_SUMMARY=$2 PIPELINE_CONFIG=$3 PIPELINE_SMOKE_CONFIG=$4
  PIPELINE_STAGES=$5
  shift 5
  LOCAL=0 SMOKE=0 DRY_RUN=0 OUT="" PARTITION="" ACCOUNT="" QOS=""
  local config_given=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --local) LOCAL=1 ;;
      --smoke) SMOKE=1 ;;
      --dry-run) DRY_RUN=1 ;;
      --config|--out|--partition|--account|--qos|--time|--ranks|--sbatch)
        [ $# -ge 2 ] || die "option '$1' needs a value"
        set -- "$1=$2" "${@:3}"
        continue ;;
      --config=*) config_given=${1#*=} ;;
      --out=*) OUT=${1#*=} ;;
      --partition=*) PARTITION=${1#*=} ;;
      --account=*) ACCOUNT=${1#*=} ;;
      --qos=*) QOS=${1#*=} ;;
      --time=*|--ranks=*)
        local kv=${1#*=} option=${1%%=*}
        [[ "$kv" == *=* ]] || die "$option takes STAGE=VALUE, got '$kv'"
        local stage=${kv%%=*}
        [[ " $PIPELINE_STAGES " == *" $stage "* ]] || die "$option: unknown stage '$stage' (stages: $PIPELINE_STAGES)"
        if [ "$option" = --time ]; then TIME_OVERRIDE[$stage]=${kv#*=}; else
          [[ "${kv#*=}" =~ ^[1-9][0-9]*$ ]] || die "--ranks $stage: '${kv#*=}' is not a positive integer"
          RANKS_OVERRIDE[$stage]=${kv#*=}
        fi ;;
      --sbatch=*) SBATCH_EXTRA+=("${1#*=}") ;;
      -h|--help) pipeline_usage; exit 0 ;;
      *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
  done
  [ "$SMOKE" = 1 ] && PIPELINE_CONFIG=$PIPELINE_SMOKE_CONFIG
  # Paths given on the command line are the caller's; the rest are the checkout's.
  [ -n "$config_given" ] && PIPELINE_CONFIG=$(realpath -m -- "$config_given")
  [ -n "$OUT" ] && OUT=$(realpath -m -- "$OUT")
  cd "$GDPO_ROOT"
  [ -f "$PIPELINE_CONFIG" ] || die "the configuration '$PIPELINE_CONFIG' is missing"
  ini_check "$PIPELINE_CONFIG"
  local name
  name=$(cfg pipeline name)
  OUT=${OUT:-runs/$name}
  mkdir -p "$OUT/logs" "$OUT/tasks"
  OUT=$(cd "$OUT" && pwd)
  GDPO=${GDPO:-$GDPO_ROOT/build/gdpo}
  [ "$DRY_RUN" = 1 ] || [ -x "$GDPO" ] || die "no gdpo binary at '$GDPO' (build it: jobs/setup.sh, or set GDPO)"
  export GDPO
  SBATCH=${SBATCH:-sbatch}
  if [ "$LOCAL" = 0 ] && [ "$DRY_RUN" = 0 ] && ! command -v "$SBATCH" > /dev/null; then
    die "'$SBATCH' is not here: submit from a Slurm login node, or run the stages here with --local"
  fi
  PARTITION=${PARTITION:-$(cfg slurm partition "")}
  ACCOUNT=${ACCOUNT:-$(cfg slurm account "")}
  QOS=${QOS:-$(cfg slurm qos "")}
  echo "pipeline $name: $PIPELINE_CONFIG -> $OUT ($([ "$LOCAL" = 1 ] && echo "here, stage by stage" || echo "Slurm jobs"))"
}

# ---- stages and tasks ----------------------------------------------------------------------------

# stage_dir GROUP NAME ARGS...: prints the stage's directory, named from its configuration: the
# arguments, the contents of every INI file among them and the size and time of every other input
# file outside the pipeline directory (inside it, the earlier stages' directory names carry theirs).
stage_dir() {
  local group=$1 name=$2
  shift 2
  local hash
  hash=$({
    printf '%s\n' "$group" "$@"
    local a
    for a in "$@"; do
      if [ -f "$a" ] && [[ "$a" != "$OUT"/* ]]; then
        case "$a" in
          *.ini) cat "$a" ;;
          *) stat -L -c '%n %s %Y' "$a" ;;
        esac
      fi
    done
  } | sha256sum | cut -c1-10)
  echo "$OUT/$group/$name-$hash"
}

declare -A GROUP_TASKS=()  # group -> newline-separated "state<TAB>args" lines not yet done
PLAN=""                    # every stage of this configuration, "group/name" lines in order
PLAN_WRITTEN=0

# task GROUP STATE_FILE ARGS...: adds one task to GROUP unless its state file says done.
task() {
  local group=$1 state=$2
  shift 2
  local a line=$state
  PLAN+="$group/$(basename "$(dirname "$state")")"$'\n'
  for a in "$@"; do
    [[ "$a" != *$'\t'* && "$a" != *$'\n'* ]] || die "an argument of $group holds a tab or newline: '$a'"
    line+=$'\t'"$a"
  done
  if [ -f "$state" ] && grep -q '"state": "done"' "$state"; then
    echo "  $group: $(basename "$(dirname "$state")") is done, skipped"
    return 0
  fi
  GROUP_TASKS[$group]+="$line"$'\n'
}

# stage_resources STAGE: the sbatch options of STAGE's jobs.
stage_resources() {
  local stage=$1 ranks time gpus cpus
  ranks=${RANKS_OVERRIDE[$stage]:-$(cfg "stage.$stage" ranks 1)}
  time=${TIME_OVERRIDE[$stage]:-$(cfg "stage.$stage" time "")}
  gpus=""
  case "$stage" in  # data and tables take no GPU
    sft|judge|train|generate|evaluate) gpus=$(cfg slurm gpus-per-task "") ;;
  esac
  gpus=$(cfg "stage.$stage" gpus-per-task "$gpus")
  cpus=$(cfg slurm cpus-per-task "")
  RES=(--ntasks="$ranks")
  [ -n "$time" ] && RES+=(--time="$time")
  [ -n "$gpus" ] && [ "$gpus" != 0 ] && RES+=(--gpus-per-task="$gpus")
  [ -n "$cpus" ] && RES+=(--cpus-per-task="$cpus")
  local mem constraint
  mem=$(cfg slurm mem-per-cpu "")
  constraint=$(cfg slurm constraint "")
  [ -n "$mem" ] && RES+=(--mem-per-cpu="$mem")
  [ -n "$constraint" ] && RES+=(--constraint="$constraint")
  [ -n "$PARTITION" ] && RES+=(--partition="$PARTITION")
  [ -n "$ACCOUNT" ] && RES+=(--account="$ACCOUNT")
  [ -n "$QOS" ] && RES+=(--qos="$QOS")
  RES+=("${SBATCH_EXTRA[@]}")
  LOCAL_RANKS=$ranks
}

# run_group GROUP STAGE SCRIPT DEPENDENCY_GROUPS...: submits GROUP's pending tasks as one job array
# of slurm/SCRIPT that starts after every listed group's job ended well (--local: runs them now).
run_group() {
  local group=$1 stage=$2 script=$3
  shift 3
  if [ "$PLAN_WRITTEN" = 0 ]; then  # `gdpo inspect` shows these stages, in this order
    printf '%s' "$PLAN" > "$OUT/stages.txt.tmp.$$" && mv -f "$OUT/stages.txt.tmp.$$" "$OUT/stages.txt"
    PLAN_WRITTEN=1
  fi
  local pending=${GROUP_TASKS[$group]:-}
  GROUP_JOB[$group]=""
  if [ -z "$pending" ]; then
    echo "  $group: nothing to do"
    return 0
  fi
  local n
  n=$(printf '%s' "$pending" | grep -c '')
  local tasks="$OUT/tasks/$group-$(date -u +%Y%m%dT%H%M%S)-$$.tasks"
  printf '%s' "$pending" > "$tasks"
  stage_resources "$stage"

  if [ "$LOCAL" = 1 ]; then
    local i line state name log rc launcher=""
    [ "$LOCAL_RANKS" -gt 1 ] && launcher="mpiexec -n $LOCAL_RANKS"
    for ((i = 0; i < n; i++)); do
      line=$(sed -n "$((i + 1))p" "$tasks")
      state=${line%%$'\t'*}
      name=$(basename "$(dirname "$state")")
      log="$OUT/logs/$group-$name.out"
      echo "  $group: $name (log $log)"
      set +e
      # Not a Slurm job even inside an allocation: exit 75 must not requeue the allocation.
      env -u SLURM_JOB_ID -u SLURM_ARRAY_JOB_ID -u SLURM_ARRAY_TASK_ID -u SLURM_RESTART_COUNT \
        GDPO_TASKS="$tasks" GDPO_TASK_INDEX=$i SRUN="$launcher" bash "slurm/$script" >> "$log" 2>&1
      rc=$?
      set -e
      if [ "$rc" -ne 0 ]; then
        tail -n 20 "$log" >&2
        if [ "$rc" -eq 75 ]; then
          echo "$PIPELINE_PROGRAM: $group $name stopped by a signal after a checkpoint; run the same command again to continue" >&2
        else
          echo "$PIPELINE_PROGRAM: $group $name failed (exit $rc; log $log); later stages did not run" >&2
        fi
        exit "$rc"
      fi
    done
    return 0
  fi

  local deps=() g
  for g in "$@"; do [ -n "${GROUP_JOB[$g]:-}" ] && deps+=("${GROUP_JOB[$g]}"); done
  local cmd=("$SBATCH" --parsable --job-name="gdpo-$group" --array="0-$((n - 1))"
             --output="$OUT/logs/$group-%A_%a.out" --open-mode=append --chdir="$GDPO_ROOT"
             --export="ALL,GDPO_TASKS=$tasks,GDPO_ROOT=$GDPO_ROOT,GDPO=$GDPO"
             "${RES[@]}")
  if [ ${#deps[@]} -gt 0 ]; then
    cmd+=(--dependency="afterok:$(IFS=:; echo "${deps[*]}")" --kill-on-invalid-dep=yes)
  fi
  cmd+=("slurm/$script")
  if [ "$DRY_RUN" = 1 ]; then
    GROUP_JOB[$group]="<$group>"
    echo "  $group: ${cmd[*]}"
    return 0
  fi
  local job
  job=$("${cmd[@]}") || die "sbatch refused the $group jobs: ${cmd[*]}"
  job=${job%%;*}  # --parsable prints JOBID[;CLUSTER]
  GROUP_JOB[$group]=$job
  # Every task is waiting for its job; the job itself marks it running, done or failed.
  local i=0 line state
  while IFS= read -r line; do
    state=${line%%$'\t'*}
    mkdir -p "$(dirname "$state")"
    printf '{"state": "waiting", "job": "%s", "array_task": "%s", "restarts": 0, "exit_code": null, "host": "", "updated": "%s"}\n' \
      "$job" "$i" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$state.tmp.$$" && mv -f "$state.tmp.$$" "$state"
    i=$((i + 1))
  done < "$tasks"
  echo "  $group: job array $job ($n task(s))${deps[*]:+ after ${deps[*]}}"
}

# ---- the paper's pipelines -------------------------------------------------------------------------

# words SECTION KEY: a space-separated list of the configuration.
words() { cfg "$1" "$2"; }

# stage_args STAGE [METHOD_CONFIG]: --config for each of the stage's configs, then the method's
# (which overrides them), then the stage's own arguments (the command line beats every config).
# Into ARGS.
stage_args() {
  ARGS=()
  local c a
  for c in $(cfg "stage.$1" configs "") ${2:-}; do
    [ -f "$c" ] || die "$PIPELINE_CONFIG: [stage.$1] configs: '$c' is missing"
    ARGS+=(--config "$c")
  done
  # shellcheck disable=SC2206  # the configuration's arguments are words
  a=($(cfg "stage.$1" args ""))
  ARGS+=("${a[@]}")
}

# model_args MODEL: how gdpo loads the pretrained model and its tokenizer (into MODEL_ARGS).
model_args() {
  local path config tokenizer
  path=$(cfg "model.$1" path "")
  config=$(cfg "model.$1" config "")
  tokenizer=$(cfg "model.$1" tokenizer "${path:-bytes}")
  if [ -n "$path" ]; then
    MODEL_ARGS=(--model.path "$path")
  elif [ -n "$config" ]; then
    MODEL_ARGS=(--model.config "$config")
  else
    die "$PIPELINE_CONFIG: [model.$1] needs 'path' (a Hugging Face folder) or 'config'"
  fi
  TOKENIZER_ARGS=(--tokenizer.path "$tokenizer")
}

# plan_data DATASET: the data stage of DATASET; sets DATA_DIR (its outputs: DATASET_{train,eval,
# test}.jsonl, DATASET_stats.md, judge_{train,eval,test}.jsonl).
plan_data() {
  local d=$1 source
  source=$(cfg "dataset.$d" source)
  local args=()
  case "$source" in
    files)
      local config part file
      config=$(cfg "dataset.$d" config)
      [ -f "$config" ] || die "$PIPELINE_CONFIG: [dataset.$d] config '$config' is missing"
      for part in train eval test; do
        file=$(ini_get "$config" data "$part") || die "$config: [data] has no '$part' file"
        args+=("$file")
      done ;;
    synthetic) ;;
    opinion|reviews) args+=("$(cfg "dataset.$d" input)") ;;
    *) die "$PIPELINE_CONFIG: [dataset.$d] source '$source' is not files | synthetic | opinion | reviews" ;;
  esac
  local extra
  # shellcheck disable=SC2206
  extra=($(cfg "dataset.$d" args ""))
  args+=("${extra[@]}")
  DATA_DIR=$(stage_dir data "$d" "$source" "${args[@]}")
  task data "$DATA_DIR/stage.json" "$DATA_DIR" "$d" "$source" "${args[@]}"
}

data_args() {  # DATASET: the training data options (DATA_DIR from plan_data)
  DATA_ARGS=(--data.train "$DATA_DIR/$1_train.jsonl" --data.eval "$DATA_DIR/$1_eval.jsonl"
             --data.test "$DATA_DIR/$1_test.jsonl")
}

# plan_training DATASET MODEL: SFT from the pretrained model, then every other method from the SFT
# model. Sets RUN_DIR[method].
declare -A RUN_DIR=()
plan_training() {
  local d=$1 m=$2 k dir
  model_args "$m"
  data_args "$d"
  stage_args sft configs/paper/sft.ini
  local sft=("${ARGS[@]}" "${MODEL_ARGS[@]}" "${TOKENIZER_ARGS[@]}" "${DATA_ARGS[@]}")
  dir=$(stage_dir sft "$d-$m" "${sft[@]}")
  task sft "$dir/stage.json" "${sft[@]}" --train.run-dir "$dir"
  RUN_DIR[sft]=$dir
  for k in $(words pipeline methods); do
    [ "$k" = sft ] && continue
    stage_args train "configs/paper/$k.ini"
    local args=("${ARGS[@]}" --model.path "${RUN_DIR[sft]}/model"
                "${TOKENIZER_ARGS[@]}" "${DATA_ARGS[@]}")
    dir=$(stage_dir train "$d-$m-$k" "${args[@]}")
    task train "$dir/stage.json" "${args[@]}" --train.run-dir "$dir"
    RUN_DIR[$k]=$dir
  done
}

# The paper's results tables (opinion, movie reviews): data -> SFT and the belief judge ->
# DPO/cDPO/GDPO -> generate -> evaluate -> the table.
pipeline_results() {
  local d m k dir evals=()
  local judge_model
  judge_model=$(cfg pipeline judge-model)
  for d in $(words pipeline datasets); do
    plan_data "$d"
    data_args "$d"
    # The belief judge of this dataset: an SFT model that writes the belief of a response.
    model_args "$judge_model"
    stage_args judge configs/paper/sft.ini
    local judge=("${ARGS[@]}" "${MODEL_ARGS[@]}" "${TOKENIZER_ARGS[@]}"
                 --data.train "$DATA_DIR/judge_train.jsonl" --data.eval "$DATA_DIR/judge_eval.jsonl")
    local judge_dir
    judge_dir=$(stage_dir judge "$d-$judge_model" "${judge[@]}")
    task judge "$judge_dir/stage.json" "${judge[@]}" --train.run-dir "$judge_dir"
    for m in $(words pipeline models); do
      plan_training "$d" "$m"
      model_args "$m"
      for k in $(words pipeline methods); do
        stage_args generate
        local gen=("${ARGS[@]}" --model.path "${RUN_DIR[$k]}" "${TOKENIZER_ARGS[@]}"
                   --data.test "$DATA_DIR/${d}_test.jsonl")
        local gen_dir
        gen_dir=$(stage_dir generate "$d-$m-$k" "${gen[@]}")
        task generate "$gen_dir/stage.json" "${gen[@]}" --generate.output "$gen_dir/generations.h5"
        stage_args evaluate
        local ev=("${ARGS[@]}" --model.path "${RUN_DIR[$k]}" "${TOKENIZER_ARGS[@]}"
                  --data.test "$DATA_DIR/${d}_test.jsonl"
                  --evaluate.generations "$gen_dir/generations.h5" --evaluate.judge "$judge_dir"
                  --evaluate.judge-data "$DATA_DIR/judge_test.jsonl" --evaluate.label "$k $m")
        dir=$(stage_dir evaluate "$d-$m-$k" "${ev[@]}")
        task evaluate "$dir/stage.json" "${ev[@]}" --evaluate.output "$dir/eval.h5"
        evals+=("$dir/eval.h5")
      done
    done
  done
  dir=$(stage_dir tables table results "${evals[@]}")
  task tables "$dir/stage.json" results "$OUT/table.md" "${evals[@]}"
  run_group data data data.sbatch
  run_group sft sft sft.sbatch data
  run_group judge judge sft.sbatch data
  run_group train train train.sbatch sft
  run_group generate generate generate.sbatch sft train
  run_group evaluate evaluate evaluate.sbatch generate judge
  run_group tables tables tables.sbatch evaluate
  pipeline_done "$OUT/table.md"
}

# Table 1: the datasets' statistics.
pipeline_stats() {
  local d files=()
  for d in $(words pipeline datasets); do
    plan_data "$d"
    files+=("$DATA_DIR/${d}_train.jsonl" "$DATA_DIR/${d}_eval.jsonl" "$DATA_DIR/${d}_test.jsonl")
  done
  local dir
  dir=$(stage_dir tables table stats "${files[@]}")
  task tables "$dir/stage.json" stats "$OUT/table.txt" "${files[@]}"
  run_group data data data.sbatch
  run_group tables tables tables.sbatch data
  pipeline_done "$OUT/table.txt"
}

# The training-curve figure: JS distance to p* against examples seen, each method's training run.
pipeline_curves() {
  local d m k runs=()
  d=$(cfg pipeline curve-dataset)
  m=$(cfg pipeline curve-model)
  plan_data "$d"
  plan_training "$d" "$m"
  for k in $(words pipeline methods); do runs+=("${RUN_DIR[$k]}"); done
  local dir
  dir=$(stage_dir tables figure curves "${runs[@]}")
  task tables "$dir/stage.json" curves "$OUT/figure.png" "${runs[@]}"
  run_group data data data.sbatch
  run_group sft sft sft.sbatch data
  run_group train train train.sbatch sft
  run_group tables tables tables.sbatch sft train
  pipeline_done "$OUT/figure.png"
}

pipeline_done() {
  if [ "$LOCAL" = 1 ]; then
    echo "pipeline done: $1"
    case "$1" in *.md|*.txt) cat "$1" ;; esac
  elif [ "$DRY_RUN" = 0 ]; then
    echo "submitted; the result will be $1 (and in the tables job's log under $OUT/logs)."
    echo "watch: $GDPO inspect $OUT"
  fi
}
