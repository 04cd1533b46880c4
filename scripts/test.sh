#!/usr/bin/env bash
# Runs every check: Rust tests, clippy, rustfmt, ruff, mypy and pytest (warnings are errors).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m slow` for the slow tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="$(cd "${FERROTUNE_VENV:-.venv}" && pwd)"
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"

echo "== rustfmt";  cargo fmt --all -- --check
echo "== clippy";   cargo clippy --all-targets --features python -- -D warnings
echo "== cargo test"; cargo test --quiet
echo "== ruff";     ruff check python tests benches examples && ruff format --check python tests benches examples
echo "== mypy";     mypy python/ferrotune
echo "== pytest";   python -m pytest -q "$@"
