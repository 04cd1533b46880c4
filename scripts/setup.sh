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

# Headless Chromium, for the test that opens `ferrotune report`'s page (Debian's package).
# Only as root with apt; elsewhere that test is skipped with a note saying so.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing chromium (headless browser for the report test)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the report's browser test will be skipped"
fi
