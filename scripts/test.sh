#!/usr/bin/env bash
# The test command (README and .ci/run): installs what the tests need, then lint, types and the whole test suite,
# real-model tests included. Set TINYPLAN_QUICK=1 to skip the slow real-model tests locally.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
bash scripts/setup.sh --dev
echo "== ruff"; "$PYTHON" -m ruff check . && "$PYTHON" -m ruff format --check .
echo "== mypy"; "$PYTHON" -m mypy
echo "== pytest"
marker=()
if [ "${TINYPLAN_QUICK:-0}" = "1" ]; then marker=(-m "not slow"); fi
"$PYTHON" -m pytest -q "${marker[@]}"
