#!/usr/bin/env bash
# The embedded default: installs and builds gdpo, then runs the main job on a tiny model and
# synthetic data (minutes on a laptop CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
build/gdpo help
