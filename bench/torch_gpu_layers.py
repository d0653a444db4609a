"""PyTorch side of bench/gpu_layers.cpp: the same rows (per-convolution forward, backward-data and
backward-weight ms; the model's forward, forward + backward and full-step ms), same JSON lines.
Usage: python3 bench/torch_gpu_layers.py [--model vgg16|resnet20] [--batch 128] [--reps 5] [--tf32 1]"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
from torch_gpu_bench import make_model  # noqa: E402  (the same model definitions as gpu_bench)


def time_ms(reps, f):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(10):
            f()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1000 / 10)
    return sorted(ms)[len(ms) // 2]


def conv_shapes(model):
    if model == "vgg16":
        cfg = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]
        c, s, shapes = 3, 32, []
        for v in cfg:
            if v == 0:
                s //= 2
                continue
            shapes.append((c, v, s))
            c = v
        return shapes
    return [(3, 16, 32), (16, 16, 32), (32, 32, 16), (64, 64, 8)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tf32", type=int, default=1)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = bool(a.tf32)
    torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
    dev = torch.device("cuda:0")
    total = 0.0
    for cin, cout, s in conv_shapes(a.model):
        x = torch.randn(a.batch, cin, s, s, device=dev)
        w = torch.randn(cout, cin, 3, 3, device=dev)
        gy = torch.randn(a.batch, cout, s, s, device=dev)
        f = time_ms(a.reps, lambda: torch.nn.functional.conv2d(x, w, padding=1))
        conv_bwd = torch.ops.aten.convolution_backward
        bd = time_ms(a.reps, lambda: conv_bwd(gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                              [True, False, False]))
        bw = time_ms(a.reps, lambda: conv_bwd(gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                              [False, True, False]))
        total += f + bd + bw
        print(json.dumps({"impl": "pytorch", "row": f"conv {cin}x{cout} {s}", "fwd_ms": round(f, 4),
                          "bwd_data_ms": round(bd, 4), "bwd_weight_ms": round(bw, 4)}))
    print(json.dumps({"impl": "pytorch", "row": "conv total", "ms": round(total, 4)}))
    x = torch.randn(1, 16, 8, 8, device=dev)
    w = torch.randn(16, 16, 3, 3, device=dev)
    gy = torch.randn(1, 16, 8, 8, device=dev)
    cb = torch.ops.aten.convolution_backward

    def many(f):
        return lambda: [f() for _ in range(10)]
    f = time_ms(a.reps, many(lambda: torch.nn.functional.conv2d(x, w, padding=1))) / 10
    bd = time_ms(a.reps, many(lambda: cb(gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False]))) / 10
    bw = time_ms(a.reps, many(lambda: cb(gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False]))) / 10
    add = time_ms(a.reps, many(lambda: gy + gy)) / 10
    print(json.dumps({"impl": "pytorch", "row": "per-call floor (1x16x8x8 conv)", "fwd_ms": round(f, 4),
                      "bwd_data_ms": round(bd, 4), "bwd_weight_ms": round(bw, 4), "add_ms": round(add, 4)}))
    net = make_model(a.model).to(dev).train()
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.arange(a.batch, device=dev) % 10
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.functional.cross_entropy

    def fwd():
        with torch.no_grad():
            loss_fn(net(x), y)

    def fwd_bwd():
        opt.zero_grad()
        loss_fn(net(x), y).backward()

    def step():
        fwd_bwd()
        opt.step()

    print(json.dumps({"impl": "pytorch", "row": f"model {a.model}:{a.batch}", "forward_ms": round(time_ms(a.reps, fwd), 4),
                      "forward_backward_ms": round(time_ms(a.reps, fwd_bwd), 4), "step_ms": round(time_ms(a.reps, step), 4)}))


if __name__ == "__main__":
    main()
