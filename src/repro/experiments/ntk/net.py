"""The spec's network, in functional form: a bias-free ReLU MLP in the NTK parameterisation of Arora et al. 2019 (§3,
c_σ = 2), with a scalar output.

    g_0 = x;  f_h = W_h g_{h-1};  g_h = sqrt(2 / d_h) relu(f_h)  (h = 1..L);  f(x) = W_{L+1} g_L,  all W ~ N(0, 1).

The scaling sits in the activations, not the weights, so every parameter is O(1) and the empirical NTK converges to
Θ∞ (kernels.analytic_ntk) as the width grows. Parameters are a plain list of tensors, so torch.func can differentiate
with respect to any one of them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def init_params(
    d_in: int, widths: list[int], generator: torch.Generator, dtype: torch.dtype = torch.float32, device=None
) -> list[Tensor]:
    """[W_1 (widths[0], d_in), ..., W_L, W_{L+1} (1, widths[-1])], entries iid N(0, 1), drawn in that order."""
    shapes = list(zip(widths, [d_in, *widths[:-1]])) + [(1, widths[-1])]
    return [torch.randn(shape, generator=generator, dtype=dtype, device=device) for shape in shapes]


def features(params: list[Tensor], x: Tensor) -> Tensor:
    """g_L(x), shape (N, d_L): the last hidden layer. E[f(x) f(x') | W_1..W_L] = g_L(x)·g_L(x') → Σ_L(x, x')."""
    g = x
    for w in params[:-1]:
        g = math.sqrt(2.0 / w.shape[0]) * torch.relu(g @ w.T)
    return g


def forward(params: list[Tensor], x: Tensor) -> Tensor:
    """f(x), shape (N,), for x of shape (N, d_in)."""
    return (features(params, x) @ params[-1].T).squeeze(-1)
