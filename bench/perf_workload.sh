#!/usr/bin/env bash
# Profiles one proxima workload of bench_cpu_workloads with `perf record` (sampling, no call
# graphs) and prints where the time goes: shares by library, then by function grouped into
# categories (GEMM, im2col/col2im, elementwise, reductions, memcpy/memset, page faults, OpenMP).
#   usage: bench/perf_workload.sh [--passive] BENCH_FLAGS...   e.g. --workload train --model vgg16 --batch 64
# --passive sets OMP_WAIT_POLICY=passive (idle OpenMP threads sleep instead of spinning).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PX_BENCH_BUILD_DIR:-$root/build-bench}/bench/bench_cpu_workloads"
[ -x "$bin" ] || { echo "perf_workload.sh: $bin not built (run bench/cpu_vs_torch.sh once)" >&2; exit 1; }
if [ "${1:-}" = "--passive" ]; then export OMP_WAIT_POLICY=passive; shift; fi
data="$(mktemp)"; trap 'rm -f "$data"' EXIT
perf record -q -F 499 -o "$data" "$bin" "$@" --threads "${PX_THREADS:-2}"
echo "-- by library"
perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -6
echo "-- by category (share of all samples)"
perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' |
  /usr/bin/python3 -c '
import re, sys
rules = [("GEMM kernel (Eigen gebp)", "gebp_kernel"), ("GEMM packing (Eigen)", "gemm_pack"),
         ("im2col", "im2col"), ("conv backward-input (col2im)", "conv_backward_input"),
         ("conv other", "conv"), ("elementwise (map/strided_loop)", "map[0-9]|strided_loop|unary|binary"),
         ("reductions", "sum|reduce|mean|var"), ("memcpy/memmove", "memmove|memcpy"), ("memset", "memset"),
         ("page faults / zeroing (kernel)", "page|clear_|fault"), ("OpenMP runtime (libgomp)", "^0x0|gomp|GOMP"),
         ("max pool", "pool"), ("optimizer", "sgd|optim|update")]
totals, top = {}, []
for line in sys.stdin:
    m = re.match(r"\s*([0-9.]+)%\s+\[[.k]\]\s+(.*)", line)
    if not m:
        continue
    share, sym = float(m.group(1)), m.group(2).strip()
    cat = next((c for c, pat in rules if re.search(pat, sym)), "other")
    totals[cat] = totals.get(cat, 0) + share
    top.append((share, sym))
for cat, share in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"{share:6.1f}%  {cat}")
print("-- top functions")
for share, sym in top[:8]:
    print(f"{share:6.1f}%  {sym[:110]}")
'
