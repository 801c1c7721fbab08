"""The LISTA family, unrolled ISTA with learned weights, and the layer-wise training schedule.

All four start from ISTA (x_0 = 0, threshold theta = lam / L) and differ in what each layer k learns:

* LISTA (Gregor & LeCun 2010), untied: x_{k+1} = eta_{theta_k}(W1_k y + W2_k x_k), W1 = A^T/L, W2 = I - A^T A/L at init.
* LISTA-CP (Chen et al. 2018), coupled: x_{k+1} = eta_{theta_k}(x_k + W_k^T (y - A x_k)),  W_k = A/L at init.
* LISTA-CPSS: LISTA-CP with support selection: at layer k the p_k% largest entries skip the threshold,
  p_k = min(ss_step * k, ss_max) percent (Chen et al.: 1.2% per layer, at most 13%).
* ALISTA (Liu et al. 2019): x_{k+1} = eta^ss_{theta_k}(x_k - gamma_k W^T (A x_k - y)) with W analytic
  (`lasso.alista_weight`), fixed; only gamma_k and theta_k are learned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from repro.experiments.unrolling.lasso import alista_weight, lipschitz, soft_threshold, support_selected_threshold
from repro.train import adam

METHODS = ("lista", "lista_cp", "lista_cpss", "alista")
LABELS = {"lista": "LISTA", "lista_cp": "LISTA-CP", "lista_cpss": "LISTA-CPSS", "alista": "ALISTA",
          "ista": "ISTA", "fista": "FISTA"}


def _scalars(count: int, value: float, dtype) -> nn.ParameterList:
    """One learned scalar per layer, each its own parameter so that a phase can train one layer alone."""
    return nn.ParameterList([nn.Parameter(torch.tensor(value, dtype=dtype)) for _ in range(count)])


class Unrolled(nn.Module):
    """One member of the LISTA family with `layers` layers for the dictionary `a` [m, n]."""

    def __init__(self, method: str, a: torch.Tensor, layers: int, lam: float, ss_step: float, ss_max: float):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        self.method, self.layers, self.ss_step, self.ss_max = method, layers, ss_step, ss_max
        self.register_buffer("a", a.clone())
        inv_l = 1.0 / lipschitz(a)
        n = a.shape[1]
        if method == "lista":  # y @ w1 and x @ w2 (row vectors): w1 = A/L [m, n], w2 = I - A^T A / L [n, n]
            self.w1 = nn.ParameterList([nn.Parameter(a * inv_l) for _ in range(layers)])
            self.w2 = nn.ParameterList([nn.Parameter(torch.eye(n, dtype=a.dtype) - inv_l * a.T @ a)
                                        for _ in range(layers)])
        elif method in ("lista_cp", "lista_cpss"):
            self.w = nn.ParameterList([nn.Parameter(a * inv_l) for _ in range(layers)])
        else:
            w = alista_weight(a)
            self.register_buffer("w", w)
            inv_l = 1.0 / float(torch.linalg.matrix_norm((w.T @ a).double(), ord=2))
            self.gamma = _scalars(layers, inv_l, a.dtype)
        self.theta = _scalars(layers, lam * inv_l, a.dtype)

    def support_percent(self, k: int) -> float:
        """Support-selection percentage of layer k (0-based); 0 for the methods without it."""
        if self.method not in ("lista_cpss", "alista"):
            return 0.0
        return min(self.ss_step * (k + 1), self.ss_max)

    def layer_params(self, k: int) -> list[nn.Parameter]:
        """What layer k learns."""
        own = {"lista": lambda: [self.w1[k], self.w2[k]], "lista_cp": lambda: [self.w[k]],
               "lista_cpss": lambda: [self.w[k]], "alista": lambda: [self.gamma[k]]}[self.method]()
        return own + [self.theta[k]]

    def forward(self, y: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """The estimate after each of the first `upto` layers (all by default), each [N, n]."""
        x = torch.zeros(y.shape[0], self.a.shape[1], dtype=y.dtype, device=y.device)
        out = []
        for k in range(self.layers if upto is None else upto):
            if self.method == "lista":
                v = y @ self.w1[k] + x @ self.w2[k]
            elif self.method == "alista":
                v = x - self.gamma[k] * ((x @ self.a.T - y) @ self.w)
            else:
                v = x + (y - x @ self.a.T) @ self.w[k]
            p = self.support_percent(k)
            x = support_selected_threshold(v, self.theta[k], p) if p > 0 else soft_threshold(v, self.theta[k])
            out.append(x)
        return out


def train_layerwise(models: Sequence[Unrolled], batch: Callable[[], tuple[torch.Tensor, torch.Tensor]], *,
                    lr: float, decays: Sequence[float], steps: int, train_fn: Callable, label: str,
                    stop_factory: Callable[[int], Callable[[], bool] | None] | None = None,
                    after_stage: Callable[[int], None] | None = None) -> None:
    """The papers' layer-wise schedule, for several models trained side by side (their losses are summed, and
    they share no parameter, so each trains exactly as alone). For layer k = 1..K: train layer k's own
    parameters at `lr` on the loss at layer k's output, then all layers up to k at lr * decay for each decay.
    Each phase runs `steps` steps, or stops early when `stop_factory(k)` returns a stopping rule."""
    layers = models[0].layers
    phases = [(None, lr)] + [(d, lr * d) for d in decays]
    for k in range(1, layers + 1):
        for decay, phase_lr in phases:
            if decay is None:
                params = [p for m in models for p in m.layer_params(k - 1)]
            else:
                params = [p for m in models for j in range(k) for p in m.layer_params(j)]
            def losses(k=k) -> torch.Tensor:
                y, x = batch()
                return torch.stack([((m(y, upto=k)[-1] - x) ** 2).sum(-1).mean() for m in models])

            train_fn(params, losses, steps=steps, optimizer=adam(phase_lr),
                     label=f"{label} layer {k}/{layers} lr {phase_lr:.1e}",
                     model_names=[m.method for m in models],
                     stop=stop_factory(k) if stop_factory is not None else None)
        if after_stage is not None:
            after_stage(k)


def train_end_to_end(models: Sequence[Unrolled], batch: Callable[[], tuple[torch.Tensor, torch.Tensor]], *,
                     lr: float, decays: Sequence[float], steps: int, train_fn: Callable, label: str) -> None:
    """The bounded-budget alternative: all layers at once on the loss at the last layer's output, `steps` steps
    at `lr` and then `steps` more at lr * decay for each decay."""
    params = [p for m in models for p in m.parameters()]

    def losses() -> torch.Tensor:
        y, x = batch()
        return torch.stack([((m(y)[-1] - x) ** 2).sum(-1).mean() for m in models])

    for phase_lr in [lr, *(lr * d for d in decays)]:
        train_fn(params, losses, steps=steps, optimizer=adam(phase_lr),
                 label=f"{label} end to end lr {phase_lr:.1e}", model_names=[m.method for m in models])
