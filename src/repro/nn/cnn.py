"""Nakkiran et al. 2019's family of 5-layer CNNs of width k (arXiv 1912.02292, Appendix B).

Four conv layers, each Conv3x3 (stride 1, padding 1, with bias) - BatchNorm - ReLU - MaxPool, with
widths [k, 2k, 4k, 8k] and max-pool sizes [1, 2, 2, 8], then a fully connected layer from 8k to the
classes. For 32x32 inputs the feature maps are 32, 16, 8, 4 and finally 1x1, so the linear layer sees
8k features. The paper describes it as based on the "backbone" of Page (2018), myrtle.ai's "How to
train your ResNet 4: architecture".

Source for the details: the authors' released code, `make_cnn(c)` in `models/mcnn.py` of
gitlab.com/harvard-machine-learning/double-descent (found via copies in public repositories whose
headers cite that file): no pool after layer 0, MaxPool2d(2) after layers 1-3 and a further
MaxPool2d(4) before flattening, i.e. pools [1, 2, 2, 8]. The paper's own appendix text could not be
retrieved here; its "[1, 2, 2, 8]" and the count below are as recalled and agree with that code.
k=64 gives 1,558,026 parameters for 10 classes (BN affine weights included).
"""

from __future__ import annotations

import torch
from torch import nn

POOLS = (1, 2, 2, 8)


class CNN5(nn.Module):
    def __init__(self, k: int = 64, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.k = k
        layers, c_in = [], in_channels
        for i, pool in enumerate(POOLS):
            c_out = k * 2**i
            layers += [nn.Conv2d(c_in, c_out, 3, stride=1, padding=1, bias=True), nn.BatchNorm2d(c_out), nn.ReLU()]
            if pool > 1:
                layers.append(nn.MaxPool2d(pool))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if h.shape[-2:] != (1, 1):
            raise ValueError(f"CNN5 expects 32x32 inputs (features end 1x1), got input {tuple(x.shape)}")
        return self.linear(h.flatten(1))


MODELS = {"cnn5": CNN5}


def forward_macs(k: int, size: int = 32, num_classes: int = 10, in_channels: int = 3) -> int:
    """Multiply-accumulates of one image's forward pass through the convolutions and the linear layer (as
    `repro.nn.resnet.forward_macs`): each conv runs at the resolution its input has, before its own pool."""
    macs, c_in, side = 0, in_channels, size
    for i, pool in enumerate(POOLS):
        c_out = k * 2**i
        macs += side * side * 9 * c_in * c_out
        side, c_in = side // pool, c_out
    return macs + c_in * num_classes


def make(name: str, k: int, *, num_classes: int = 10, seed: int | None = None) -> nn.Module:
    """The CNN `name` of width `k`. With `seed`, the initial weights depend on that seed only (the
    global torch RNG is left as it was)."""
    if name not in MODELS:
        raise ValueError(f"unknown cnn {name!r}; valid: {', '.join(MODELS)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"cnn width k must be an integer >= 1, got {k!r}")
    if seed is None:
        return MODELS[name](k, num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[name](k, num_classes)
