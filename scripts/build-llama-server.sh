#!/usr/bin/env bash
# Builds llama.cpp's native `llama-server` from the sources inside the llama-cpp-python sdist, once.
#
# Result: $TINYPLAN_LLAMA_SERVER_DIR/bin/llama-server (default ~/.cache/tinyplan/llama-server), with its shared
# libraries beside it. About 7 minutes on 2 cores; later runs find the binary and return at once.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
WHEELHOUSE="${TINYPLAN_WHEELHOUSE:-$HOME/.cache/tinyplan/wheels}"
DEST="${TINYPLAN_LLAMA_SERVER_DIR:-$HOME/.cache/tinyplan/llama-server}"
PYTHON="${PYTHON:-python}"
if [ -x "$DEST/bin/llama-server" ]; then echo "$DEST/bin/llama-server"; exit 0; fi
echo "build-llama-server: building llama-server from llama-cpp-python $VERSION sources (about 7 minutes, once)" >&2
mkdir -p "$WHEELHOUSE"
sdist="$WHEELHOUSE/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$sdist" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WHEELHOUSE"
fi
work=$(mktemp -d)
tar -xzf "$sdist" -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON \
  -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DCMAKE_INSTALL_RPATH='$ORIGIN' -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON >/dev/null
cmake --build "$work/build" --target llama-server -j "$(nproc)" >/dev/null
mkdir -p "$DEST/bin.tmp"
cp -a "$work/build/bin/." "$DEST/bin.tmp/"
find "$work/build" -name '*.so*' -exec cp -a {} "$DEST/bin.tmp/" \;
rm -rf "$DEST/bin" && mv "$DEST/bin.tmp" "$DEST/bin"
rm -rf "$work"
echo "$DEST/bin/llama-server"
