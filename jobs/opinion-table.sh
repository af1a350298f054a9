#!/usr/bin/env bash
# The paper's controllable opinion generation table, end to end: data, SFT and the belief judge,
# DPO / cDPO / GDPO, generation and evaluation on the test split, the table (runs/opinion/table.md).
# Submits the whole pipeline as Slurm job arrays chained with afterok; --local runs it here, stage
# by stage; --smoke is the tiny size (minutes on 2 cores). Resubmitting skips finished stages.
#   jobs/opinion-table.sh [--local] [--smoke] [--out DIR] [--partition P] [--account A] ...
source "$(dirname "$0")/lib/pipeline.sh"
pipeline_init "jobs/opinion-table.sh" \
  "The controllable opinion generation table (United States, Pakistan, S. Africa; small and large)." \
  configs/pipelines/opinion.ini configs/pipelines/opinion-smoke.ini \
  "data sft judge train generate evaluate tables" "$@"
pipeline_results
