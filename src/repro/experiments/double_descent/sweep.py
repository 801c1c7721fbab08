"""The computations behind double descent: label noise, random-feature regression, and the batched
width-sweep trainer.

The width sweep trains every (width, seed) point of a shard at once in one block model
(`WidthSweepMLP`), each seed with its own initialisation and its own minibatch order; the per-model
losses are summed, so each model trains exactly as it would alone (`tests/test_double_descent.py`
checks this against one-model-at-a-time training).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from repro import checkpoint
from repro.nn.batched import WidthSweepMLP
from repro.nn.losses import cross_entropy_per_model
from repro.train import MinibatchOrder, sgd, train


def noisy_labels(y: torch.Tensor, fraction: float, seed: int, n_classes: int = 10) -> torch.Tensor:
    """Nakkiran et al.'s label noise: a `fraction` of the labels, chosen once, each replaced by a
    uniformly random *incorrect* class."""
    g = torch.Generator().manual_seed(int(seed))
    flip = torch.rand(len(y), generator=g) < fraction
    shift = torch.randint(1, n_classes, (len(y),), generator=g)  # never 0: the new class differs
    out = y.clone()
    out[flip] = (y[flip] + shift[flip]) % n_classes
    return out


def mlp_params(d_in: int, width: int, n_out: int = 10) -> int:
    """Parameter count of the MLP d_in-h-h-n_out with biases."""
    return d_in * width + width + width * width + width + width * n_out + n_out


# ---------------------------------------------------------------- random features (Belkin et al.)


def random_features(
    x: torch.Tensor,
    y: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    n_features: Sequence[int],
    seed: int,
    scale: float = 1.0,
    chunk: int = 2000,
    near: tuple[float, float] = (0.8, 1.25),
    max_cond: float = 1e8,
) -> list[dict]:
    """Minimum-norm least squares on the first N of a fixed draw of random ReLU features, for each N.

    float64 throughout. Away from the threshold, a Cholesky factorisation of the smaller Gram matrix: N < n solves
    the normal equations (ΦᵀΦ) β = ΦᵀY (N×N); N > n gives the min-norm interpolant β = Φᵀ (Φ Φᵀ)⁻¹ Y. Near
    N = n (within `near` of it), or wherever the Gram matrix is ill conditioned (its condition number, the square of
    Φ's, above `max_cond`), the min-norm least-squares solution of Φ β = Y from Φ itself (`lstsq`, LAPACK gelsy: a
    rank-revealing complete orthogonal factorisation) instead: the normal equations square the condition number
    exactly where the claim looks (`min_norm_lstsq`).
    """
    x, x_test = x.double(), x_test.double()
    n, d = x.shape
    w = torch.randn(d, max(n_features), generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64) * (
        scale / math.sqrt(d)
    )
    phi = torch.relu(x @ w)
    targets = torch.nn.functional.one_hot(y, 10).double()
    test_targets = torch.nn.functional.one_hot(y_test, 10).double()
    rows = []
    for N in n_features:
        p = phi[:, :N]
        beta = min_norm_lstsq(p, targets, from_features=near[0] <= N / n <= near[1], max_cond=max_cond)
        pred = torch.cat([torch.relu(x_test[i : i + chunk] @ w[:, :N]) @ beta for i in range(0, len(x_test), chunk)])
        rows += [
            {"n_features": N, "metric": "train_mse", "value": ((p @ beta - targets) ** 2).sum(1).mean().item()},
            {"n_features": N, "metric": "test_mse", "value": ((pred - test_targets) ** 2).sum(1).mean().item()},
            {"n_features": N, "metric": "test_error", "value": (pred.argmax(1) != y_test).double().mean().item()},
        ]
    return rows


def min_norm_lstsq(
    p: torch.Tensor, targets: torch.Tensor, *, from_features: bool = False, max_cond: float = 1e8
) -> torch.Tensor:
    """The minimum-norm least-squares solution β of p β = targets (float64): from p itself when `from_features`
    (LAPACK gelsy, a rank-revealing complete orthogonal factorisation: the SVD's min-norm solution at an eighth of
    gelsd's cost),
    else through a Cholesky factor of the smaller Gram matrix, falling back to gelsy when that matrix's condition
    number exceeds `max_cond` (at 1e8, the normal equations lose at most ~8 of float64's ~16 digits) or it is not
    positive definite."""
    if not from_features:
        n, N = p.shape
        gram = p.T @ p if N <= n else p @ p.T
        chol, info = torch.linalg.cholesky_ex(gram)
        if int(info) == 0 and gram_condition(gram, chol) <= max_cond:
            if N <= n:
                return torch.cholesky_solve(p.T @ targets, chol)
            return p.T @ torch.cholesky_solve(targets, chol)
    driver = "gelsy" if p.device.type == "cpu" else None  # CUDA has only gels (full-rank QR)
    return torch.linalg.lstsq(p, targets, driver=driver).solution


def gram_condition(gram: torch.Tensor, chol: torch.Tensor) -> float:
    """LAPACK's estimate (dpocon, from the Cholesky factor, O(m²)) of the Gram matrix's 1-norm condition number,
    within a small factor of the exact one (the square of the features' 2-norm condition number) at a tenth of
    the cost of an eigendecomposition."""
    from scipy.linalg import lapack

    g = gram.detach().cpu().double().numpy()
    rcond, info = lapack.dpocon(chol.detach().cpu().double().numpy(), float(np.abs(g).sum(0).max()), uplo="L")
    return float("inf") if info != 0 or rcond <= 0 else 1.0 / rcond


# ---------------------------------------------------------------- the batched width sweep


def train_width_sweep(
    x: torch.Tensor,
    y: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    widths: Sequence[int],
    seeds: Sequence[int],
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    record_epochs: Sequence[int],
    label: str = "sweep",
    init: str = "torch_default",
    ensemble: bool = True,
    n_boot: int = 200,
    progress_every_s: float | None = 10.0,
) -> list[dict]:
    """Train MLPs d-h-h-10 (ReLU, cross-entropy, SGD with momentum, minibatches) for every width h and
    seed, all at once. `y` are the (possibly noisy) training labels, shared by all seeds; a seed fixes
    the initialisation and the minibatch order.

    Rows: width, params, seed, step (= epoch), metric ∈ {train_error, test_error, test_loss}; with
    `ensemble`, also `ensemble_test_error` at the last epoch (seed -1: the average of the seeds'
    predicted probabilities) and its bootstrap over seeds, `ensemble_test_error_boot` (seed -1; column `boot` = the
    resample's index 0 .. n_boot-1: the ensemble of B seeds drawn with replacement; the same draws at every width,
    so each index is a curve).
    """
    device = x.device
    n, d = x.shape
    B = len(seeds)
    batches = MinibatchOrder(torch.arange(n, device=device), [1_000_003 * int(s) + 17 for s in seeds], batch_size)
    steps_per_epoch = batches.steps_per_epoch
    model = WidthSweepMLP(seeds, d, widths, 10, init=init).to(device)
    rows: list[dict] = []
    checkpoint.keep(f"{label}-rows", rows)  # a resumed run gets these back (see repro.checkpoint)
    checkpoint.keep(f"{label}-batches", batches)

    def losses() -> torch.Tensor:
        idx = batches()  # [B, bs]
        xb, yb = x[idx], y[idx]
        # per width [B], concatenated in the order (width, seed); cross_entropy_per_model: ~4x faster on a CPU
        return torch.cat([cross_entropy_per_model(logits, yb) for logits in model.logits_per_width(xb)])

    def record(step: int) -> None:
        epoch = step // steps_per_epoch
        train_logits, test_logits = model(x.expand(B, *x.shape)), model(x_test.expand(B, *x_test.shape))
        for w, h in enumerate(widths):
            train_err = (train_logits[w].argmax(-1) != y).double().mean(1)
            logits = test_logits[w]
            test_err = (logits.argmax(-1) != y_test).double().mean(1)
            test_loss = torch.stack([torch.nn.functional.cross_entropy(lg, y_test) for lg in logits])
            for i, s in enumerate(seeds):
                for metric, v in (("train_error", train_err), ("test_error", test_err), ("test_loss", test_loss)):
                    rows.append(
                        {
                            "width": h,
                            "params": mlp_params(d, h),
                            "seed": s,
                            "step": epoch,
                            "metric": metric,
                            "value": v[i].item(),
                        }
                    )

    names = [f"h={h}/seed{s}" for h in widths for s in seeds]
    train(
        model.parameters(),
        losses,
        steps=epochs * steps_per_epoch,
        optimizer=sgd(lr, momentum=momentum),
        record=record,
        record_steps=[e * steps_per_epoch for e in record_epochs],
        label=label,
        model_names=names,
        progress_every_s=progress_every_s,
    )
    if ensemble:
        rows += ensemble_rows(model, x_test, y_test, widths, seeds, d, epochs, n_boot)
    return rows


def ensemble_rows(
    model,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    widths: Sequence[int],
    seeds: Sequence[int],
    d: int,
    epoch: int,
    n_boot: int,
) -> list[dict]:
    """The ensemble's test error (the seeds' predicted probabilities averaged) per width, and `n_boot` bootstrap
    ensembles over seeds (B seeds drawn with replacement, with a fixed generator: the same draws at every width)."""
    B = len(seeds)
    draws = torch.randint(0, B, (n_boot, B), generator=torch.Generator().manual_seed(0))
    counts = torch.zeros(n_boot, B, dtype=torch.float64).scatter_add_(1, draws, torch.ones(n_boot, B).double())
    rows = []
    with torch.no_grad():
        test_logits = model(x_test.expand(B, *x_test.shape))
        for w, h in enumerate(widths):
            probs = torch.softmax(test_logits[w].double(), -1)  # [B, n_test, 10]
            err = (probs.mean(0).argmax(-1) != y_test).double().mean().item()
            rows.append(
                {
                    "width": h,
                    "params": mlp_params(d, h),
                    "seed": -1,
                    "step": epoch,
                    "metric": "ensemble_test_error",
                    "value": err,
                }
            )
            boot = torch.einsum("kb,bnc->knc", counts.to(probs.device), probs)  # sums; argmax is scale-free
            errs = (boot.argmax(-1) != y_test).double().mean(1).cpu()
            rows += [
                {
                    "width": h,
                    "params": mlp_params(d, h),
                    "seed": -1,
                    "boot": k,
                    "step": epoch,
                    "metric": "ensemble_test_error_boot",
                    "value": float(errs[k]),
                }
                for k in range(n_boot)
            ]
    return rows


def record_epochs(epochs: int, n: int) -> list[int]:
    """About n epochs to record, log-spaced (for epoch-wise curves) with the first and the last."""
    pts = np.unique(np.round(np.logspace(0, math.log10(max(epochs, 1)), n)).astype(int))
    return sorted({0, epochs, *[int(p) for p in pts if p <= epochs]})
