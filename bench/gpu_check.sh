#!/usr/bin/env bash
# What a GPU does for the assistant, in one run: builds llama-cpp-python with CUDA where an NVIDIA GPU is
# found, then runs bench/gpu_check.py (CPU-vs-GPU logits, prefill/decode speed, language-server latency).
# Without a GPU it measures the CPU and says so.
#
#   bash bench/gpu_check.sh                      # pip fetches the llama-cpp-python source
#   SDIST=llama_cpp_python-0.3.36.tar.xz WHEELS=./wheels bash bench/gpu_check.sh   # a machine without network
#
# SDIST: a llama-cpp-python source archive (a slimmed one will do: vendor/llama.cpp without models, docs, benches,
# media and tools/ui is about 5 MB as tar.xz). WHEELS: a folder of the build's own wheels (scikit-build-core,
# cmake, ninja) for a machine that cannot reach the index. CUDA_ARCH: the GPU's compute capability (90 for an
# H100/H200; default: the GPU found). FAST=1 builds without flash-attention kernels (faster, for a quick check).
# Extra arguments go to bench/gpu_check.py (--size, --repeat, --threads).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
  if ! "$PYTHON" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 1)" 2>/dev/null
  then
    arch="${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}"
    flags="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=${arch} -DLLAVA_BUILD=OFF"
    [ "${FAST:-0}" = 1 ] && flags="$flags -DGGML_CUDA_FA=OFF"
    echo "Building llama-cpp-python with CUDA for compute capability ${arch} (several minutes, once)…"
    if [ -n "${WHEELS:-}" ]; then
      "$PYTHON" -m pip install --no-index --find-links "$WHEELS" scikit-build-core cmake ninja
      isolation=(--no-build-isolation --no-index --find-links "$WHEELS")
    else
      isolation=()
    fi
    started=$(date +%s)
    CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$PYTHON" -m pip install --force-reinstall \
      --no-deps --no-cache-dir "${isolation[@]}" "${SDIST:-llama-cpp-python==0.3.36}"
    echo "Built in $(( $(date +%s) - started )) s."
  fi
  exec "$PYTHON" bench/gpu_check.py --device gpu "$@"
else
  echo "No NVIDIA GPU here (nvidia-smi finds none): measuring on the CPU instead."
  exec "$PYTHON" bench/gpu_check.py --device cpu "$@"
fi
