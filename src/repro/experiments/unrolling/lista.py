"""The LISTA family, unrolled ISTA with learned weights, and its two training schedules.

All four start from ISTA (x_0 = 0, threshold theta = lam / L, L = ||A||_2^2) and differ in what each layer k learns:

* LISTA (Gregor & LeCun 2010), untied: x_{k+1} = eta_{theta_k}(W1_k y + W2_k x_k), W1 = A^T/L, W2 = I - A^T A/L at init.
* LISTA-CP (Chen et al. 2018), coupled: x_{k+1} = eta_{theta_k}(x_k + W_k^T (y - A x_k)),  W_k = A/L at init.
* LISTA-CPSS: LISTA-CP with support selection (`lasso.support_selected_threshold`) at p_k = min(ss_step * k, ss_max)
  percent (Chen et al.: 1.2% per layer, at most 13%).
* ALISTA (Liu et al. 2019): x_{k+1} = eta^ss_{theta_k}(x_k - gamma_k W^T (A x_k - y)) with W analytic
  (`lasso.alista_weight`), fixed; only gamma_k and theta_k are learned. The authors' code (VITA-Group/ALISTA,
  models/ALISTA.py) starts gamma_k at 1.0 and theta_k at lam / L, as every other member.

Schedules (`train_layerwise`, the papers'; `train_greedy`, the bounded budget) train several models side by side:
their losses are summed and they share no parameter, so each trains exactly as alone. Matrices and learned scalars
(thresholds, step sizes) sit in separate parameter groups, each with its own learning rate (`param_groups`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from repro.experiments.unrolling.lasso import alista_weight, lipschitz, soft_threshold, support_selected_threshold
from repro.train import adam

METHODS = ("lista", "lista_cp", "lista_cpss", "alista")
LABELS = {
    "lista": "LISTA",
    "lista_cp": "LISTA-CP",
    "lista_cpss": "LISTA-CPSS",
    "alista": "ALISTA",
    "ista": "ISTA",
    "fista": "FISTA",
}


def _scalars(count: int, value: float, dtype) -> nn.ParameterList:
    """One learned scalar per layer, each its own parameter so that a phase can train one layer alone."""
    return nn.ParameterList([nn.Parameter(torch.tensor(value, dtype=dtype)) for _ in range(count)])


INITS = ("ista", "alista")


class Unrolled(nn.Module):
    """One member of the LISTA family with `layers` layers for the dictionary `a` [m, n].

    `alista_step` is ALISTA's initial gamma. `init` is where the learned matrices of LISTA, LISTA-CP and LISTA-CPSS
    start: "ista" (the papers': every layer is an ISTA step, step 1/L), or "alista" (a warm start: every layer is
    ALISTA's initial layer, the analytic W at step `alista_step`). `weight` replaces the analytic W (tests: with
    W = A, ALISTA is ISTA)."""

    def __init__(
        self,
        method: str,
        a: torch.Tensor,
        layers: int,
        lam: float,
        ss_step: float,
        ss_max: float,
        alista_step: float = 1.0,
        init: str = "ista",
        weight: torch.Tensor | None = None,
    ):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
        self.method, self.layers, self.ss_step, self.ss_max = method, layers, ss_step, ss_max
        self.register_buffer("a", a.clone())
        inv_l = 1.0 / lipschitz(a)
        n = a.shape[1]
        needs_w = method == "alista" or init == "alista"
        w = (alista_weight(a) if weight is None else weight).to(a.dtype) if needs_w else None
        # The layer x -> x + (y - x A^T) B with B [m, n]: ISTA's B = A / L, ALISTA's gamma W.
        b = a * inv_l if init == "ista" else alista_step * w
        if method == "lista":  # y @ w1 + x @ w2 (row vectors): w1 = B [m, n], w2 = I - A^T B [n, n]
            self.w1 = nn.ParameterList([nn.Parameter(b.clone()) for _ in range(layers)])
            self.w2 = nn.ParameterList([nn.Parameter(torch.eye(n, dtype=a.dtype) - a.T @ b) for _ in range(layers)])
        elif method in ("lista_cp", "lista_cpss"):
            self.w = nn.ParameterList([nn.Parameter(b.clone()) for _ in range(layers)])
        else:
            self.register_buffer("w", w)
            self.gamma = _scalars(layers, alista_step, a.dtype)
        self.theta = _scalars(layers, lam * inv_l, a.dtype)

    def support_percent(self, k: int) -> float:
        """Support-selection percentage of layer k (0-based); 0 for the methods without it."""
        if self.method not in ("lista_cpss", "alista"):
            return 0.0
        return min(self.ss_step * (k + 1), self.ss_max)

    def layer_params(self, k: int) -> list[nn.Parameter]:
        """What layer k learns."""
        own = {
            "lista": lambda: [self.w1[k], self.w2[k]],
            "lista_cp": lambda: [self.w[k]],
            "lista_cpss": lambda: [self.w[k]],
            "alista": lambda: [self.gamma[k]],
        }[self.method]()
        return own + [self.theta[k]]

    def layer(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Layer k (0-based): x_{k+1} from x_k and the measurements y (rows)."""
        if self.method == "lista":
            v = y @ self.w1[k] + x @ self.w2[k]
        elif self.method == "alista":
            v = x - self.gamma[k] * ((x @ self.a.T - y) @ self.w)
        else:
            v = x + (y - x @ self.a.T) @ self.w[k]
        p = self.support_percent(k)
        return support_selected_threshold(v, self.theta[k], p) if p > 0 else soft_threshold(v, self.theta[k])

    def forward(self, y: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """The estimate after each of the first `upto` layers (all by default), each [N, n]."""
        x = torch.zeros(y.shape[0], self.a.shape[1], dtype=y.dtype, device=y.device)
        out = []
        for k in range(self.layers if upto is None else upto):
            x = self.layer(k, x, y)
            out.append(x)
        return out


ADAM_EPS = 1e-8  # torch's and TensorFlow's default


def param_groups(
    params: Sequence[nn.Parameter],
    lr: float,
    scalar_lr: float,
    multiplier: dict[int, float] | None = None,
    grad_multiplier: dict[int, float] | None = None,
) -> list[dict]:
    """Adam parameter groups: matrices at `lr`, learned scalars (0-d: thresholds, step sizes) at `scalar_lr`, each
    times its parameter's `multiplier` (keyed by id; default 1). `grad_multiplier` scales a parameter's gradient
    instead, as the authors' get_train_op does: under Adam, a gradient times c moves m by c and sqrt(v) by c, so the
    step is the same with eps / c in place of eps, which is how it is applied (exactly)."""
    groups: dict[tuple[bool, float, float], list] = {}
    for p in params:
        mult = 1.0 if multiplier is None else multiplier.get(id(p), 1.0)
        gmult = 1.0 if grad_multiplier is None else grad_multiplier.get(id(p), 1.0)
        groups.setdefault((p.dim() == 0, mult, gmult), []).append(p)
    return [
        {"params": ps, "lr": (scalar_lr if scalar else lr) * mult, "eps": ADAM_EPS / gmult}
        for (scalar, mult, gmult), ps in groups.items()
    ]


def grouped_adam(
    lr: float,
    scalar_lr: float,
    multiplier: dict[int, float] | None = None,
    grad_multiplier: dict[int, float] | None = None,
) -> Callable:
    """An optimizer factory for `repro.train.train` that splits its parameters into `param_groups`."""
    return lambda params: adam(lr, eps=ADAM_EPS)(param_groups(list(params), lr, scalar_lr, multiplier, grad_multiplier))


def _phases(decays: Sequence[float]) -> list[tuple[str, float]]:
    return [("new", 1.0)] + [(f"× {d:g}", d) for d in decays]


def method_multipliers(models: Sequence[Unrolled], lr: float, method_lr: dict[str, float]) -> dict[int, float]:
    """{id(matrix): method_lr[method] / lr} for the methods with their own matrix learning rate."""
    return {
        id(p): method_lr[m.method] / lr for m in models if m.method in method_lr for p in m.parameters() if p.dim() > 0
    }


def train_layerwise(
    models: Sequence[Unrolled],
    batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    *,
    lr: float,
    scalar_lr: float,
    decays: Sequence[float],
    decay_rate: float,
    steps: int,
    train_fn: Callable,
    label: str,
    method_lr: dict[str, float] | None = None,
    stop_factory: Callable[[int], Callable[[], bool] | None] | None = None,
    after_stage: Callable[[int], None] | None = None,
) -> None:
    """The papers' layer-wise schedule (Chen et al. 2018; the authors' utils/train.py). For layer k = 1..K, on the
    loss at layer k's output with fresh batches: train layer k's new parameters at `lr` (scalars at `scalar_lr`),
    then all layers up to k at lr * decay for each decay, where the gradients of layer j carry a multiplier
    decay_rate^(k - j): the reference shrinks a trained variable's multiplier × decay_rate after every layer and
    multiplies its gradient by it (utils/train.py, get_train_op), which under Adam changes the step only through
    eps (see `param_groups`), so the trained layers move at nearly the stage's full rate, as in the reference. Each
    phase runs `steps` steps, or stops early when `stop_factory(k)` returns a stopping rule. `method_lr` gives a
    method's matrices their own rate in place of `lr` (none by default, as in the papers)."""
    layers = models[0].layers
    own = method_multipliers(models, lr, method_lr or {})
    for k in range(1, layers + 1):
        shrink = {id(p): decay_rate ** (k - 1 - j) for m in models for j in range(k) for p in m.layer_params(j)}
        for name, decay in _phases(decays):
            if name == "new":
                params, opt = [p for m in models for p in m.layer_params(k - 1)], grouped_adam(lr, scalar_lr, own)
            else:
                params = [p for m in models for j in range(k) for p in m.layer_params(j)]
                opt = grouped_adam(lr * decay, scalar_lr * decay, own, shrink)

            def losses(k=k) -> torch.Tensor:
                y, x = batch()
                return torch.stack([((m(y, upto=k)[-1] - x) ** 2).sum(-1).mean() for m in models])

            train_fn(
                params,
                losses,
                steps=steps,
                optimizer=opt,
                label=f"{label} layer {k}/{layers} {name}",
                model_names=[m.method for m in models],
                stop=stop_factory(k) if stop_factory is not None else None,
            )
        if after_stage is not None:
            after_stage(k)


def layer_loss(
    models: Sequence[Unrolled], k: int, inputs: Sequence[torch.Tensor], y: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Each model's loss at layer k's output (0-based) from its cached input `inputs[i]` (the output of its frozen
    layers 0..k-1 on the same rows): mean over rows of the squared error, one entry per model."""
    return torch.stack([((m.layer(k, inp, y) - x) ** 2).sum(-1).mean() for m, inp in zip(models, inputs)])


def train_greedy(
    models: Sequence[Unrolled],
    pool: tuple[torch.Tensor, torch.Tensor],
    draw: Callable[[], torch.Tensor],
    *,
    lr: float,
    scalar_lr: float,
    decays: Sequence[float],
    steps: int,
    finish_steps: int,
    finish_lr: float,
    train_fn: Callable,
    label: str,
    method_lr: dict[str, float] | None = None,
    after_stage: Callable[[int], None] | None = None,
) -> None:
    """The bounded budget: greedy layer by layer on a fixed training pool, then a short end-to-end finish.

    `pool` is (y, x) of the training pool; `draw()` returns the row indices of a minibatch. For layer k = 1..K the
    output of the frozen layers 1..k-1 on the whole pool is cached once, so a step computes one layer, not k: layer
    k's parameters train on the loss at its output, `steps` steps at `lr` (scalars at `scalar_lr`) and `steps` more
    at each lr * decay. The finish trains every parameter for `finish_steps` steps on the sum over layers of the
    per-layer losses (every layer stays supervised), at finish_lr (scalars at finish_lr * scalar_lr / lr).
    `method_lr` gives a method's matrices their own rate in place of `lr` (the finish scales it alike)."""
    start = time.perf_counter()
    y_pool, x_pool = pool
    own = method_multipliers(models, lr, method_lr or {})
    layers = models[0].layers
    cache = {"layer": 0, "inputs": [torch.zeros_like(x_pool) for _ in models]}  # inputs of layer cache["layer"]

    def inputs(k: int) -> list[torch.Tensor]:
        """The cached input of layer k (0-based) on the pool, from the frozen layers before it. Built lazily, inside
        a training step: after a resume (repro.checkpoint restores the models when the resumed call starts) the
        cache is rebuilt from the restored layers."""
        if cache["layer"] != k:
            with torch.no_grad():
                if cache["layer"] == k - 1:
                    cache["inputs"] = [m.layer(k - 1, inp, y_pool) for m, inp in zip(models, cache["inputs"])]
                else:
                    cache["inputs"] = [m(y_pool, upto=k)[-1] for m in models]
            cache["layer"] = k
        return cache["inputs"]

    for k in range(layers):
        params = [p for m in models for p in m.layer_params(k)]
        for name, decay in _phases(decays):

            def losses(k=k) -> torch.Tensor:
                idx = draw()
                return layer_loss(models, k, [inp[idx] for inp in inputs(k)], y_pool[idx], x_pool[idx])

            train_fn(
                params,
                losses,
                steps=steps,
                optimizer=grouped_adam(lr * decay, scalar_lr * decay, own),
                label=f"{label} layer {k + 1}/{layers} {name}",
                model_names=[m.method for m in models],
            )
        if after_stage is not None:
            after_stage(k + 1)
    if finish_steps <= 0:
        return

    def summed() -> torch.Tensor:
        idx = draw()
        y, x = y_pool[idx], x_pool[idx]
        return torch.stack([sum(((xk - x) ** 2).sum(-1).mean() for xk in m(y)) for m in models])

    t0 = time.perf_counter()
    train_fn(
        [p for m in models for p in m.parameters()],
        summed,
        steps=finish_steps,
        optimizer=grouped_adam(finish_lr, finish_lr * scalar_lr / lr, own),
        label=f"{label} finish (all layers, summed loss)",
        model_names=[m.method for m in models],
    )
    print(f"[{label}] greedy layers {t0 - start:.1f} s, finish {time.perf_counter() - t0:.1f} s", flush=True)
