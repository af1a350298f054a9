#!/usr/bin/env bash
# The paper's Table 1: every dataset's statistics (questions and pairs per split, K, entropy of p*,
# majority share), checked line by line by the record reader (runs/table1/table.md).
#   jobs/table1.sh [--local] [--smoke] [--out DIR] [--partition P] [--account A] ...
source "$(dirname "$0")/lib/pipeline.sh"
pipeline_init "jobs/table1.sh" "Table 1: the datasets' statistics." \
  configs/pipelines/table1.ini configs/pipelines/table1-smoke.ini "data tables" "$@"
pipeline_stats
