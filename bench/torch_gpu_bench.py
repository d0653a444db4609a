#!/usr/bin/env python3
"""torch_gpu_bench.py: the PyTorch side of bench/gpu_vs_torch.py (GPU training steps, one JSON line
per workload). Same flags, steps and output as bench/gpu_bench.cpp:

A workload "MODEL:BATCH" (resnet20:128, resnet20:512, vgg16:128) times the training step
  opt.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); opt.step()
with torch.optim.SGD(lr 0.01, momentum 0.9, weight_decay 5e-4) (PyTorch's default implementation
on CUDA, the multi-tensor "foreach" one) in float32 eager mode on one fixed device batch
x ~ N(0, 1) [BATCH, 3, 32, 32], labels i mod 10. cudnn.benchmark = True; TF32 for matmul and
cuDNN as --tf32. --warmup untimed steps (the cuDNN benchmark search happens there), then --steps
timed steps with one torch.cuda.synchronize at the end; the loss is read after the timing.
peak_bytes: torch.cuda.max_memory_allocated() since just before the model was built (model,
optimizer state, activations), the counterpart of proxima's memory_stats().peak_bytes.

The models are tests/golden/make_model_keys.py's, the reference definitions proxima's zoo is
tested against (same layers, same order). --device cpu runs on the CPU (a syntax and logic check on
a machine without a GPU; the timing then means nothing). Needs torch (any version >= 1.13).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
from make_model_keys import VGG, CifarResNet  # noqa: E402

DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}


def make_model(name):
    if name in DEPTHS:
        return CifarResNet(DEPTHS[name])
    if name in ("vgg11", "vgg13", "vgg16", "vgg19"):
        return VGG(name)
    raise ValueError(f"unknown model '{name}', expected one of {sorted(DEPTHS)} or vgg11/13/16/19")


def run_workload(args, workload, device):
    model_name, batch = workload.split(":")
    batch = int(batch)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(args.seed)
    model = make_model(model_name).to(device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.arange(batch, dtype=torch.int64, device=device) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - t0
    per_step = seconds / args.steps
    return {
        "model": model_name, "batch": batch, "seconds": seconds, "ms_per_step": per_step * 1e3,
        "img_per_s": batch / per_step, "loss": float(loss.item()),
        "peak_bytes": int(torch.cuda.max_memory_allocated(device)) if cuda else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="resnet20:128,resnet20:512,vgg16:128")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--tf32", type=int, default=1)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = bool(args.tf32)
    torch.backends.cudnn.allow_tf32 = bool(args.tf32)
    failures = 0
    for workload in [w for w in args.workloads.split(",") if w]:
        row = {"impl": "pytorch", "workload": workload, "device": args.device, "tf32": bool(args.tf32),
               "steps": args.steps, "warmup": args.warmup, "torch": torch.__version__,
               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None}
        try:
            row.update(run_workload(args, workload, device))
        except Exception as e:  # report and go on with the next workload, as gpu_bench does
            row["error"] = f"{type(e).__name__}: {e}"
            failures += 1
        print(json.dumps(row), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
