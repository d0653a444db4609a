#!/usr/bin/env bash
# GPU check: configures proxima with PX_CUDA=ON on a GPU machine that has CUDA, CMake and
# ninja but no Debian packages and no network (header-only deps come from .deps/, made by
# bench/pack_deps.sh), builds the GPU suite, runs `ctest -L gpu` and prints a dated log
# with the device line. Writes the log to $OUT/gpu_check.log when $OUT is set.
# Usage: bench/gpu_check.sh [build-dir]      (default <repo>/build-gpu)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
deps=$root/.deps
log=${OUT:-$build}/gpu_check.log
mkdir -p "$(dirname "$log")" "$build"

# cuDNN: in the toolkit, or in a pip wheel (nvidia-cudnn-*, e.g. PyTorch's) that ships only
# libcudnn.so.9: then link a prefix with the unversioned name for find_library.
find_cudnn() {
  [ -n "${CUDNN_ROOT:-}" ] && return
  [ -e /usr/local/cuda/include/cudnn.h ] && return
  local dir
  dir=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null) || return
  local lib
  lib=$(ls "$dir"/lib/libcudnn.so* 2>/dev/null | head -1) || return
  mkdir -p "$build/cudnn/lib"
  ln -sfn "$dir/include" "$build/cudnn/include"
  ln -sf "$lib" "$build/cudnn/lib/libcudnn.so"
  export CUDNN_ROOT=$build/cudnn
  export LD_LIBRARY_PATH=$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

run() {
  echo "== proxima GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
  [ -d "$deps" ] || { echo "missing $deps: run bench/pack_deps.sh on the build machine and carry .deps"; return 2; }
  export PATH=/usr/local/cuda/bin:$PATH
  find_cudnn
  echo "== nvcc $(nvcc --version | tail -1); cmake $(cmake --version | head -1); CUDNN_ROOT=${CUDNN_ROOT:-toolkit}"
  local start=$SECONDS
  cmake -S "$root" -B "$build" -G Ninja -DPX_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$deps" -DPX_BUILD_APPS=OFF -DPX_BUILD_BENCH=OFF || return 3
  cmake --build "$build" --target test_cuda -j"$(nproc)" || return 4
  echo "== configure + build: $((SECONDS - start)) s"
  (cd "$build" && ctest -L gpu --output-on-failure -V) | tee "$build/ctest_gpu.log" || return 5
  if grep -q "Skipped\|tests skipped" "$build/ctest_gpu.log"; then
    echo "== the GPU suite was SKIPPED (no CUDA device visible)"; return 6
  fi
  echo "== GPU check passed"
}

run 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo "== exit status $status (log: $log)"
exit "$status"
