#!/usr/bin/env bash
# Builds proxima (Release, build-bench, -j2: bench_cpu_workloads and train_cifar) and runs
# bench/cpu_vs_torch.py: proxima vs PyTorch on identical CPU workloads, one markdown table.
#   usage: bench/cpu_vs_torch.sh [--threads N] [--reps N] [--warmup N] [--rounds N] [--epoch]
#          [--epoch-subset N] [--workers N] [--only TEXT] [--out FILE]   (see cpu_vs_torch.py --help)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PX_BENCH_BUILD_DIR="${PX_BENCH_BUILD_DIR:-$root/build-bench}"
build="$PX_BENCH_BUILD_DIR"
python=/usr/bin/python3
"$python" -c 'import torch' 2>/dev/null ||
  { echo "cpu_vs_torch.sh: $python cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPX_CUDA=OFF -DPX_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j2 --target bench_cpu_workloads train_cifar >&2
exec "$python" "$root/bench/cpu_vs_torch.py" "$@"
