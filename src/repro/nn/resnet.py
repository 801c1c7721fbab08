"""Pre-activation ResNet18 of width k for 32x32 images, as in Nakkiran et al. 2019 (arXiv 1912.02292).

He et al. 2016, "Identity Mappings in Deep Residual Networks" (arXiv 1603.05027): each block computes
BN-ReLU-conv3x3-BN-ReLU-conv3x3 and adds a shortcut; where the shape changes, the shortcut is a 1x1
conv (stride 2, no bias) applied to the block's pre-activated input. The network is a 3x3 stem conv
(stride 1, no bias), four stages of two blocks with widths [k, 2k, 4k, 8k] and strides [1, 2, 2, 2],
a global average pool and a linear layer to the classes.

This matches the authors' released `make_resnet18k` (Nakkiran et al.'s double-descent code, based on
kuangliu/pytorch-cifar's `preact_resnet.py`), which has no BN-ReLU after the last stage either: the
features reach the pool straight from the last residual sum. k=64 is the standard ResNet18, with
11,171,146 parameters for 10 classes (BN affine weights included, running statistics not).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        out = self.conv1(a)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + skip


class PreActResNet(nn.Module):
    def __init__(
        self, k: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2), num_classes: int = 10, in_channels: int = 3
    ):
        super().__init__()
        self.k = k
        self.stem = nn.Conv2d(in_channels, k, 3, stride=1, padding=1, bias=False)
        layers, c_in = [], k
        for i, n in enumerate(blocks):
            c_out = k * 2**i
            for j in range(n):
                layers.append(PreActBlock(c_in, c_out, stride=2 if (i > 0 and j == 0) else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.linear = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.linear(h.mean(dim=(2, 3)))  # global average pool (4x4 for 32x32 inputs)


MODELS = {"resnet18": (2, 2, 2, 2)}


def forward_macs(
    k: int, blocks: tuple[int, ...] = MODELS["resnet18"], size: int = 32, num_classes: int = 10, in_channels: int = 3
) -> int:
    """Multiply-accumulates of one image's forward pass through the convolutions and the linear layer (BatchNorm,
    ReLU and the pool are a few per activation and left out), counted from the architecture without building it:
    the plan estimates job run times from it without importing torch."""
    macs = size * size * 9 * in_channels * k  # the stem
    c_in = k
    for i, n in enumerate(blocks):
        c_out, side = k * 2**i, size // 2**i
        for j in range(n):
            macs += side * side * 9 * (c_in * c_out + c_out * c_out)  # conv1 (strided into `side`) and conv2
            if c_in != c_out or (i > 0 and j == 0):
                macs += side * side * c_in * c_out  # the 1x1 shortcut
            c_in = c_out
    return macs + c_in * num_classes


def make(name: str, k: int, *, num_classes: int = 10, seed: int | None = None) -> nn.Module:
    """A pre-activation ResNet `name` of width `k` (k=64: standard). With `seed`, the initial weights
    depend on that seed only (the global torch RNG is left as it was)."""
    if name not in MODELS:
        raise ValueError(f"unknown resnet {name!r}; valid: {', '.join(MODELS)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"resnet width k must be an integer >= 1, got {k!r}")
    if seed is None:
        return PreActResNet(k, MODELS[name], num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PreActResNet(k, MODELS[name], num_classes)
