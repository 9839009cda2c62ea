#!/usr/bin/env bash
# The test command (README and .ci/run): installs what the tests need, then lint, types and the whole test suite,
# real-model tests included. Set TINYPLAN_QUICK=1 to skip the slow real-model tests locally.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
bash scripts/setup.sh --dev
# espeak-ng speaks the voice tests' requests (tests/voice): install it where it is missing (as root, with apt-get)
if ! command -v espeak-ng >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq espeak-ng >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq espeak-ng >/dev/null 2>&1; } \
      || echo "warning: could not install espeak-ng; the voice tests will fail" >&2
  else
    echo "warning: espeak-ng is missing (apt-get install -y espeak-ng); the voice tests will fail" >&2
  fi
fi
echo "== ruff"; "$PYTHON" -m ruff check . && "$PYTHON" -m ruff format --check .
echo "== mypy"; "$PYTHON" -m mypy
# the docs site with its API reference from the docstrings (mkdocs.yml): a broken link, cross-reference or docstring
# section, or a public module without a reference page, fails it
echo "== docs"
site_dir=$(mktemp -d)
trap 'rm -rf "$site_dir"' EXIT
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --site-dir "$site_dir"  # not --quiet: it hides the warnings
echo "== pytest"
marker=()
if [ "${TINYPLAN_QUICK:-0}" = "1" ]; then marker=(-m "not slow"); fi
"$PYTHON" -m pytest -q "${marker[@]}"
