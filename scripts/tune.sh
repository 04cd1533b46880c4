#!/usr/bin/env bash
# The main job: sets everything up, then runs a real tuning run on bundled data and writes its
# SQLite study and plots under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="$(cd "${FERROTUNE_VENV:-.venv}" && pwd)"
exec "$venv/bin/python" examples/tune_digits.py "$@"
