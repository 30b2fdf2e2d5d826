#!/usr/bin/env bash
# Builds llama.cpp's own llama-server once per machine, from the llama.cpp
# source that llama-cpp-python's sdist ships (the same version the product
# runs), into ~/.cache/cga-llama-server/<version>/ (CGA_LLAMA_SERVER_DIR to
# change it). The remote-backend tests use it to check the native token-id
# endpoint; about 8 minutes on 2 cores, then cached.
set -euo pipefail
version="$(python -c 'import llama_cpp; print(llama_cpp.__version__)')"
root="${CGA_LLAMA_SERVER_DIR:-$HOME/.cache/cga-llama-server}/$version"
if [ -x "$root/llama-server" ]; then echo "$root/llama-server"; exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$root"
cp "$work/build/bin/llama-server" "$root/llama-server.partial"
mv "$root/llama-server.partial" "$root/llama-server"
echo "$root/llama-server"
