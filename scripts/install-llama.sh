#!/usr/bin/env bash
# Installs llama-cpp-python (the `llama` extra's native part) from a kept wheel, building the wheel once.
#
# PyPI ships llama-cpp-python only as a source distribution; compiling it takes ~5 min on 2 cores. The built wheel is
# kept in $TINYPLAN_WHEELHOUSE (default ~/.cache/tinyplan/wheels) and reused by later runs (pip's own wheel cache
# ignores CMAKE_ARGS, so we keep our own). Portable x86-64 flags (AVX2/FMA) instead of -march=native.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
WHEELHOUSE="${TINYPLAN_WHEELHOUSE:-$HOME/.cache/tinyplan/wheels}"
PYTHON="${PYTHON:-python}"
mkdir -p "$WHEELHOUSE"
if ! ls "$WHEELHOUSE"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
  echo "install-llama: building llama-cpp-python $VERSION wheel (about 5 minutes, once)" >&2
  src=$(mktemp -d)
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$src"
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  "$PYTHON" -m pip wheel --quiet --no-deps -w "$WHEELHOUSE" "$src"/llama_cpp_python-"$VERSION".tar.gz
  # keep the sdist too: scripts/build-llama-server.sh builds the native server from the same llama.cpp sources
  cp "$src"/llama_cpp_python-"$VERSION".tar.gz "$WHEELHOUSE"/
  rm -rf "$src"
fi
# the sdist is kept beside the wheel (llama-server's sources; tinyplan.finetune's convert_lora_to_gguf.py): fetch it
# when a wheelhouse from elsewhere has only the wheel
if ! ls "$WHEELHOUSE"/llama_cpp_python-"$VERSION".tar.gz >/dev/null 2>&1; then
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WHEELHOUSE"
fi
PIP_FIND_LINKS="${PIP_FIND_LINKS:+$PIP_FIND_LINKS }$WHEELHOUSE" "$PYTHON" -m pip install --quiet "llama-cpp-python==$VERSION"
