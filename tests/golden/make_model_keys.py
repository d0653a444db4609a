#!/usr/bin/python3
"""Reference PyTorch definitions of proxima's model zoo (nn/models/), written from the
descriptions of akamaster/pytorch_resnet_cifar10 (resnet20..110), kuangliu/pytorch-cifar
(resnet18/34, VGG with BatchNorm) and the classic LeNet-5 / MLP. Prints every model's
state_dict (key, shape, dtype) in order and its parameter count to model_keys.txt, and the
forward outputs of deterministically filled models to model_outputs.txt; tests/nn/test_models.cpp
compares the C++ zoo with both.

Run: /usr/bin/python3 tests/golden/make_model_keys.py  (Debian python3-torch, no network)
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- akamaster: CIFAR ResNets with option-A (parameter-free) shortcuts ----
class PadShortcut(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class CifarBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = PadShortcut(planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, n, in_channels=3, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, n, 1)
        self.layer2 = self._stage(32, n, 2)
        self.layer3 = self._stage(64, n, 2)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def _stage(self, planes, n, stride):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(CifarBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)
        return self.linear(out)


# ---- kuangliu: ResNet18/34 with projection shortcuts ----
class Block(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, counts, in_channels=3, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._stage(64, counts[0], 1)
        self.layer2 = self._stage(128, counts[1], 2)
        self.layer3 = self._stage(256, counts[2], 2)
        self.layer4 = self._stage(512, counts[3], 2)
        self.linear = nn.Linear(512, num_classes)

    def _stage(self, planes, n, stride):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(Block(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4).view(out.size(0), -1)
        return self.linear(out)


# ---- kuangliu: VGG with BatchNorm ----
VGG_CFG = {
    'vgg11': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg13': [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
    'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
              512, 512, 512, 512, 'M'],
}


class VGG(nn.Module):
    def __init__(self, name, in_channels=3, num_classes=10):
        super().__init__()
        layers, c = [], in_channels
        for x in VGG_CFG[name]:
            if x == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, x, 3, padding=1), nn.BatchNorm2d(x), nn.ReLU(inplace=True)]
                c = x
        layers.append(nn.AvgPool2d(1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).view(x.size(0), -1))


# ---- PathProx (Yang et al. 2022): VGG without BatchNorm, the factorised MLP ----
VGG_NOBN_BLOCKS = {
    'vgg11': [[64], [128], [256, 256], [512, 512], [512, 512]],
    'vgg13': [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    'vgg16': [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3],
    'vgg19': [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}


class VGGNoBN(nn.Module):
    """Conv(bias) + ReLU per width; MaxPool2d(2) after blocks 1-4, AvgPool2d(2) after block 5."""

    def __init__(self, name, in_channels=3, num_classes=10):
        super().__init__()
        layers, c = [], in_channels
        blocks = VGG_NOBN_BLOCKS[name]
        for b, widths in enumerate(blocks):
            for w in widths:
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True)]
                c = w
            layers.append(nn.MaxPool2d(2, 2) if b + 1 < len(blocks) else nn.AvgPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).view(x.size(0), -1))


def mlp_factorized(in_features, hidden, num_classes):
    """L1 ReLU L2 | L3 ReLU L4 | L5 ReLU fc (L2, L4 linear)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


class LeNet5(nn.Module):
    def __init__(self, in_channels=3, image_size=32, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2 if image_size == 28 else 0)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def mlp(in_features, hidden, num_classes):
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def zoo():
    """(name, spec, model): the same list test_models.cpp builds with make_model."""
    cifar = dict(in_channels=3, num_classes=10)
    out = []
    for depth in (20, 32, 44, 56, 110):
        out.append((f'resnet{depth}', (3, 32, 10), CifarResNet((depth - 2) // 6, **cifar)))
    out.append(('resnet18', (3, 32, 10), ResNet([2, 2, 2, 2], **cifar)))
    out.append(('resnet34', (3, 32, 10), ResNet([3, 4, 6, 3], **cifar)))
    for name in ('vgg11', 'vgg13', 'vgg16', 'vgg19'):
        out.append((name, (3, 32, 10), VGG(name, **cifar)))
    out.append(('lenet5', (3, 32, 10), LeNet5(3, 32, 10)))
    out.append(('lenet5', (1, 28, 10), LeNet5(1, 28, 10)))
    out.append(('mlp', (1, 28, 10), mlp(784, [1000], 10)))
    out.append(('mlp:512,256', (3, 32, 100), mlp(3 * 32 * 32, [512, 256], 100)))
    out.append(('resnet20', (1, 32, 100), CifarResNet(3, in_channels=1, num_classes=100)))
    out.append(('vgg11', (1, 32, 100), VGG('vgg11', in_channels=1, num_classes=100)))
    out.append(('resnet18', (1, 32, 100), ResNet([2, 2, 2, 2], in_channels=1, num_classes=100)))
    out.append(('mlp-factorized', (1, 28, 10), mlp_factorized(784, 400, 10)))
    for name in ('vgg11', 'vgg13', 'vgg16', 'vgg19'):
        out.append((name + '-nobn', (3, 32, 10), VGGNoBN(name, **cifar)))
    return out


def main():
    lines = ['# model_keys.txt: written by make_model_keys.py (PyTorch ' + torch.__version__ + '); do not edit.',
             '# "model NAME C IMAGE CLASSES PARAMS" then one "KEY DTYPE SHAPE" line per state_dict entry, "end".']
    for name, (c, size, classes), model in zoo():
        model.eval()
        with torch.no_grad():
            y = model(torch.zeros(2, c, size, size))
        assert tuple(y.shape) == (2, classes), (name, y.shape)
        params = sum(p.numel() for p in model.parameters())
        lines.append(f'model {name} {c} {size} {classes} {params}')
        for key, t in model.state_dict().items():
            dtype = str(t.dtype).replace('torch.', '')
            lines.append(f'{key} {dtype} [{",".join(str(s) for s in t.shape)}]')
        lines.append('end')
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model_keys.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'wrote {path}')
    write_outputs()


def fill_deterministic(model):
    """Entry k of the state_dict, element i, with s = sin(0.37 k + 1.7 i): conv/linear weights
    s sqrt(6 / fan_in) (fan_in = numel / size(0)), BatchNorm weight 1 + 0.1 s, running_var
    1 + 0.5 |s|, num_batches_tracked 0, everything else 0.1 s. test_models.cpp fills the same way."""
    with torch.no_grad():
        for k, (key, t) in enumerate(model.state_dict().items()):
            i = torch.arange(t.numel(), dtype=torch.float64)
            s = torch.sin(0.37 * k + 1.7 * i)
            if key.endswith('num_batches_tracked'):
                t.zero_()
            elif key.endswith('running_var'):
                t.copy_((1 + 0.5 * s.abs()).view(t.shape))
            elif t.dim() >= 2:
                t.copy_((s * (6.0 / (t.numel() / t.shape[0])) ** 0.5).view(t.shape))
            elif key.endswith('weight'):
                t.copy_((1 + 0.1 * s).view(t.shape))
            else:
                t.copy_((0.1 * s).view(t.shape))


OUTPUT_CASES = [  # (name, in_channels, image_size, classes, reference model)
    ('resnet20', 1, 8, 3, lambda: CifarResNet(3, in_channels=1, num_classes=3)),
    ('resnet18', 1, 32, 3, lambda: ResNet([2, 2, 2, 2], in_channels=1, num_classes=3)),
    ('vgg11', 1, 32, 3, lambda: VGG('vgg11', in_channels=1, num_classes=3)),
    ('lenet5', 1, 28, 3, lambda: LeNet5(1, 28, 3)),
    ('mlp:16,8', 2, 4, 3, lambda: mlp(32, [16, 8], 3)),
]


def write_outputs():
    """Forward outputs of deterministically filled models on x[i] = sin(0.05 i + 1), batch 2, in
    eval and train mode: "NAME C IMAGE CLASSES MODE y0 y1 ..." per line."""
    lines = ['# model_outputs.txt: written by make_model_keys.py; do not edit.']
    for name, c, size, classes, build in OUTPUT_CASES:
        for mode in ('eval', 'train'):
            model = build().double()
            fill_deterministic(model)
            model.train(mode == 'train')
            n = 2 * c * size * size
            x = torch.sin(0.05 * torch.arange(n, dtype=torch.float64) + 1).view(2, c, size, size)
            with torch.no_grad():
                y = model(x).flatten()
            lines.append(f'{name} {c} {size} {classes} {mode} ' + ' '.join(f'{v:.12g}' for v in y.tolist()))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model_outputs.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
