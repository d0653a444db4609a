#!/usr/bin/python3
"""torch_workloads.py: the PyTorch side of bench/cpu_vs_torch.py (one CPU workload, one JSON line).

Same flags, workloads and output as bench/bench_cpu_workloads.cpp:
  train    one SGD-momentum training step (zero_grad, forward, cross-entropy, loss.item(), backward,
           step) of --model (resnet20, vgg16, mlp) at --batch; random N(0,1) inputs, labels i mod 10;
           torch.optim.SGD(lr 0.01, momentum 0.9, weight_decay 5e-4).
  eval     one forward in eval mode under torch.no_grad().
  conv     one ResNet-20 convolution --conv C,K,HW,S (3x3, padding 1, no bias), --direction fwd,
           bwd-data or bwd-weight (aten.convolution_backward with one output mask, as autograd calls it).
  proxgen  one ProxGen-Adam l1/2 step (ALGORITHMS.md §2.2 Adam instance, §1.3 half thresholding)
           written in torch ops, lr 1e-3, lambda 1e-4, over --params resnet20 or a count N. The
           parameters live in two flat buffers (regularised ndim-2/4 weights, the rest), so each step
           is a handful of vectorised ops over all parameters at once, PyTorch's best case.
The model definitions are tests/golden/make_model_keys.py's (same layout as proxima's zoo).
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
from make_model_keys import VGG, CifarResNet, mlp  # noqa: E402


def make_model(name):
    if name == "resnet20":
        return CifarResNet(3), (3, 32)
    if name == "vgg16":
        return VGG("vgg16"), (3, 32)
    if name == "mlp":
        return mlp(784, [1000], 10), (1, 28)
    raise SystemExit(f"torch_workloads.py: --model: got '{name}', expected resnet20, vgg16 or mlp")


def make_batch(shape, batch):
    c, hw = shape
    return torch.randn(batch, c, hw, hw), torch.arange(batch, dtype=torch.int64) % 10


def train_bench(args):
    model, shape = make_model(args.model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = make_batch(shape, args.batch)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if not math.isfinite(loss.item()):
            raise SystemExit("torch_workloads.py: training loss is not finite")
        loss.backward()
        opt.step()
    return f"train {args.model} b{args.batch}", step


def eval_bench(args):
    model, shape = make_model(args.model)
    model.eval()
    x, _ = make_batch(shape, args.batch)

    def step():
        with torch.no_grad():
            model(x)
    return f"eval {args.model} b{args.batch}", step


def conv_bench(args):
    c, k, hw, stride = args.conv
    out_hw = (hw + 2 - 3) // stride + 1
    x, w = torch.randn(args.batch, c, hw, hw), torch.randn(k, c, 3, 3)
    dy = torch.randn(args.batch, k, out_hw, out_hw)

    def backward(mask):
        return torch.ops.aten.convolution_backward(dy, x, w, None, [stride, stride], [1, 1], [1, 1], False,
                                                   [0, 0], 1, mask)
    steps = {"fwd": lambda: F.conv2d(x, w, None, stride, 1),
             "bwd-data": lambda: backward([True, False, False]),
             "bwd-weight": lambda: backward([False, True, False])}
    if args.direction not in steps:
        raise SystemExit(f"torch_workloads.py: --direction: got '{args.direction}', expected fwd, bwd-data or "
                         "bwd-weight")
    return f"conv {c}->{k} {hw}x{hw} s{stride} {args.direction} b{args.batch}", steps[args.direction]


def proxgen_shapes(params):
    if params == "resnet20":
        return [tuple(p.shape) for p in CifarResNet(3).parameters()]
    if not params.isdigit() or int(params) < 1000 or int(params) % 1000:
        raise SystemExit(f"torch_workloads.py: --params: got '{params}', expected resnet20 or a positive "
                         "multiple of 1000")
    return [(int(params) // 1000, 1000)]


class FlatProxGenAdam:
    """ProxGen-Adam with the l1/2 prox on one flat buffer of regularised coordinates and plain
    (bias-corrected) Adam on the other: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    d = sqrt(v)/sqrt(1-b2^k) + delta; z = p - lr/(1-b1^k) m/d; p = P_l12(z; lr lambda/d)."""

    def __init__(self, reg, rest, lr=1e-3, lam=1e-4, b1=0.9, b2=0.999, delta=1e-8):
        self.buffers = [(p, g, torch.zeros_like(p), torch.zeros_like(p), regularised)
                        for p, g, regularised in ((reg[0], reg[1], True), (rest[0], rest[1], False)) if p.numel()]
        self.lr, self.lam, self.b1, self.b2, self.delta, self.k = lr, lam, b1, b2, delta, 0

    def step(self):
        self.k += 1
        c1, c2 = 1 - self.b1 ** self.k, math.sqrt(1 - self.b2 ** self.k)
        for p, g, m, v, regularised in self.buffers:
            m.mul_(self.b1).add_(g, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            d = v.sqrt().div_(c2).add_(self.delta)
            z = p.addcdiv(m, d, value=-self.lr / c1)
            if regularised:
                p.copy_(prox_l12(z, (self.lr * self.lam) / d))
            else:
                p.copy_(z)


def prox_l12(z, t):
    """§1.3: 0 where |z| <= (3/2) t^(2/3); else (4/3) z cos^2(pi/3 - phi/3), phi = arccos((t/4)(|z|/3)^(-3/2)),
    the branch evaluated in float64 (proxima's convention)."""
    a, t = z.abs().double(), t.double()
    keep = a > 1.5 * t.pow(2.0 / 3.0)
    phi = torch.arccos(((t / 4) * (a / 3).pow(-1.5)).clamp_(-1.0, 1.0))
    x = (4.0 / 3.0) * z.double() * torch.cos(math.pi / 3 - phi / 3).square()
    return torch.where(keep, x, torch.zeros((), dtype=torch.float64)).float()


def proxgen_bench(args):
    reg_p, reg_g, rest_p, rest_g = [], [], [], []
    for shape in proxgen_shapes(args.params):
        p, g = torch.randn(shape) * 0.05, torch.randn(shape) * 0.01
        ps, gs = (reg_p, reg_g) if len(shape) in (2, 4) else (rest_p, rest_g)
        ps.append(p.flatten())
        gs.append(g.flatten())
    flat = [torch.cat(t) if t else torch.zeros(0) for t in (reg_p, reg_g, rest_p, rest_g)]
    opt = FlatProxGenAdam(flat[:2], flat[2:])
    return f"proxgen-adam l12 {args.params}", opt.step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="train", choices=["train", "eval", "conv", "proxgen"])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--conv", default="16,16,32,1", help="C,K,HW,S")
    parser.add_argument("--direction", default="fwd")
    parser.add_argument("--params", default="resnet20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.batch < 1 or args.threads < 1 or args.reps < 1 or args.warmup < 0:
        parser.error("--batch, --threads and --reps must be >= 1, --warmup >= 0")
    try:
        args.conv = [int(v) for v in args.conv.split(",")]
        assert len(args.conv) == 4
    except (ValueError, AssertionError):
        parser.error(f"--conv takes C,K,HW,S (4 integers), got '{args.conv}'")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    make = {"train": train_bench, "eval": eval_bench, "conv": conv_bench, "proxgen": proxgen_bench}
    name, step = make[args.workload](args)
    for _ in range(args.warmup):
        step()
    ms = []
    for _ in range(args.reps):
        start = time.perf_counter()
        step()
        ms.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"impl": "pytorch", "name": name, "threads": torch.get_num_threads(), "batch": args.batch,
                      "reps": args.reps, "warmup": args.warmup, "ms_median": statistics.median(ms),
                      "ms_min": min(ms), "ms": ms,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
