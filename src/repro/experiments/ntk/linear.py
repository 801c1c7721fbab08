"""The linearised network and gradient descent in function space (Lee et al. 2019, §2.2).

    f_lin(θ, x) = f(θ_0, x) + J(θ_0, x) (θ − θ_0),  J = ∂f/∂θ.

Full-batch GD on L(θ) = (1/2N) Σ_i (f(θ, x_i) − y_i)² moves θ by −(η/N) J(X)^T (f(X) − y); for the linearised model J is
fixed, so its outputs anywhere obey f_{t+1}(Z) = f_t(Z) − (η/N) Θ̂_0(Z, X) (f_t(X) − y) exactly, with Θ̂_0 = J(Z) J(X)^T.
kernel_gd runs that recursion for any kernel (Θ̂_0, or Θ∞ for the kernel predictor); kernel_regression_inf is its
T → ∞ limit f_0(Z) + Θ(Z, X) Θ(X, X)^{-1} (y − f_0(X)) (a fixed point; reached when 0 < η λ_i / N < 2 for all i).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor
from torch.func import jvp

Fn = Callable[[list[Tensor], Tensor], Tensor]


def linearize(fn: Fn, params0: list[Tensor]) -> Fn:
    """fn_lin(params, x) = fn(params0, x) + J(params0, x)(params − params0), one forward-mode jvp per call (the
    Jacobian is never formed). Differentiable in `params` (the tangent), so torch.func.grad and autograd train it."""
    params0 = [p.detach() for p in params0]

    def fn_lin(params: list[Tensor], x: Tensor) -> Tensor:
        tangents = [p - p0 for p, p0 in zip(params, params0)]
        out, dout = jvp(lambda *ps: fn(list(ps), x), tuple(params0), tuple(tangents))
        return out + dout

    return fn_lin


def kernel_gd(
    theta_xx: Tensor,
    theta_zx: Tensor,
    f0_x: Tensor,
    f0_z: Tensor,
    y: Tensor,
    lr: float | Tensor,
    steps: int,
    record: Iterable[int] = (),
) -> dict[int, tuple[Tensor, Tensor]]:
    """f_{t+1} = f_t − (lr/N) Θ(·, X)(f_t(X) − y) on the training inputs (theta_xx, N × N) and the test inputs
    (theta_zx, M × N), from f_0 = (f0_x, f0_z). Returns {t: (f_t(X), f_t(Z))} in float64 at the steps in `record`
    (those in [0, steps]), always with 0 and `steps`.

    Batched: leading dimensions broadcast (e.g. one kernel per seed, [S, N, N] with f [S, N, K]), and `lr` may be a
    tensor broadcasting against f (e.g. one step size per column K). Both outputs move with the same f_t (one GD step
    on θ does); f_t(Z) = f_0(Z) − Θ(Z, X) Σ_{s<t} (lr/N)(f_s(X) − y), so it is formed only where recorded."""
    d = torch.float64
    kxx, kzx, fx, fz0, y = (t.detach().to(d) for t in (theta_xx, theta_zx, f0_x, f0_z, y))
    wanted = {t for t in record if 0 <= t <= steps} | {0, steps}
    scale = torch.as_tensor(lr, dtype=d, device=kxx.device) / kxx.shape[-1]
    acc = torch.zeros_like(fx * scale)  # Σ_s scale · (f_s(X) − y)
    out = {}
    for t in range(steps + 1):
        if t in wanted:
            out[t] = (fx.clone(), fz0 - kzx @ acc)
        if t == steps:
            break
        step = scale * (fx - y)
        acc = acc + step
        fx = fx - kxx @ step
    return out


def kernel_regression_inf(theta_xx: Tensor, theta_zx: Tensor, f0_x: Tensor, f0_z: Tensor, y: Tensor) -> Tensor:
    """f_∞(Z) = f_0(Z) + Θ(Z, X) Θ(X, X)^{-1} (y − f_0(X)) in float64, by a linear solve (never an explicit inverse)."""
    d = torch.float64
    kxx, kzx, fx, fz, y = (t.detach().to(d) for t in (theta_xx, theta_zx, f0_x, f0_z, y))
    return fz + kzx @ torch.linalg.solve(kxx, y - fx)
