#!/usr/bin/env bash
# The paper's controllable movie-review generation table, end to end: data, SFT and the belief
# judge, DPO / cDPO / GDPO, generation and evaluation on the test split, the table
# (runs/movies/table.md). Submits Slurm job arrays chained with afterok; --local runs it here;
# --smoke is the tiny size. Resubmitting skips finished stages.
#   jobs/movie-table.sh [--local] [--smoke] [--out DIR] [--partition P] [--account A] ...
source "$(dirname "$0")/lib/pipeline.sh"
pipeline_init "jobs/movie-table.sh" \
  "The controllable movie-review generation table (Amazon movie reviews; small and large)." \
  configs/pipelines/movies.ini configs/pipelines/movies-smoke.ini \
  "data sft judge train generate evaluate tables" "$@"
pipeline_results
