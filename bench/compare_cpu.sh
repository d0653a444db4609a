#!/usr/bin/env bash
# Compares proxima's CPU ops with PyTorch's: builds bench_ops (Release, CPU only), runs it and
# bench/torch_ops.py interleaved for 3 rounds with the same thread count, and prints one table
# (also written to bench/results/<date>-cpu-ops.md).
#   usage: bench/compare_cpu.sh [--threads N] [--reps N] [--rounds N] [--build-dir DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
threads="$(nproc)"; reps=10; rounds=3; build="$root/build-bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    *) echo "compare_cpu.sh: unknown argument '$1' (expected --threads, --reps, --rounds, --build-dir)" >&2
       exit 2 ;;
  esac
done
for value in "$threads" "$reps" "$rounds"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "compare_cpu.sh: '$value' is not a positive integer" >&2; exit 2; }
done
python=/usr/bin/python3
"$python" -c 'import torch' 2>/dev/null ||
  { echo "compare_cpu.sh: $python cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPX_CUDA=OFF \
      -DPX_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target bench_ops -j "$(nproc)"

load="$(cut -d" " -f1-3 /proc/loadavg)"
raw="$(mktemp)"; trap 'rm -f "$raw"' EXIT
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: proxima" >&2
  "$build/bench/bench_ops" --json --threads "$threads" --reps "$reps" | sed "s/^{/{\"round\": $round, /" >>"$raw"
  echo "round $round/$rounds: pytorch" >&2
  "$python" "$root/bench/torch_ops.py" --json --threads "$threads" --reps "$reps" |
    sed "s/^{/{\"round\": $round, /" >>"$raw"
done

date="$(date +%Y-%m-%d)"
mkdir -p "$root/bench/results"
out="$root/bench/results/$date-cpu-ops.md"
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
torch_version="$("$python" -c 'import torch; print(torch.__version__)')"
"$python" - "$raw" "$date" "$cpu" "$threads" "$reps" "$rounds" "$torch_version" "$load" <<'PY' | tee "$out"
import json, statistics, sys
raw, date, cpu, threads, reps, rounds, torch_version, load = sys.argv[1:]
rows = [json.loads(line) for line in open(raw) if line.strip()]
def medians(impl):
    by = {}
    for r in rows:
        if r["impl"] == impl:
            by.setdefault(r["workload"], []).append(r["gflops"])
    return {k: statistics.median(v) for k, v in by.items()}
px, pt = medians("proxima"), medians("pytorch")
print(f"# CPU ops: proxima vs PyTorch ({date})\n")
print(f"- CPU: {cpu}; {threads} threads for both; float32; load average before the run: {load}")
print(f"- PyTorch {torch_version} (Debian python3-torch); median of {reps} timed runs after 2 warm-up, "
      f"then the median over {rounds} interleaved rounds")
print("- produced by `bench/compare_cpu.sh`; GFLOP/s count a multiply-add as 2 FLOPs\n")
print("| workload | proxima GFLOP/s | PyTorch GFLOP/s | proxima / PyTorch |")
print("|---|---:|---:|---:|")
for name, torch_gflops in pt.items():
    ours = px.get(name.split(" [")[0])
    if ours is None:
        print(f"| {name} | - | {torch_gflops:.1f} | - |")
    else:
        print(f"| {name} | {ours:.1f} | {torch_gflops:.1f} | {ours / torch_gflops:.2f} |")
for name in px.keys() - pt.keys():
    print(f"| {name} | {px[name]:.1f} | - | - |")
print("\nPyTorch's `gemm` row is `torch.mm`, which in Debian's build calls the reference BLAS "
      "(BLAS_INFO=generic); the `[oneDNN linear]` row is PyTorch's oneDNN GEMM, compared with the "
      "same proxima GEMM. Convolutions in PyTorch go through oneDNN.")
PY
echo "written to $out" >&2
