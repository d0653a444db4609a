"""Host time per small CUDA op, proxima against PyTorch (issue 7's per-op overhead question).

Runs bench/gpu_overhead (its JSON rows: the CUDA runtime calls, proxima's tiny ops on CUDA and on
the CPU, one 1M-float add) and times the same tiny ops in PyTorch eager the same way (median over
--reps batches of --calls calls, one synchronisation per batch), then prints one table with the
ratio proxima / PyTorch (above 1: proxima is slower). Exit status: the binary's (77 without a GPU).
Usage: python3 bench/gpu_overhead.py --proxima build-gpu/bench/gpu_overhead [--reps 7] [--calls 2000]
"""
import argparse
import json
import subprocess
import sys
import time

import torch


def time_us(device, reps, calls, f):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(50):
        f()
    sync()
    us = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            f()
        sync()
        us.append((time.perf_counter() - t0) * 1e6 / calls)
    return sorted(us)[len(us) // 2]


def torch_rows(device, reps, calls):
    a, b = torch.ones(16, device=device), torch.ones(16, device=device)
    out = torch.zeros(16, device=device)
    rows = {
        "empty 16 floats": lambda: torch.empty(16, device=device),
        "fill_ 16 floats": lambda: out.fill_(1.0),
        "add 16 floats (new tensor)": lambda: torch.add(a, b),
        "mul 16 floats by a double": lambda: torch.mul(a, 0.5),
        "relu 16 floats": lambda: torch.relu(a),
        "copy_ 16 floats": lambda: out.copy_(a),
    }
    result = {name: time_us(device, reps, calls, f) for name, f in rows.items()}
    if device.type == "cuda":
        big_a, big_b = torch.ones(1 << 20, device=device), torch.ones(1 << 20, device=device)
        result["add 1M floats (new tensor)"] = time_us(device, reps, calls, lambda: torch.add(big_a, big_b))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxima", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    run = subprocess.run([args.proxima, "--reps", str(args.reps), "--calls", str(args.calls)],
                         capture_output=True, text=True)
    sys.stdout.write(run.stdout if run.returncode else "")
    if run.returncode:
        sys.stderr.write(run.stderr)
        return run.returncode
    ours = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    peer = {"proxima cuda": torch_rows(torch.device("cuda"), args.reps, args.calls),
            "proxima cpu": torch_rows(torch.device("cpu"), args.reps, args.calls)}
    print(f"gpu_overhead: host us per call, median of {args.reps} x {args.calls} calls; "
          f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    print(f"{'group':<14} {'row':<30} {'proxima us':>11} {'torch us':>9} {'ratio':>6}")
    for r in ours:
        theirs = peer.get(r["group"], {}).get(r["row"])
        group = r["group"].replace("proxima ", "")
        if theirs is None:
            print(f"{group:<14} {r['row']:<30} {r['us']:>11.2f} {'-':>9} {'-':>6}")
        else:
            print(f"{group:<14} {r['row']:<30} {r['us']:>11.2f} {theirs:>9.2f} {r['us'] / theirs:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
