#!/usr/bin/python3
"""The PyTorch peer of issue 4's Fashion-MNIST check: ProxGen-Adam written from ALGORITHMS.md.

Same setting as `train_cifar --model mlp --epochs 3 --optimizer proxgen --reg R --seed S`:
MLP 784-1000-10 (PyTorch's default Linear init), inputs normalised with the training set's mean
and standard deviation, batch 128 reshuffled every epoch, lr 1e-3, betas (0.9, 0.999), delta 1e-8,
lambda on the Linear weights only (biases take the plain Adam step), test accuracy after the last
epoch, exact zeros over the regularised weights. It prints, per seed, the accuracy of the
unregularised run and each regulariser's accuracy, its difference to that run and its sparsity,
so that the seed-to-seed spread of the criterion "within X points of the unregularised run" can be
compared with proxima's (docs/proximal.md).

The step (ALGORITHMS.md section 2.2, ProxGen Algorithm 1 with the Adam preconditioner):
  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
  d = sqrt(v) / sqrt(1 - b2^k) + delta;  z = p - lr m / ((1 - b1^k) d);  t = lr lambda / d
  p = P(z; t),  P(z; t) = argmin_x t r(x) + (x - z)^2 / 2.

Usage: /usr/bin/python3 bench/fmnist_prox_torch.py [--seeds 0,1,2,3,4] [--regs l0,l12,l1]
       [--data /usr/share/datasets/fashion-mnist] [--threads 2]
A peer and an oracle, never a dependency: nothing in the build or the tests runs it.
"""
import argparse
import gzip
import math
import os
import struct
import time

import torch

DEFAULT_LAMBDA = {"l1": 1e-4, "l0": 3e-4, "l12": 3e-5}  # train_cifar's defaults


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(folder):
    def pair(prefix):
        x = read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz")).float().div_(255).reshape(-1, 784)
        y = read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz")).long()
        return x, y
    xtr, ytr = pair("train")
    xte, yte = pair("t10k")
    mean, std = xtr.mean().item(), xtr.std(unbiased=False).item()
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def prox(reg, z, t):
    a = z.abs()
    if reg == "l1":
        return torch.sign(z) * torch.clamp(a - t, min=0)
    if reg == "l0":
        return torch.where(0.5 * z * z > t, z, torch.zeros_like(z))
    if reg == "l12":  # half thresholding (Xu et al. 2012), in double as ALGORITHMS.md asks
        zd, td, ad = z.double(), t.double(), a.double()
        active = ad ** 3 > 3.375 * td * td
        phi = torch.arccos(torch.clamp((td / 4) * (ad.clamp(min=1e-300) / 3) ** -1.5, -1, 1))
        x = (2.0 / 3.0) * zd * (1 + torch.cos(2 * math.pi / 3 - (2.0 / 3.0) * phi))
        return torch.where(active, x, torch.zeros_like(x)).to(z.dtype)
    raise ValueError(reg)


def check_prox():
    # brute-force 1-D oracle for the closed forms above
    grid = torch.linspace(-3, 3, 600001, dtype=torch.float64)
    for reg, r in (("l1", grid.abs()), ("l0", (grid.abs() > 1e-9).double()), ("l12", grid.abs().sqrt())):
        for z in (-2.1, -0.7, 0.3, 0.9, 1.7):
            for t in (0.05, 0.3, 0.8):
                best = grid[torch.argmin(t * r + 0.5 * (grid - z) ** 2)].item()
                got = prox(reg, torch.tensor([z], dtype=torch.float64), torch.tensor([t], dtype=torch.float64)).item()
                assert abs(got - best) < 2e-5, (reg, z, t, got, best)


def run(reg, lam, seed, data, lr=1e-3, b1=0.9, b2=0.999, delta=1e-8, epochs=3, batch=128):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    params = list(model.parameters())
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    regularised = [p.dim() > 1 for p in params]
    gen = torch.Generator().manual_seed(seed)
    k = 0
    for _ in range(epochs):
        order = torch.randperm(xtr.shape[0], generator=gen)
        for i in range(0, xtr.shape[0], batch):
            idx = order[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            model.zero_grad(set_to_none=True)
            loss.backward()
            k += 1
            with torch.no_grad():
                for p, (m, v), is_reg in zip(params, state, regularised):
                    g = p.grad
                    m.mul_(b1).add_(g, alpha=1 - b1)
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    d = v.sqrt() / math.sqrt(1 - b2 ** k) + delta
                    z = p - lr * m / ((1 - b1 ** k) * d)
                    p.copy_(prox(reg, z, lr * lam / d) if (is_reg and lam > 0) else z)
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
        weights = [p for p, r in zip(params, regularised) if r]
        zeros = sum(int((p == 0).sum()) for p in weights) / sum(p.numel() for p in weights)
    return acc, zeros


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--regs", default="l0,l12,l1")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    check_prox()
    data = load(args.data)
    regs = args.regs.split(",")
    print(f"torch {torch.__version__}, {args.threads} threads; MLP 784-1000-10, 3 epochs, ProxGen-Adam lr 1e-3")
    print("| seed | none | " + " | ".join(f"{r} (lambda {DEFAULT_LAMBDA[r]:g})" for r in regs) + " |")
    print("|---" * (2 + len(regs)) + "|")
    diffs = {r: [] for r in regs}
    for s in (int(x) for x in args.seeds.split(",")):
        t0 = time.time()
        dense, _ = run("none", 0.0, s, data)
        cells = []
        for r in regs:
            acc, zeros = run(r, DEFAULT_LAMBDA[r], s, data)
            diffs[r].append(100 * (acc - dense))
            cells.append(f"{100 * acc:.2f} ({100 * (acc - dense):+.2f}), {100 * zeros:.1f}% zeros")
        print(f"| {s} | {100 * dense:.2f} | " + " | ".join(cells) + f" |  ({time.time() - t0:.0f} s)", flush=True)
    print("| mean difference | | " + " | ".join(f"{sum(d) / len(d):+.2f} (worst {min(d):+.2f})" for d in diffs.values()) + " |")


if __name__ == "__main__":
    main()
