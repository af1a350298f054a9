#!/usr/bin/env bash
# The paper's training-curve figure: JS distance to p* on the eval split against examples seen,
# DPO against GDPO from one SFT model (runs/curves/figure.png).
#   jobs/training-curves.sh [--local] [--smoke] [--out DIR] [--partition P] [--account A] ...
source "$(dirname "$0")/lib/pipeline.sh"
pipeline_init "jobs/training-curves.sh" "The training-curve figure: JS distance to p* against examples, DPO vs GDPO." \
  configs/pipelines/curves.ini configs/pipelines/curves-smoke.ini "data sft train tables" "$@"
pipeline_curves
