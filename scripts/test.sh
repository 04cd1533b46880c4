#!/usr/bin/env bash
# Runs every check: Rust tests, clippy, rustfmt, ruff, mypy and pytest (warnings are errors).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m slow` for the slow tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="$(cd "${FERROTUNE_VENV:-.venv}" && pwd)"
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"

# One command per line: under `set -e`, a failure inside an `a && b` list would not stop us.
lint_paths=(python tests benches scripts)
[ -d examples ] && lint_paths+=(examples)
echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --all-targets --features python -- -D warnings
echo "== cargo test"
cargo test --quiet
echo "== ruff"
ruff check "${lint_paths[@]}"
ruff format --check "${lint_paths[@]}"
echo "== mypy"
mypy python/ferrotune
echo "== pytest"
python -m pytest -q "$@"
