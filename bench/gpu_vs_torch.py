#!/usr/bin/env python3
"""gpu_vs_torch.py: proxima's GPU training steps against PyTorch eager, interleaved, one table.

Runs --rounds rounds of: gpu_bench (proxima, every workload in one process), then
torch_gpu_bench.py (PyTorch, the same workloads, steps and TF32 setting in one process); so the two
sides alternate (proxima, torch, proxima, torch, ...) and a slow drift of the machine hits both.
Then prints a markdown table: per workload the median images/s of each side over the rounds, the
ratio proxima / PyTorch of those medians (> 1: proxima faster), every round's value, and each
side's peak device memory (bytes in use by tensors: memory_stats().peak_bytes and
torch.cuda.max_memory_allocated()). With --optim-bench, runs that program (G3's ProxGen/Adam
optimizer-step benchmark) once at the end and copies its table.

Usage: bench/gpu_vs_torch.py --proxima build/bench/gpu_bench [--python python3] [--rounds 2]
       [--steps 50] [--warmup 10] [--tf32 1] [--workloads resnet20:128,resnet20:512,vgg16:128]
       [--optim-bench build/bench/gpu_optim_bench] [--device cuda:0]
Exit status: 0 when every workload ran on both sides, 1 otherwise.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_side(cmd, timeout):
    """Runs one side; returns its JSON rows (a failed run gives rows with an error)."""
    print("$ " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  timed out after {timeout} s", flush=True)
        return []
    rows = []
    for line in proc.stdout.splitlines():
        print("  " + line, flush=True)
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if proc.returncode != 0:
        print(f"  exit status {proc.returncode}; stderr tail:\n" + "\n".join(
            "  " + s for s in proc.stderr.splitlines()[-15:]), flush=True)
    return rows


def mib(x):
    return f"{x / 2**20:.0f}" if x else "-"


def table(workloads, results):
    lines = ["| workload | proxima img/s | PyTorch img/s | ratio | proxima rounds | PyTorch rounds "
             "| proxima peak MiB | PyTorch peak MiB | proxima host syncs/step |",
             "|---|---:|---:|---:|---|---|---:|---:|---:|"]
    complete = True
    for w in workloads:
        cells = {}
        for impl in ("proxima", "pytorch"):
            rows = [r for r in results if r.get("impl") == impl and r.get("workload") == w]
            good = [r for r in rows if "img_per_s" in r]
            errors = [r["error"] for r in rows if "error" in r]
            cells[impl] = {
                "median": statistics.median([r["img_per_s"] for r in good]) if good else None,
                "rounds": ", ".join(f"{r['img_per_s']:.0f}" for r in good) or ("error: " + errors[0][:80]
                                                                            if errors else "no result"),
                "peak": max((r.get("peak_bytes", 0) for r in good), default=0),
                "syncs": max((r.get("host_syncs_per_step", 0) for r in good), default=None),
            }
            complete = complete and bool(good)
        p, t = cells["proxima"], cells["pytorch"]
        ratio = f"{p['median'] / t['median']:.2f}" if p["median"] and t["median"] else "-"
        fmt = lambda v: f"{v:.0f}" if v else "-"  # noqa: E731
        lines.append(f"| {w} | {fmt(p['median'])} | {fmt(t['median'])} | {ratio} | {p['rounds']} | {t['rounds']} "
                     f"| {mib(p['peak'])} | {mib(t['peak'])} | {p['syncs'] if p['syncs'] is not None else '-'} |")
    return "\n".join(lines), complete


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proxima", required=True, help="the gpu_bench executable")
    ap.add_argument("--python", default=sys.executable, help="python with torch for torch_gpu_bench.py")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--tf32", type=int, default=1)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--workloads", default="resnet20:128,resnet20:512,vgg16:128")
    ap.add_argument("--optim-bench", default="", help="gpu_optim_bench executable (optional)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per side and round")
    args = ap.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    common = ["--workloads", ",".join(workloads), "--steps", str(args.steps), "--warmup", str(args.warmup),
              "--tf32", str(args.tf32), "--device", args.device]
    results = []
    for r in range(args.rounds):
        print(f"== round {r + 1} of {args.rounds}", flush=True)
        results += run_side([args.proxima] + common, args.timeout)
        results += run_side([args.python, os.path.join(HERE, "torch_gpu_bench.py")] + common, args.timeout)
    text, complete = table(workloads, results)
    print(f"\n== training step, float32, TF32 {'on' if args.tf32 else 'off'}, SGD momentum; "
          f"{args.warmup} warm-up + {args.steps} timed steps per round, median of {args.rounds} rounds; "
          "ratio = proxima / PyTorch images/s (> 1: proxima faster)\n")
    print(text, flush=True)
    if args.optim_bench:
        if os.path.exists(args.optim_bench):
            print("\n== optimizer step (ProxGen-Adam and Adam over all parameters; GB/s of the bytes it must move)")
            proc = subprocess.run([args.optim_bench], capture_output=True, text=True, timeout=args.timeout)
            print(proc.stdout + proc.stderr + f"(exit status {proc.returncode})", flush=True)
            complete = complete and proc.returncode == 0
        else:
            print(f"\n== optimizer step: {args.optim_bench} not found, row skipped")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
