#!/usr/bin/env python3
"""Evaluates a proxima ResNet-20 checkpoint in PyTorch and compares with proxima's own accuracy.

The checkpoint's state dict is loaded (strictly) into the PyTorch definition of ResNet-20 for
CIFAR (akamaster/pytorch_resnet_cifar10 layout, written in tests/golden/make_model_keys.py), the
image-folder test set is decoded with PIL and normalised with the run's recorded mean/std, and
the test accuracy is compared with the last row of the run's metrics.csv. Exit status 1 when
they differ by more than --tolerance percentage points.

usage: /usr/bin/python3 bench/check_resnet20_torch.py RUN_DIR [--data datasets/cifar10-jpg]
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
from make_model_keys import CifarResNet  # noqa: E402
from safetensors_interop import read_file  # noqa: E402


def load_test_images(root, mean, std):
    """Returns (x float32 [N, 3, 32, 32] normalised, y int64 [N]) in sorted class/file order."""
    test = os.path.join(root, "test")
    classes = sorted(d for d in os.listdir(test) if os.path.isdir(os.path.join(test, d)))
    images, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(test, name)
        for file in sorted(os.listdir(folder)):
            if file.startswith("."):
                continue
            with Image.open(os.path.join(folder, file)) as image:
                images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
            labels.append(label)
    x = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    x = (x - np.array(mean, np.float32)[None, :, None, None]) / np.array(std, np.float32)[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(labels, dtype=torch.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--data", default=os.path.join(HERE, "..", "datasets", "cifar10-jpg"))
    parser.add_argument("--tolerance", type=float, default=0.1, help="percentage points")
    args = parser.parse_args()

    run = json.load(open(os.path.join(args.run_dir, "run.json")))
    last = json.load(open(os.path.join(args.run_dir, "checkpoints", "last.json")))
    tensors, _ = read_file(os.path.join(args.run_dir, "checkpoints", last["model"]))
    with open(os.path.join(args.run_dir, "metrics.csv")) as f:
        rows = [r for r in csv.DictReader(f)]
    proxima_acc = float(rows[-1]["test_acc"])
    proxima_acc = proxima_acc * 100 if proxima_acc <= 1.0 else proxima_acc

    torch.set_num_threads(os.cpu_count() or 1)
    model = CifarResNet(3, in_channels=3, num_classes=len(run["dataset"]["classes"]))
    state = {name: torch.from_numpy(np.array(value)) for name, value in tensors}
    model.load_state_dict(state, strict=True)
    model.eval()

    norm = run["normalization"]
    x, y = load_test_images(args.data, norm["mean"], norm["std"])
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), 500):
            logits = model(x[start:start + 500])
            correct += int((logits.argmax(1) == y[start:start + 500]).sum())
    torch_acc = 100.0 * correct / len(y)
    diff = abs(torch_acc - proxima_acc)
    print(f"checkpoint: {last['model']} (epoch {last['epoch']}), {len(y)} test images")
    print(f"PyTorch {torch.__version__} test accuracy: {torch_acc:.2f}%")
    print(f"proxima test accuracy (metrics.csv): {proxima_acc:.2f}%")
    print(f"difference: {diff:.2f} points (tolerance {args.tolerance})")
    return 0 if diff <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
