"""Analytic infinite-width kernels of net.forward (Arora et al. 2019, §3 eq. (4)-(5) and Thm 3.1, with c_σ = 2).

    Σ_0(x, x') = x·x';  Σ_h = 2 E[relu(u) relu(v)],  Σ̇_h = 2 E[1{u>0} 1{v>0}],  (u, v) ~ N(0, Λ_h),
    Λ_h = [[Σ_{h-1}(x, x), Σ_{h-1}(x, x')], [Σ_{h-1}(x', x), Σ_{h-1}(x', x')]],
    Θ(x, x') = Σ_{h=1}^{L+1} Σ_{h-1}(x, x') Π_{h'=h}^{L+1} Σ̇_{h'}(x, x'),  Σ̇_{L+1} := 1.

The expectations are the arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009): with ρ = cos φ the correlation of
(u, v), 2 E[relu(u) relu(v)] = sqrt(Λ11 Λ22) (sin φ + (π − φ) cos φ) / π and 2 E[1{u>0}1{v>0}] = (π − φ) / π.
With c_σ = 2 the diagonal is preserved, Σ_h(x, x) = |x|², so for unit inputs Σ_h(x, x) = Σ̇_h(x, x) = 1 and
Θ(x, x) = L + 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _arccos_step(cross: Tensor, diag_x: Tensor, diag_z: Tensor) -> tuple[Tensor, Tensor]:
    """One layer: (Σ_h, Σ̇_h) from Σ_{h-1}'s cross block (N, M) and its diagonals (N,), (M,)."""
    norms = torch.sqrt(diag_x[:, None] * diag_z[None, :])
    # clamp: rounding can push |ρ| past 1 (x = x'), where acos is NaN; zero-norm inputs give ρ = 0 (Σ = 0 anyway)
    rho = torch.where(norms > 0, cross / norms.clamp_min(torch.finfo(cross.dtype).tiny), 0.0).clamp(-1.0, 1.0)
    phi = torch.arccos(rho)
    sigma = norms * (torch.sqrt(1.0 - rho**2) + (math.pi - phi) * rho) / math.pi
    sigma_dot = (math.pi - phi) / math.pi
    return sigma, sigma_dot


def analytic_ntk(X: Tensor, Z: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    """(Θ∞(X, Z), Σ_L(X, Z)), each (N, M) in float64, for a net with `depth` = L hidden layers; X (N, d), Z (M, d)."""
    X, Z = X.to(torch.float64), Z.to(torch.float64)
    cross = X @ Z.T
    diag_x, diag_z = (X * X).sum(1), (Z * Z).sum(1)
    theta = cross  # Θ after 0 layers: Σ_0; the recursion Θ_h = Θ_{h-1} Σ̇_h + Σ_h unrolls to the sum above
    for _ in range(depth):
        cross, sigma_dot = _arccos_step(cross, diag_x, diag_z)
        # the diagonals are preserved exactly (ρ = 1 gives Σ_h(x, x) = Σ_{h-1}(x, x)), so diag_x, diag_z stay
        theta = theta * sigma_dot + cross
    return theta, cross
