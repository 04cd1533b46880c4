#!/usr/bin/env bash
# Builds ferrotune into a virtual environment with everything the tests and examples need.
# Idempotent: a second run only rebuilds what changed. The environment lives in
# $FERROTUNE_VENV (default: .venv at the repository root).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FERROTUNE_VENV:-.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi

# Dependencies: pip is quick when they are already satisfied.
echo "setup: installing test requirements (first run downloads PyTorch, a few GB)"
"$venv/bin/python" -m pip install --quiet -r requirements/test.txt

# The extension module, built in release mode and installed in development mode.
echo "setup: building the Rust extension"
VIRTUAL_ENV="$(cd "$venv" && pwd)" PATH="$(cd "$venv" && pwd)/bin:$PATH" \
  "$venv/bin/maturin" develop --release --quiet
