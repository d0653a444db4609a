#!/usr/bin/python3
"""cpu_vs_torch.py: proxima against PyTorch on the CPU, identical workloads, one markdown table.

Every workload runs on each side in its own process (bench/bench_cpu_workloads and
bench/torch_workloads.py: same flags, same JSON line), interleaved proxima, PyTorch, proxima,
PyTorch ... The time of a side is the median of its --reps timed steps (after --warmup), then the
median over --rounds process pairs; its peak RSS is the child's ru_maxrss (os.wait4). The ratio is
proxima throughput / PyTorch throughput (> 1: proxima faster). Thread-scaling rows rerun some
workloads with 1 thread; batch-scaling rows compare ResNet-20 training cost per image across batch
sizes. --epoch adds one whole ResNet-20 epoch on the shared CIFAR-10 folder (train_cifar against
bench/torch_epoch.py). Usually run through bench/cpu_vs_torch.sh, which builds proxima first.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
RESNET20_CONVS = [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 64, 16, 2), (64, 64, 8, 1)]


def workloads(threads):
    """[(label, flags, images per step or 0 for ms rows)] in table order."""
    out = []
    for batch in (32, 128, 256):
        out.append((f"ResNet-20 train step, batch {batch}", dict(workload="train", model="resnet20", batch=batch), batch))
    out.append(("VGG-16 (BN) train step, batch 64", dict(workload="train", model="vgg16", batch=64), 64))
    out.append(("MLP 784-1000-10 train step, batch 128", dict(workload="train", model="mlp", batch=128), 128))
    out.append(("ResNet-20 eval forward, batch 256", dict(workload="eval", model="resnet20", batch=256), 256))
    for c, k, hw, s in RESNET20_CONVS:
        for direction in ("fwd", "bwd-data", "bwd-weight"):
            out.append((f"conv {c}->{k} {hw}x{hw} s{s} {direction}, batch 128",
                        dict(workload="conv", conv=f"{c},{k},{hw},{s}", direction=direction, batch=128), 0))
    out.append(("ProxGen-Adam l1/2 step, ResNet-20 params (0.27M)", dict(workload="proxgen", params="resnet20"), 0))
    out.append(("ProxGen-Adam l1/2 step, 10M params", dict(workload="proxgen", params="10000000"), 0))
    if threads != 1:
        for label, flags, images in list(out[:6]):
            if label.startswith(("ResNet-20 train step, batch 128", "MLP", "ResNet-20 eval")):
                out.append((f"{label}, 1 thread", dict(flags, threads=1), images))
    return out


def run_child(argv, env):
    """Runs argv; returns (stdout, peak RSS in KiB, wall seconds). Exits on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"cpu_vs_torch.py: {' '.join(argv)} failed ({proc.returncode}):\n{stderr}{stdout}")
    return stdout, usage.ru_maxrss, wall


def side_argv(side, flags, args):
    full = dict(threads=args.threads, reps=args.reps, warmup=args.warmup)
    full.update(flags)
    cli = [f"--{k}={v}" for k, v in full.items()]
    if side == "proxima":
        return [os.path.join(args.build_dir, "bench", "bench_cpu_workloads")] + cli
    return [PYTHON, os.path.join(HERE, "torch_workloads.py")] + cli


def child_env(threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def measure(label, flags, args):
    """{side: (median ms, peak RSS KiB, fastest step ms)} over --rounds interleaved process pairs."""
    times, rss, fastest = {"proxima": [], "pytorch": []}, {"proxima": 0, "pytorch": 0}, {}
    env = child_env(flags.get("threads", args.threads))
    for _ in range(args.rounds):
        for side in ("proxima", "pytorch"):
            stdout, maxrss, _ = run_child(side_argv(side, flags, args), env)
            line = json.loads(stdout.strip().splitlines()[-1])
            times[side].append(line["ms_median"])
            rss[side] = max(rss[side], maxrss)
            fastest[side] = min(fastest.get(side, line["ms_min"]), line["ms_min"])
    result = {side: (statistics.median(times[side]), rss[side], fastest[side]) for side in times}
    print(f"  {label}: proxima {result['proxima'][0]:.2f} ms, PyTorch {result['pytorch'][0]:.2f} ms",
          file=sys.stderr, flush=True)
    return result


def epoch_rows(args):
    """Training-loop img/s and whole-process wall seconds of one ResNet-20 epoch, each side."""
    data = os.path.join(ROOT, "datasets", "cifar10-jpg")
    subset = args.epoch_subset
    test_subset = min(10000, max(subset // 5, 256)) if subset else 0
    env = child_env(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        argv = [os.path.join(args.build_dir, "apps", "train_cifar"), "--data", data, "--model", "resnet20",
                "--epochs", "1", "--optimizer", "sgd", "--batch-size", "128", "--augment", "standard",
                "--threads", str(args.threads), "--no-progress", "--out", run_dir, "--seed", "0"]
        if subset:
            argv += ["--train-subset", str(subset), "--test-subset", str(test_subset)]
        _, px_rss, px_wall = run_child(argv, env)
        with open(os.path.join(run_dir, "metrics.csv")) as f:
            header, row = [line.strip().split(",") for line in f.readlines()[:2]]
        px_ips = float(dict(zip(header, row))["images_per_sec"])
    argv = [PYTHON, os.path.join(HERE, "torch_epoch.py"), "--data", data, "--batch", "128", "--threads",
            str(args.threads), "--workers", str(args.workers), "--train-subset", str(subset),
            "--test-subset", str(test_subset)]
    stdout, pt_rss, pt_wall = run_child(argv, env)
    pt = json.loads(stdout.strip().splitlines()[-1])
    what = f"{subset} images" if subset else "50000 images"
    note = (f"PyTorch: {args.workers} DataLoader workers (largest worker peak RSS "
            f"{pt['workers_maxrss_kb'] / 1024:.0f} MiB, not included); test pass on "
            f"{test_subset or 10000} images")
    return [(f"ResNet-20 epoch ({what}, augment, loading incl.): training loop", px_ips, pt["images_per_sec"],
             "img/s", px_rss, pt_rss),
            (f"ResNet-20 epoch ({what}): whole process (decode/setup + epoch + test pass)", px_wall, pt_wall,
             "s", px_rss, pt_rss)], note


def fmt_mib(kib):
    return f"{kib / 1024:.0f} MiB"


def table_rows(results, items):
    """Markdown rows (label, proxima, PyTorch, ratio, RSS, RSS) of the measured workloads."""
    rows = []
    for label, res in results.items():
        (px_ms, px_rss, px_min), (pt_ms, pt_rss, pt_min) = res["proxima"], res["pytorch"]
        n = items[label]
        if n:
            px_cell = f"{n / px_ms * 1e3:.0f} img/s ({px_ms:.1f} ms)"
            pt_cell = f"{n / pt_ms * 1e3:.0f} img/s ({pt_ms:.1f} ms)"
        else:
            px_cell, pt_cell = f"{px_ms:.2f} ms", f"{pt_ms:.2f} ms"
        rows.append(f"| {label} | {px_cell} | {pt_cell} | {pt_ms / px_ms:.2f} | {pt_min / px_min:.2f} | "
                    f"{fmt_mib(px_rss)} | {fmt_mib(pt_rss)} |")
    return rows


def scaling_rows(results, threads):
    """Derived rows: thread speed-up (N threads vs 1) and ResNet-20 training cost per image vs batch 32."""
    rows = []
    for label in list(results):
        one = results.get(f"{label}, 1 thread")
        if one is None:
            continue
        px_gain = one["proxima"][0] / results[label]["proxima"][0]
        pt_gain = one["pytorch"][0] / results[label]["pytorch"][0]
        rows.append(f"| scaling: {label}, speed-up {threads} threads / 1 thread | x{px_gain:.2f} | x{pt_gain:.2f} | "
                    f"{px_gain / pt_gain:.2f} | | | |")
    base = "ResNet-20 train step, batch 32"
    for batch in (128, 256):
        label = f"ResNet-20 train step, batch {batch}"
        if base in results and label in results:
            grow = {s: results[label][s][0] / batch / (results[base][s][0] / 32) for s in ("proxima", "pytorch")}
            rows.append(f"| scaling: ResNet-20 train, time per image at batch {batch} / at batch 32 | "
                        f"x{grow['proxima']:.2f} | x{grow['pytorch']:.2f} | {grow['pytorch'] / grow['proxima']:.2f}"
                        " | | | |")
    return rows


def header(args, load_before, load_after, torch_version):
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    return [f"# CPU: proxima vs PyTorch ({datetime.date.today().isoformat()})", "",
            f"- CPU (`lscpu` model line): {cpu}; {os.cpu_count()} logical CPUs",
            f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; {args.threads} threads on both "
            f"sides (OMP/MKL/OpenBLAS_NUM_THREADS and each side's own setting); float32",
            f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
            f"- PyTorch {torch_version} (Debian python3-torch); each side of each workload in its own process, "
            f"interleaved; median of {args.reps} timed steps after {args.warmup} warm-up, median over "
            f"{args.rounds} round(s); peak RSS = the child's ru_maxrss",
            "- ratio = proxima throughput / PyTorch throughput from the medians (> 1: proxima faster); "
            "ratio of fastest steps: the same from each side's fastest timed step (less sensitive to load); "
            "for scaling rows, the ratio of the two sides' factors (> 1: proxima scales better)",
            "- produced by `" + shlex.join(["bench/cpu_vs_torch.sh"] + sys.argv[1:]) + "`", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5, help="timed steps per process (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per process first")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved process pairs per workload")
    parser.add_argument("--epoch", action="store_true", help="add the whole-epoch rows (minutes)")
    parser.add_argument("--epoch-subset", type=int, default=0, help="epoch on this many training images")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="PyTorch DataLoader workers")
    parser.add_argument("--only", default="", help="only workloads whose label contains this text")
    parser.add_argument("--no-workloads", action="store_true", help="skip the per-step workloads")
    parser.add_argument("--build-dir", default=os.environ.get("PX_BENCH_BUILD_DIR", os.path.join(ROOT, "build-bench")))
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    if min(args.threads, args.reps, args.rounds) < 1 or args.warmup < 0 or args.epoch_subset < 0:
        parser.error("--threads, --reps and --rounds must be >= 1; --warmup and --epoch-subset >= 0")
    args.epoch = args.epoch or args.epoch_subset > 0
    torch_version = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True, check=True).stdout.strip()
    load_before = open("/proc/loadavg").read().split()[:3]
    results, items = {}, {}
    if not args.no_workloads:
        for label, flags, n in workloads(args.threads):
            if args.only in label:
                results[label], items[label] = measure(label, flags, args), n
    rows = table_rows(results, items) + scaling_rows(results, args.threads)
    notes = []
    if args.epoch:
        epoch, note = epoch_rows(args)
        notes.append(note)
        for label, px, pt, unit, px_rss, pt_rss in epoch:
            ratio = px / pt if unit == "img/s" else pt / px
            rows.append(f"| {label} | {px:.{0 if unit == 'img/s' else 1}f} {unit} | "
                        f"{pt:.{0 if unit == 'img/s' else 1}f} {unit} | {ratio:.2f} | | {fmt_mib(px_rss)} | "
                        f"{fmt_mib(pt_rss)} |")
    load_after = open("/proc/loadavg").read().split()[:3]
    lines = header(args, " ".join(load_before), " ".join(load_after), torch_version)
    lines += ["| workload | proxima | PyTorch | ratio | ratio of fastest steps | proxima peak RSS | PyTorch peak RSS |",
              "|---|---:|---:|---:|---:|---:|---:|"] + rows
    lines += [""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
