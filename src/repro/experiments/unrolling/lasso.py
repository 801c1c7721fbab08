"""Sparse recovery: measurements, ISTA and FISTA for the LASSO, NMSE, and ALISTA's analytic weight.

The LASSO is min_x 1/2 ||A x - y||^2 + lam ||x||_1. ISTA (Daubechies et al. 2004) is proximal gradient with step 1/L,
L = ||A||_2^2; FISTA (Beck & Teboulle 2009) adds Nesterov momentum. Both run batched over all test vectors at
once (rows of x and y), on whatever device the tensors live on, for several lam at once (one batch each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def soft_threshold(v: torch.Tensor, theta) -> torch.Tensor:
    """eta_theta(v) = sign(v) max(|v| - theta, 0), the proximal map of theta ||.||_1."""
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0.0)


def support_selected_threshold(v: torch.Tensor, theta, percent: float) -> torch.Tensor:
    """Chen et al. 2018's thresholding with support selection, as the authors' code has it (utils/tf.py,
    `shrink_ss`): an entry passes unchanged (it is trusted to be in the support) when it is among the `percent`%
    largest of its row by magnitude *and* above the threshold; the others are soft-thresholded."""
    k = int(percent / 100.0 * v.shape[-1])
    out = soft_threshold(v, theta)
    if k <= 0:
        return out
    with torch.no_grad():  # which entries pass is not differentiated (the reference's stop_gradient)
        mag = v.abs()
        keep = (mag >= mag.topk(k, dim=-1).values[..., -1:]) & (mag > theta)
    return torch.where(keep, v, out)


def lipschitz(a: torch.Tensor) -> float:
    """L = largest eigenvalue of A^T A = ||A||_2^2."""
    return float(torch.linalg.matrix_norm(a.double(), ord=2) ** 2)


def measure(a: torch.Tensor, x: torch.Tensor, z: torch.Tensor, snr_db: float | None) -> torch.Tensor:
    """y = A x + e. With an SNR, e = sigma_i z_i with sigma_i = ||A x_i|| / sqrt(m) * 10^(-SNR/20): the noise
    energy of each vector is its signal energy over 10^(SNR/10) (in expectation over z). None: noiseless."""
    y = x @ a.T
    if snr_db is None:
        return y
    sigma = y.norm(dim=-1, keepdim=True) / math.sqrt(a.shape[0]) * 10.0 ** (-snr_db / 20.0)
    return y + sigma * z


def nmse_db(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """10 log10(sum ||x_hat - x||^2 / sum ||x||^2) over the whole set: -inf for the exact answer, 0 dB for zero."""
    err = float(((x_hat.double() - x.double()) ** 2).sum())
    ref = float((x.double() ** 2).sum())
    if ref == 0.0:
        raise ValueError("NMSE is undefined for an all-zero reference")
    return -math.inf if err == 0.0 else 10.0 * math.log10(err / ref)


def _run(
    a: torch.Tensor,
    y: torch.Tensor,
    lams: Sequence[float],
    iterations: int,
    record: Sequence[int],
    on_record: Callable[[int, torch.Tensor], bool | None],
    fista: bool,
) -> torch.Tensor:
    """ISTA or FISTA for every lam in `lams` at once: the estimates are [len(lams), N, n]. `on_record(k, x)` runs at
    the iterations in `record`; when it returns True (exactly) the run stops there."""
    inv_l = 1.0 / lipschitz(a)
    lam = torch.tensor(list(lams), dtype=y.dtype, device=y.device).view(-1, 1, 1)
    aty = (y @ a).expand(len(lams), *y.shape[:-1], a.shape[1])
    x = torch.zeros_like(aty)
    z, t = x, 1.0
    wanted = set(record)
    if 0 in wanted:
        on_record(0, x)
    for k in range(1, iterations + 1):
        grad = (z @ a.T) @ a - aty
        x_new = soft_threshold(z - inv_l * grad, lam * inv_l)
        if fista:
            t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            z = x_new + ((t - 1.0) / t_new) * (x_new - x)
            t = t_new
        else:
            z = x_new
        x = x_new
        if k in wanted and on_record(k, x) is True:
            break
    return x


def ista(a, y, lams, iterations, record=(), on_record=lambda k, x: None):
    return _run(a, y, lams, iterations, record, on_record, fista=False)


def fista(a, y, lams, iterations, record=(), on_record=lambda k, x: None):
    return _run(a, y, lams, iterations, record, on_record, fista=True)


def alista_weight(a: torch.Tensor) -> torch.Tensor:
    """ALISTA's analytic weight (Liu et al. 2019, the Frobenius-norm coherence problem):

        W = argmin ||W^T A||_F^2  subject to  w_i^T a_i = 1 for every column i.

    The problem separates over columns; each is min w^T (A A^T) w s.t. w^T a_i = 1, whose solution (Lagrange) is
    w_i = (A A^T)^-1 a_i / (a_i^T (A A^T)^-1 a_i). Computed in float64, returned in A's dtype.
    """
    a64 = a.double()
    g = torch.linalg.solve(a64 @ a64.T, a64)  # (A A^T)^-1 A, [m, n]
    return (g / (g * a64).sum(0, keepdim=True)).to(a.dtype)


def oracle_nmse_db(a: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """NMSE of least squares restricted to each vector's true support (an oracle that knows the support): the
    usual reference for the noise floor of sparse recovery."""
    err = ref = 0.0
    for xi, yi in zip(x.double(), y.double()):
        s = xi.nonzero().flatten()
        est = torch.zeros_like(xi)
        if s.numel():
            est[s] = torch.linalg.lstsq(a.double()[:, s], yi.unsqueeze(1)).solution.flatten()
        err += float(((est - xi) ** 2).sum())
        ref += float((xi**2).sum())
    return -math.inf if err == 0 else 10 * math.log10(err / ref)
