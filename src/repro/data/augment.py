"""The standard CIFAR augmentation on a whole batch, in torch, driven by an explicit generator.

`random_crop_flip` is torchvision's `RandomCrop(32, padding=4)` followed by `RandomHorizontalFlip()`
(the recipe of He et al. 2016 and of Nakkiran et al. 2019's ResNet/CNN runs), done for a batch at
once: zero padding, a uniform offset in 0..2*padding per image and axis, and a flip with probability
1/2. Crop and flip are one gather, so it costs one indexing pass on any device. Pad raw pixels (uint8
or [0, 1] floats) and normalise afterwards, as torchvision does: zeros are then black pixels.

The random numbers come from `gen` only, in a fixed order (row offsets, column offsets, flips), so the
same seed and batch give the same output. They are drawn on the generator's device and moved to the
batch's device, so a CPU generator gives the same augmentation for a batch on CPU or GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Per-channel statistics of the 50,000 CIFAR-10 training images, pixels scaled to [0, 1] (std over all pixels
# of each channel; `channel_stats` recomputes them). Many codebases use std (0.2023, 0.1994, 0.2010) from
# kuangliu/pytorch-cifar, which reproduces as a mean of per-image stds, not the channel std (kuangliu/pytorch-cifar
# issues 16 and 19; chenyaofo/image-classification-codebase issue 5). With BatchNorm either choice trains.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def random_crop_flip(x: torch.Tensor, gen: torch.Generator, padding: int = 4, flip: bool = True) -> torch.Tensor:
    """Random crop of each image of `x` [N, C, H, W] after zero-padding by `padding`, then a random
    horizontal flip (probability 1/2, if `flip`). Returns a new tensor of the same shape and dtype."""
    if x.ndim != 4:
        raise ValueError(f"expected a batch [N, C, H, W], got shape {tuple(x.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    di, dj, flips = draw_crop_flip(len(x), gen, padding, flip)
    return crop_flip(x, di, dj, flips, padding)


def draw_crop_flip(n: int, gen: torch.Generator, padding: int = 4, flip: bool = True):
    """The random numbers of `random_crop_flip` for n images, from `gen` in its fixed order (row offsets, column
    offsets, flips), on the generator's device: (di, dj, flips or None)."""
    dev = gen.device
    di = torch.randint(0, 2 * padding + 1, (n,), generator=gen, device=dev)
    dj = torch.randint(0, 2 * padding + 1, (n,), generator=gen, device=dev)
    flips = torch.rand(n, generator=gen, device=dev) < 0.5 if flip else None
    return di, dj, flips


def crop_flip(
    x: torch.Tensor, di: torch.Tensor, dj: torch.Tensor, flips: torch.Tensor | None, padding: int = 4
) -> torch.Tensor:
    """Crop image i of `x` [N, C, H, W] at offsets (di[i], dj[i]) of its zero-padded copy, flipped where flips[i]:
    one gather for the whole batch."""
    n, c, h, w = x.shape
    di, dj = di.to(x.device), dj.to(x.device)
    xp = F.pad(x, (padding, padding, padding, padding)) if padding else x
    rows = di[:, None] + torch.arange(h, device=x.device)  # [N, H]
    cols = torch.arange(w, device=x.device).expand(n, w)
    if flips is not None:
        cols = torch.where(flips.to(x.device)[:, None], cols.flip(1), cols)
    cols = dj[:, None] + cols  # [N, W]
    idx_n = torch.arange(n, device=x.device)[:, None, None, None]
    idx_c = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels in 0..255 -> float32 in [0, 1]; float input is returned unchanged."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def normalize(x: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """(x - mean) / std per channel, for x [N, C, H, W] in [0, 1] (uint8 is scaled first)."""
    x = to_float(x)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of a batch [N, C, H, W] (uint8 scaled to [0, 1]), e.g. to
    recompute CIFAR10_MEAN/CIFAR10_STD from the training set."""
    x = to_float(x).double().transpose(0, 1).reshape(x.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1, unbiased=False).tolist())
