#!/usr/bin/python3
"""torch_epoch.py: one ResNet-20 training epoch on an image-folder CIFAR-10 in PyTorch, data loading
included: the PyTorch counterpart of `train_cifar --model resnet20 --epochs 1 --optimizer sgd`
(bench/cpu_vs_torch.py --epoch).

Per sample, in DataLoader workers: PIL decode, zero padding 4 + random 32x32 crop, random horizontal
flip, /255 and per-channel normalisation (CIFAR-10 statistics). Batches of --batch (shuffled, last
one kept), SGD lr 0.05, momentum 0.9, weight decay 5e-4, cosine lr within the epoch, loss.item()
and the accuracy count per step as train_cifar does; then one evaluation pass over the test images
(batch max(--batch, 256)). Prints one JSON line: training seconds and images/s (the epoch loop,
loader included), evaluation seconds, and peak RSS of this process and of its largest worker.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
from make_model_keys import CifarResNet  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32)[:, None, None]
STD = np.array([0.2470, 0.2435, 0.2616], np.float32)[:, None, None]


def list_images(root):
    """[(path, label)] in sorted class / file order of an image folder root/<class>/*."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    out = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        out += [(os.path.join(folder, f), label) for f in sorted(os.listdir(folder)) if not f.startswith(".")]
    return out


class Folder(torch.utils.data.Dataset):
    def __init__(self, items, augment):
        self.items, self.augment = items, augment

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        with Image.open(path) as image:
            x = np.asarray(image.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)  # CHW
        if self.augment:
            padded = np.zeros((3, 40, 40), np.uint8)
            padded[:, 4:36, 4:36] = x
            top, left = np.random.randint(0, 9, size=2)
            x = padded[:, top:top + 32, left:left + 32]
            if np.random.rand() < 0.5:
                x = x[:, :, ::-1]
        x = (x.astype(np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(np.ascontiguousarray(x)), label


def worker_init(worker_id):
    torch.set_num_threads(1)
    np.random.seed((torch.initial_seed() + worker_id) % 2**32)


def subset(items, n, seed):
    if n <= 0 or n >= len(items):
        return items
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed))[:n]
    return [items[i] for i in order.tolist()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="image folder with train/<class>/ and test/<class>/")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--train-subset", type=int, default=0, help="0 = all")
    parser.add_argument("--test-subset", type=int, default=0, help="0 = all")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = Folder(subset(list_images(os.path.join(args.data, "train")), args.train_subset, args.seed), True)
    test = Folder(subset(list_images(os.path.join(args.data, "test")), args.test_subset, args.seed), False)
    loader_args = dict(num_workers=args.workers, worker_init_fn=worker_init if args.workers else None)
    train_loader = torch.utils.data.DataLoader(train, batch_size=args.batch, shuffle=True, **loader_args)
    test_loader = torch.utils.data.DataLoader(test, batch_size=max(args.batch, 256), shuffle=False, **loader_args)

    model = CifarResNet(3)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    batches = len(train_loader)
    start = time.perf_counter()
    model.train()
    seen = correct = 0
    loss_sum = 0.0
    for b, (x, y) in enumerate(train_loader):
        for group in opt.param_groups:
            group["lr"] = 0.5 * 0.05 * (1 + math.cos(math.pi * b / batches))
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss_sum += loss.item() * len(y)
        loss.backward()
        opt.step()
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(y)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    model.eval()
    test_correct = 0
    with torch.no_grad():
        for x, y in test_loader:
            test_correct += int((model(x).argmax(1) == y).sum())
    eval_seconds = time.perf_counter() - start
    print(json.dumps({"impl": "pytorch", "train_seconds": train_seconds, "train_images": seen,
                      "images_per_sec": seen / train_seconds, "train_loss": loss_sum / seen,
                      "train_acc": correct / seen, "eval_seconds": eval_seconds, "test_images": len(test),
                      "test_acc": test_correct / len(test), "workers": args.workers, "threads": args.threads,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "workers_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))


if __name__ == "__main__":
    main()
