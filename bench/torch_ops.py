#!/usr/bin/python3
"""torch_ops.py: the workloads of bench_ops.cpp (GEMM, ResNet-20 convolutions) in PyTorch on the CPU.

Same shapes, same FLOP counts, same timing rule (median of --reps after --warmup), same output
(a table, or one JSON object per line with --json), so bench/compare_cpu.sh can pair the rows.
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_ops.py: PyTorch is not installed for this interpreter (try /usr/bin/python3)")

# (in channels, out channels, input height = width, stride): the distinct 3x3, padding-1,
# bias-free convolutions of ResNet-20 on 32x32 CIFAR images.
RESNET20_CONVS = [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 64, 16, 2), (64, 64, 8, 1)]


def make_workloads(batch):
    """Returns [(name, flops, fn)]; each fn computes one workload and returns its result."""
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = [("gemm 1024x1024x1024", 2.0 * n * n * n, lambda: torch.mm(a, b))]
    # torch.mm uses whatever BLAS PyTorch was built with (Debian's: the reference BLAS);
    # oneDNN's GEMM, reached through mkldnn_linear, is the fast CPU GEMM PyTorch also ships.
    if torch.backends.mkldnn.is_available():
        am, btm = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
        out.append(("gemm 1024x1024x1024 [oneDNN linear]", 2.0 * n * n * n,
                    lambda: torch._C._nn.mkldnn_linear(am, btm, None)))
    for c, k, hw, stride in RESNET20_CONVS:
        out_hw = (hw + 2 - 3) // stride + 1
        x, w = torch.randn(batch, c, hw, hw), torch.randn(k, c, 3, 3)
        dy = torch.randn(batch, k, out_hw, out_hw)
        flops = 2.0 * batch * k * out_hw * out_hw * c * 9
        name = f"conv {c}->{k} {hw}x{hw} s{stride}"

        def backward(mask, x=x, w=w, dy=dy, stride=stride):
            return torch.ops.aten.convolution_backward(
                dy, x, w, None, [stride, stride], [1, 1], [1, 1], False, [0, 0], 1, mask)

        out.append((name + " fwd", flops,
                    lambda x=x, w=w, stride=stride: torch.nn.functional.conv2d(x, w, None, stride, 1)))
        out.append((name + " bwd-data", flops, lambda backward=backward: backward([True, False, False])[0]))
        out.append((name + " bwd-weight", flops, lambda backward=backward: backward([False, True, False])[1]))
    return out


def median_seconds(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave as is)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--filter", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.reps < 1 or args.warmup < 0 or args.threads < 0 or args.batch < 1:
        parser.error("--reps and --batch must be >= 1, --warmup and --threads >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    if not args.json:
        print(f"PyTorch {torch.__version__} ops: float32, CPU, {threads} threads, "
              f"median of {args.reps} after {args.warmup} warm-up")
        print(f"{'workload':36s} {'ms':>10s} {'GFLOP/s':>10s}")
    with torch.no_grad():
        for name, flops, fn in make_workloads(args.batch):
            if args.filter not in name:
                continue
            seconds = median_seconds(fn, args.warmup, args.reps)
            gflops = flops / seconds / 1e9
            if args.json:
                print(json.dumps({"impl": "pytorch", "workload": name, "threads": threads,
                                  "ms": round(seconds * 1e3, 4), "gflops": round(gflops, 3)}), flush=True)
            else:
                print(f"{name:36s} {seconds * 1e3:10.3f} {gflops:10.2f}", flush=True)


if __name__ == "__main__":
    main()
