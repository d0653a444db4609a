#!/usr/bin/env bash
# GPU check and benchmark, one call on a GPU machine: builds proxima with PX_CUDA=ON (or takes
# binaries prebuilt elsewhere), runs the determinism diagnostic FIRST (bench/gpu_determinism, twice:
# two processes, whose weight checksums must agree; its whole output goes into the log, so the first
# call answers that question even if the rest times out), then the GPU test suite, then the
# training-step benchmark against
# PyTorch (bench/gpu_vs_torch.py: gpu_bench and torch_gpu_bench.py interleaved, one table) and the
# optimizer-step benchmark (gpu_optim_bench) and the per-op host overhead against PyTorch
# (bench/gpu_overhead.py), and writes ONE dated log with the device line:
# $OUT/<UTC date>-gpu-check.log when $OUT is set, else bench/results/<UTC date>-gpu-check.log.
#
# PREBUILT MODE (how the lead runs it; nothing is compiled on the GPU machine):
#   1. here:  bench/gpu_check.sh --pack build-g0
#             (builds test_cuda, gpu_bench, gpu_determinism, gpu_optim_bench, and when they build
#             train_cifar and gpu_layers, in build-g0 with -j2, strips them into build-g0/gpu-bin/
#             (about 46 MB) and compresses that into build-g0/gpu-bin.tar.xz (about 4 MB: the
#             binaries share most of their code); build-g0 must be configured with -DPX_CUDA=ON)
#   2. run(command="bench/gpu_check.sh --prebuilt build-g0/gpu-bin.tar.xz",
#          carry=["build-g0/gpu-bin.tar.xz"], timeout_s=600)
#      (--prebuilt takes the folder or the archive, which it unpacks under $TMPDIR; the archive
#       leaves room in the 64 MiB carry for datasets/cifar10-jpg.tar.gz. The log comes back in
#       $OUT; copy it to bench/results/. Quicker variants: --tests 'cuda parity*' to run some
#       tests, --no-bench, --no-tests, --no-det, --rounds 1)
# BUILD MODE (a GPU machine with CUDA, CMake, ninja, and header-only deps in .deps/ from
# bench/pack_deps.sh): bench/gpu_check.sh [build-dir]   (default <repo>/build-gpu). Note: the
# configure step also needs nlohmann-json, zlib and stb, which pack_deps.sh does not carry yet.
# Tested here in prebuilt mode only (2026-11-22, H100).
#
# Options: --pack BUILD | --prebuilt DIR | --tests PATTERN (doctest -tc filter) | --no-tests |
#          --no-det | --no-bench | --rounds N (2) | --steps N (50) | --warmup N (10) | --tf32 0|1 (1) |
#          --accuracy DATA (last: train_cifar --device cuda, ResNet-20 on DATA, a CIFAR-10 image
#          folder or its .tar.gz, e.g. datasets/cifar10-jpg.tar.gz carried beside the archive) |
#          --accuracy-epochs N (40; the recipe of docs/gpu.md) |
#          --budget SECONDS (every step runs under `timeout`, capped at what is left of this many
#          seconds since the script started, so a hang or a slow step cannot eat the run tool's 600 s
#          and the steps after it, and the log still ends with the summary; default 585 with
#          --prebuilt, 0 = no limit in build mode)
# Output is line-buffered (stdbuf, PYTHONUNBUFFERED), so a run killed from outside still leaves every
# line printed so far in the log.
# Exit status: 0 when everything that ran passed, else the first failure's (8: the determinism
# diagnostic found a difference; 5: GPU tests failed; 7: benchmark; 9: the accuracy run; a step
# stopped by --budget counts as its step's failure and its log line says TIMED OUT); the log names it.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-gpu prebuilt="" pack="" tests="" do_tests=1 do_det=1 do_bench=1 rounds=2 steps=50 warmup=10 tf32=1
accuracy="" accuracy_epochs=40 budget=""
while [ $# -gt 0 ]; do
  case $1 in
    --pack) pack=$2; shift ;;
    --prebuilt) prebuilt=$2; shift ;;
    --tests) tests=$2; shift ;;
    --no-tests) do_tests=0 ;;
    --no-det) do_det=0 ;;
    --no-bench) do_bench=0 ;;
    --rounds) rounds=$2; shift ;;
    --steps) steps=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --tf32) tf32=$2; shift ;;
    --accuracy) accuracy=$2; shift ;;
    --accuracy-epochs) accuracy_epochs=$2; shift ;;
    --budget) budget=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$(realpath -m "$1") ;;
  esac
  shift
done

[ -n "$budget" ] || { [ -n "$prebuilt" ] && budget=585 || budget=0; }

# --pack: build and strip the binaries here (no GPU needed), for --prebuilt on the GPU machine.
if [ -n "$pack" ]; then
  pack=$(realpath -m "$pack")
  cmake -S "$root" -B "$pack" >/dev/null || exit 3
  cmake --build "$pack" -j2 --target test_cuda gpu_bench gpu_determinism || exit 4
  rm -rf "$pack/gpu-bin" && mkdir -p "$pack/gpu-bin"
  strip -o "$pack/gpu-bin/test_cuda" "$pack/tests/test_cuda" &&
    strip -o "$pack/gpu-bin/gpu_bench" "$pack/bench/gpu_bench" &&
    strip -o "$pack/gpu-bin/gpu_determinism" "$pack/bench/gpu_determinism" || exit 4
  # optional: the optimizer-step row, training runs, per-layer and per-op timings
  for extra in bench/gpu_optim_bench apps/train_cifar bench/gpu_layers bench/gpu_overhead; do
    if cmake --build "$pack" -j2 --target "$(basename $extra)"; then
      strip -o "$pack/gpu-bin/$(basename $extra)" "$pack/$extra" || exit 4
    else
      echo "$(basename $extra) did not build: packing without it (its step will be skipped)"
    fi
  done
  # the commit, marked "+uncommitted" when the tree built differs from it (the lead re-packs after committing)
  { git -C "$root" rev-parse --short HEAD | tr -d '\n'; git -C "$root" diff --quiet HEAD || printf '+uncommitted'; echo; } \
    > "$pack/gpu-bin/COMMIT" 2>/dev/null
  (cd "$pack" && tar cf - gpu-bin | xz -9 -T2 > gpu-bin.tar.xz) || exit 4
  rel=$(realpath --relative-to="$root" "$pack/gpu-bin.tar.xz")
  echo "packed $(du -sh "$pack/gpu-bin" | cut -f1) in $(dirname "$rel")/gpu-bin, $(du -sh "$pack/gpu-bin.tar.xz" | cut -f1) as $rel; on the GPU machine:"
  echo "  run(command=\"bench/gpu_check.sh --prebuilt $rel\", carry=[\"$rel\"], timeout_s=600)"
  exit 0
fi

# --prebuilt ARCHIVE.tar.xz: unpack it (tar, or Python's tarfile where tar has no xz) and use its gpu-bin/.
if [ -n "$prebuilt" ] && [ -f "$prebuilt" ]; then
  unpacked=${TMPDIR:-/tmp}/px-gpu-bin-$$
  mkdir -p "$unpacked"
  trap 'rm -rf "$unpacked"' EXIT  # ~50 MB unpacked
  tar xJf "$prebuilt" -C "$unpacked" 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' "$prebuilt" "$unpacked" ||
    { echo "gpu_check.sh: cannot unpack $prebuilt" >&2; exit 3; }
  prebuilt=$unpacked/gpu-bin
fi

stamp=$(date -u '+%Y-%m-%d-%H%M')
export PYTHONUNBUFFERED=1  # python's lines reach the log as they are printed (see limited)
log=${OUT:-$root/bench/results}/$stamp-gpu-check.log
det_log=${TMPDIR:-/tmp}/px-gpu-determinism-$$
mkdir -p "$(dirname "$log")"

# cuDNN: in the toolkit, or in a pip wheel (nvidia-cudnn-*, e.g. PyTorch's) that ships only
# libcudnn.so.9: then link a prefix with the unversioned name for find_library.
find_cudnn() {
  [ -n "${CUDNN_ROOT:-}" ] && return
  [ -e /usr/local/cuda/include/cudnn.h ] && return
  local dir lib
  dir=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null) || return
  lib=$(ls "$dir"/lib/libcudnn.so* 2>/dev/null | head -1) || return
  mkdir -p "$build/cudnn/lib"
  ln -sfn "$dir/include" "$build/cudnn/include"
  ln -sf "$lib" "$build/cudnn/lib/libcudnn.so"
  export CUDNN_ROOT=$build/cudnn
  export LD_LIBRARY_PATH=$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

# limited CAP COMMAND...: runs COMMAND line-buffered (stdbuf: its lines reach the log even if it is
# killed) under `timeout`, for at most CAP seconds or what is left of --budget (exit status 124 when
# it runs out). Either tool missing: runs without it.
limited() {
  local cap=$1 left
  shift
  if [ "$budget" -gt 0 ]; then
    left=$((budget - SECONDS))
    [ "$left" -lt "$cap" ] && cap=$left
    if [ "$cap" -le 5 ]; then echo "== not run: the --budget of $budget s is spent ($(basename "$1"))"; return 124; fi
  fi
  local pre=()
  if [ "$budget" -gt 0 ] && command -v timeout >/dev/null; then pre+=(timeout -k 10 "$cap"); fi
  if command -v stdbuf >/dev/null; then pre+=(stdbuf -oL -eL); fi
  ${pre[@]+"${pre[@]}"} "$@"
}

# Libraries (or symbol versions such as GLIBCXX_3.4.30) the packed binaries cannot find: ldd "not found".
missing_libs() {
  local b
  for b in "$@"; do [ -x "$b" ] && ldd "$b" 2>&1 | grep "not found" | sed "s|^|$(basename "$b"): |"; done
}

# Where the device has CUDA, cuBLAS or cuDNN only inside Python wheels (nvidia-*-cu13, PyTorch's
# own lib folder): prepends those lib folders to LD_LIBRARY_PATH. Used only when ldd finds a
# library missing; session 5's H100 needed no help.
add_wheel_libs() {
  local dirs
  dirs=$(python3 - 2>/dev/null <<'PY'
import glob, os
roots = []
try:
    import nvidia
    roots += [os.path.join(p, "*", "lib") for p in nvidia.__path__]
except Exception:
    pass
try:
    import torch
    roots.append(os.path.join(os.path.dirname(torch.__file__), "lib"))
except Exception:
    pass
print(":".join(d for r in roots for d in sorted(glob.glob(r)) if os.path.isdir(d)))
PY
)
  [ -n "$dirs" ] || return 1
  export LD_LIBRARY_PATH=$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "== LD_LIBRARY_PATH += Python wheels' lib folders: $dirs"
}

# Sets bin_test, bin_bench, bin_optim, bin_det: configures and builds, or checks the prebuilt ones.
get_binaries() {
  if [ -n "$prebuilt" ]; then
    local dir
    dir=$(realpath -m "$prebuilt")
    bin_test=$dir/test_cuda bin_bench=$dir/gpu_bench bin_optim=$dir/gpu_optim_bench bin_det=$dir/gpu_determinism
    bin_over=$dir/gpu_overhead bin_train=$dir/train_cifar
    echo "== prebuilt binaries from $dir (packed at commit $(cat "$dir/COMMIT" 2>/dev/null || echo '?')): $(ls "$dir" | tr '\n' ' ')"
    for b in "$bin_test" "$bin_bench"; do
      [ -x "$b" ] || { echo "missing $b (make it with --pack on the build machine)"; return 3; }
    done
    # every packed binary, not only the two required ones: a gpu_determinism or train_cifar that
    # cannot load would otherwise show up as a determinism or accuracy failure
    local all=("$bin_test" "$bin_bench" "$bin_det" "$bin_optim" "$bin_over" "$bin_train") missing
    missing=$(missing_libs "${all[@]}")
    if [ -n "$missing" ]; then
      echo "== missing libraries:"; echo "$missing"
      add_wheel_libs && missing=$(missing_libs "${all[@]}")
      [ -z "$missing" ] && echo "== all libraries found now"
    fi
    if [ -n "$missing" ]; then
      echo "== still missing:"; echo "$missing"
      missing_libs "$bin_test" "$bin_bench" | grep -q . && return 3
      echo "== (only optional binaries are affected: their steps will fail)"
    fi
    return 0
  fi
  [ -d "$root/.deps" ] || { echo "missing $root/.deps: run bench/pack_deps.sh on the build machine and carry .deps"; return 2; }
  export PATH=/usr/local/cuda/bin:$PATH
  find_cudnn
  echo "== nvcc $(nvcc --version | tail -1); cmake $(cmake --version | head -1); CUDNN_ROOT=${CUDNN_ROOT:-toolkit}"
  local start=$SECONDS
  cmake -S "$root" -B "$build" -G Ninja -DPX_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$root/.deps" -DPX_BUILD_APPS=OFF -DPX_BUILD_BENCH=ON || return 3
  cmake --build "$build" --target test_cuda gpu_bench gpu_determinism -j"$(nproc)" || return 4
  # gpu_optim_bench needs CLI11's headers, which .deps does not carry: best effort, as gpu_overhead.
  for extra in gpu_optim_bench gpu_overhead; do
    cmake --build "$build" --target $extra -j"$(nproc)" || echo "== $extra did not build: skipped"
  done
  echo "== configure + build: $((SECONDS - start)) s"
  bin_test=$build/tests/test_cuda bin_bench=$build/bench/gpu_bench bin_optim=$build/bench/gpu_optim_bench
  bin_det=$build/bench/gpu_determinism bin_over=$build/bench/gpu_overhead bin_train=$build/apps/train_cifar
}

# Issue 7's open question first: which op, data path or algorithm choice makes two --deterministic
# runs differ. Two processes: per-op and in-process results (sections A-D), the cuDNN algorithm
# choices (stderr "px conv-algo:" lines) and a weight checksum, which must agree across processes.
run_determinism() {
  local start=$SECONDS status first second
  if [ ! -x "$bin_det" ]; then echo "== determinism: $bin_det missing (repack with --pack): skipped"; return 0; fi
  echo "== determinism diagnostic: $bin_det (run 1 of 2)"
  limited 180 "$bin_det" 2>&1 | tee "$det_log.1"
  status=${PIPESTATUS[0]}
  echo "== determinism run 1: exit status $status in $((SECONDS - start)) s$([ $status -eq 124 ] && echo ' (TIMED OUT)')"
  [ $status -eq 77 ] && { echo "== determinism SKIPPED (no CUDA device visible)"; return 0; }
  [ $status -eq 124 ] && { rm -f "$det_log.1"; return 8; }  # no second run: the budget is for the rest
  echo "== determinism diagnostic, run 2 of 2 (another process; only its summary lines are shown)"
  limited 180 "$bin_det" >"$det_log.2" 2>&1
  echo "== determinism run 2: exit status $? in $((SECONDS - start)) s in all"
  grep -E "^(==|[A-Za-z' ]+:|gpu_determinism)" "$det_log.2" | grep -v "conv-algo"
  first=$(grep '^checksum' "$det_log.1") second=$(grep '^checksum' "$det_log.2")
  if [ -n "$first" ] && [ "$first" = "$second" ]; then
    echo "== determinism across processes: checksums agree ($first)"
  else
    echo "== determinism across processes: checksums DIFFER ('$first' vs '$second')"
    status=1
  fi
  # (compared in bash and grep, not diff: the device image may lack diffutils)
  local algos1 algos2
  algos1=$(grep conv-algo "$det_log.1" | sed 's/[0-9.e+-]*ms\//ms\//g')
  algos2=$(grep conv-algo "$det_log.2" | sed 's/[0-9.e+-]*ms\//ms\//g')
  if [ "$algos1" = "$algos2" ]; then
    echo "== cuDNN algorithm choices: the same in both processes ($(grep -c conv-algo "$det_log.1") lines)"
  else
    echo "== cuDNN algorithm choices DIFFER between the processes; lines of run 2 not in run 1 (times removed):"
    grep -vxF -f <(printf '%s\n' "$algos1") <(printf '%s\n' "$algos2") | head -20
  fi
  echo "== determinism: $((SECONDS - start)) s in all"
  rm -f "$det_log.1" "$det_log.2"
  [ $status -eq 0 ] || return 8
}

run_tests() {
  local start=$SECONDS status
  echo "== GPU test suite: test_cuda ${tests:+-tc='$tests'}"
  if [ -n "$tests" ]; then limited 300 "$bin_test" -tc="$tests"; else limited 300 "$bin_test"; fi
  status=$?
  echo "== GPU tests: exit status $status in $((SECONDS - start)) s$([ $status -eq 124 ] && echo ' (TIMED OUT)')"
  [ $status -eq 77 ] && { echo "== the GPU suite was SKIPPED (no CUDA device visible)"; return 6; }
  [ $status -eq 0 ] || return 5
}

run_bench() {
  echo "== benchmark: $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1)"
  local status=0 start=$SECONDS
  limited 300 python3 "$root/bench/gpu_vs_torch.py" --proxima "$bin_bench" --python python3 --rounds "$rounds" \
    --steps "$steps" --warmup "$warmup" --tf32 "$tf32" --optim-bench "$bin_optim" || status=$?
  echo "== benchmark: exit status $status in $((SECONDS - start)) s$([ $status -eq 124 ] && echo ' (TIMED OUT)')"
  # the host time of one small op, layer by layer, against PyTorch (a diagnostic: its failure is not
  # the check's; it runs even when the training benchmark failed)
  if [ -x "${bin_over:-}" ]; then
    limited 90 python3 "$root/bench/gpu_overhead.py" --proxima "$bin_over" || echo "== gpu_overhead: exit status $?"
  fi
  [ $status -eq 0 ] || return 7
}

# The accuracy of docs/gpu.md's recipe (ResNet-20, 40 epochs, defaults, TF32 on) on the GPU: the
# summary of the run and its last epochs. A failure is reported, not the check's (exit status 9).
run_accuracy() {
  local data=$accuracy out=${TMPDIR:-/tmp}/px-accuracy-$$ start=$SECONDS status
  if [ ! -x "${bin_train:-}" ]; then echo "== accuracy: train_cifar missing (repack with --pack): skipped"; return 0; fi
  if [ -f "$data" ]; then  # a .tar.gz of the image folder: unpack it next to the run
    mkdir -p "$out-data" && tar xzf "$data" -C "$out-data" || { echo "== accuracy: cannot unpack $data"; return 9; }
    data=$(dirname "$(find "$out-data" -maxdepth 3 -type d -name train | head -1)")
  fi
  echo "== accuracy: $bin_train --data $data --model resnet20 --epochs $accuracy_epochs --device cuda --no-progress"
  # every epoch line goes to the log as it is printed (not a tail at the end), so a run stopped by
  # the budget still shows how far it got
  limited 600 "$bin_train" --data "$data" --model resnet20 --epochs "$accuracy_epochs" --device cuda --no-progress \
    --out "$out" 2>&1
  status=$?
  [ -f "$out/summary.json" ] && echo "== accuracy summary: $(tr -d '\n ' < "$out/summary.json")"
  echo "== accuracy: exit status $status in $((SECONDS - start)) s$([ $status -eq 124 ] && echo ' (TIMED OUT: the --budget ran out; the epochs above are what it reached)')"
  rm -rf "$out" "$out-data"
  [ $status -eq 0 ] || return 9
}

run() {
  echo "== proxima GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "== device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo 'nvidia-smi: not available')"
  echo "== host: $(nproc) cores, $(uname -sr)"
  get_binaries || return
  local status=0
  if [ $do_det -eq 1 ]; then run_determinism || status=$?; fi
  if [ $do_tests -eq 1 ]; then run_tests || { rc=$?; [ $status -eq 0 ] && status=$rc; }; fi
  if [ $do_bench -eq 1 ]; then run_bench || { [ $status -eq 0 ] && status=7; }; fi
  if [ -n "$accuracy" ]; then run_accuracy || { [ $status -eq 0 ] && status=9; }; fi
  [ $status -eq 0 ] && echo "== GPU check passed"
  return $status
}

run 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo "== exit status $status (log: $log)" | tee -a "$log"
exit "$status"
