"""NTK1-NTK4: one seed's width sweep of a bias-free ReLU net in the NTK parameterisation (Arora et al. 2019, §3).

For each width: the empirical NTK at initialisation against the analytic one (NTK1); full-batch GD on the halved
MSE, after which the kernel's and the weights' relative changes (NTK2); the linearised model (Lee et al. 2019, eq. (6))
and the analytic-kernel predictor (Jacot et al. 2018; Arora et al. 2019) trained with the same steps, against the
network on held-out points (NTK3, NTK4). Both are run in function space: for a model linear in its parameters, one GD
step moves its outputs by exactly −(η/N) Θ (f(X) − y) (tests/test_ntk_kernels.py checks this against the jvp
linearisation), so they cost a kernel matrix instead of a second training run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.experiments.ntk.empirical import empirical_ntk
from repro.experiments.ntk.kernels import analytic_ntk
from repro.experiments.ntk.linear import kernel_gd, kernel_regression_inf
from repro.experiments.ntk.net import forward, init_params
from repro.train import log_spaced_steps, sgd, train

DATASETS = ("sphere", "cifar10")
# Above this condition number of Θ∞(X, X) the T → ∞ predictor's solve loses float64 digits; it is then left out.
MAX_COND = 1e10


@dataclass
class WidthsConfig:
    """The width sweep (NTK1-NTK4)."""

    data: str = MISSING  # DATASETS: "sphere" (inputs uniform on S^{d-1}, a smooth target) or "cifar10" (two classes)
    d: int = MISSING  # input dimension (sphere); CIFAR-10 inputs are 3072-dimensional
    classes: list[int] = field(default=MISSING)  # cifar10: the two classes, labelled −1 and +1
    depth: int = MISSING  # hidden layers L
    widths: list[int] = field(default=MISSING)
    n_train: int = MISSING
    n_test: int = MISSING
    data_seed: int = MISSING  # the inputs and targets are one fixed set for every seed; the seed draws the weights
    lr_scale: float = MISSING  # η = lr_scale / λ_max(Θ∞(X, X) / N)
    steps: int = MISSING
    n_records: int = MISSING  # log-spaced steps at which the training losses are recorded
    slice_points: int = MISSING  # points on the great circle through e1 and e2 (the figure's 1-D slice)
    slice_widths: list[int] = field(default=MISSING)  # widths whose predictions on the slice are kept
    chunk: int = MISSING  # inputs per Jacobian block of the empirical NTK (bounds its memory)
    seed_groups: int = MISSING  # shards: the seeds are split into this many groups, one job each
    dtype: str = MISSING  # "float32" or "float64": the network's precision (kernels are always float64)

    def __post_init__(self) -> None:
        one_of("experiment.widths.data", self.data, DATASETS)
        one_of("experiment.widths.dtype", self.dtype, ("float32", "float64"))
        for name in (
            "d",
            "depth",
            "n_train",
            "n_test",
            "steps",
            "n_records",
            "slice_points",
            "chunk",
            "lr_scale",
            "seed_groups",
        ):
            positive(f"experiment.widths.{name}", getattr(self, name))
        if not self.widths or any(w <= 0 for w in self.widths) or sorted(set(self.widths)) != list(self.widths):
            raise ConfigError(f"experiment.widths.widths must be increasing positive widths, got {self.widths}")
        if len(self.widths) < 3:
            raise ConfigError(f"experiment.widths.widths needs at least 3 widths for a slope, got {self.widths}")
        missing = [w for w in self.slice_widths if w not in self.widths]
        if missing:
            raise ConfigError(f"experiment.widths.slice_widths {missing} are not among widths {self.widths}")
        if self.data == "cifar10" and len(self.classes) != 2:
            raise ConfigError(f"experiment.widths.classes needs two CIFAR-10 classes (0-9), got {self.classes}")
        if self.lr_scale >= 2:
            raise ConfigError(
                f"experiment.widths.lr_scale={self.lr_scale} diverges: GD on the kernel needs η·λ_max/N < 2"
            )


# ---------------------------------------------------------------- data


def sphere_target(x: torch.Tensor) -> torch.Tensor:
    """A smooth target on the sphere that is not in the kernel's few leading eigenspaces: sin(π x₁) + cos(π x₂)."""
    return torch.sin(math.pi * x[:, 0]) + torch.cos(math.pi * x[:, 1])


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def sphere_data(c: WidthsConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X, y, Z, y_Z) in float64: uniform points on S^{d−1}, fixed by data_seed."""
    g = torch.Generator().manual_seed(c.data_seed)
    pts = unit_rows(torch.randn(c.n_train + c.n_test, c.d, generator=g, dtype=torch.float64))
    y = sphere_target(pts)
    return pts[: c.n_train], y[: c.n_train], pts[c.n_train :], y[c.n_train :]


def cifar_data(c: WidthsConfig, arrays: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two CIFAR-10 classes as ±1 targets; images flattened, centred by the training mean and put on the unit sphere
    (the analytic kernel of a bias-free net depends on the inputs' norms and angles; unit norm as in Arora et al.'s
    experiments). The first n_train of the training split (in a data_seed order) and n_test of the test split."""
    g = torch.Generator().manual_seed(c.data_seed)

    def pick(images: np.ndarray, labels: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        keep = np.flatnonzero(np.isin(labels, c.classes))
        order = keep[torch.randperm(len(keep), generator=g).numpy()[:n]]
        if len(order) < n:
            raise ConfigError(f"only {len(order)} CIFAR-10 images of classes {c.classes}, asked for {n}")
        x = torch.as_tensor(images[order].reshape(len(order), -1), dtype=torch.float64) / 255.0
        y = torch.as_tensor(np.where(labels[order] == c.classes[1], 1.0, -1.0), dtype=torch.float64)
        return x, y

    X, y = pick(arrays["x"], arrays["y"], c.n_train)
    Z, yz = pick(arrays["x_test"], arrays["y_test"], c.n_test)
    mean = X.mean(0, keepdim=True)
    return unit_rows(X - mean), y, unit_rows(Z - mean), yz


def great_circle(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(γ, x(γ) = cos γ e1 + sin γ e2): n angles on [0, 2π)."""
    gamma = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    x = torch.zeros(n, d, dtype=torch.float64)
    x[:, 0], x[:, 1] = torch.cos(gamma), torch.sin(gamma)
    return gamma, x


# ---------------------------------------------------------------- one seed's sweep


def rms(v: torch.Tensor) -> float:
    return v.pow(2).mean().sqrt().item()


def rel_fro(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖_F / ‖b‖_F."""
    return ((a - b).norm() / b.norm()).item()


@dataclass
class Task:
    X: torch.Tensor  # (N, d) float64 training inputs
    y: torch.Tensor
    Z: torch.Tensor  # (M, d) held-out inputs
    yz: torch.Tensor
    gamma: torch.Tensor  # the slice's angles
    S: torch.Tensor  # the slice's inputs
    ys: torch.Tensor  # the target on the slice (sphere), else NaN

    @classmethod
    def build(cls, c: WidthsConfig, arrays: dict | None = None) -> Task:
        X, y, Z, yz = sphere_data(c) if c.data == "sphere" else cifar_data(c, arrays)
        gamma, S = great_circle(c.slice_points, X.shape[1])
        ys = sphere_target(S) if c.data == "sphere" else torch.full_like(gamma, float("nan"))
        return cls(X, y, Z, yz, gamma, S, ys)


def learning_rate(c: WidthsConfig, theta_xx: torch.Tensor) -> float:
    """η = lr_scale / λ_max(Θ∞(X, X) / N): below Lee et al.'s critical 2 / (λ_max + λ_min) for lr_scale ≤ 1."""
    return c.lr_scale / (torch.linalg.eigvalsh(theta_xx).max().item() / len(theta_xx))


@dataclass
class Kernels:
    """What every width of one seed shares: the analytic kernel's blocks, the learning rate and the record steps."""

    xx: torch.Tensor  # Θ∞(X, X)
    zx: torch.Tensor  # Θ∞(Z, X)
    sx: torch.Tensor  # Θ∞(slice, X)
    lr: float
    records: list[int]
    cond: float

    @classmethod
    def build(cls, c: WidthsConfig, task: Task) -> Kernels:
        theta, _ = analytic_ntk(torch.cat([task.X, task.Z, task.S]), task.X, c.depth)
        n, m = len(task.X), len(task.Z)
        xx = theta[:n]
        return cls(
            xx,
            theta[n : n + m],
            theta[n + m :],
            learning_rate(c, xx),
            log_spaced_steps(c.steps, c.n_records),
            torch.linalg.cond(xx).item(),
        )


def run_seed(c: WidthsConfig, task: Task, seed: int, device: torch.device, keep, label) -> list[dict]:
    """Every width for one seed: the part == "widths" rows (metrics in the experiment's README section)."""
    rows: list[dict] = []
    keep(f"widths-rows-seed{seed}", rows)
    kernels = Kernels.build(c, task)
    for width in c.widths:
        run_width(c, task, kernels, seed, width, device, rows, keep, label)
    return rows


def run_width(c: WidthsConfig, task: Task, k: Kernels, seed: int, width: int, device, rows: list, keep, label) -> None:
    """One (seed, width): measure at init, train with one checkpointed train() call, measure at step T."""
    sliced = width in c.slice_widths
    base = dict(part="widths", width=width, alpha=np.nan, angle=np.nan, seed=seed)
    n, m, T = len(task.X), len(task.Z), c.steps

    def row(metric: str, value: float, step: int, **extra) -> None:
        rows.append(base | extra | dict(step=step, metric=metric, value=float(value)))

    dtype = getattr(torch, c.dtype)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + width)  # the weights of (seed, width) alone
    p0 = [w.to(device) for w in init_params(task.X.shape[1], [width] * c.depth, gen, dtype=dtype)]
    to = dict(device=device, dtype=dtype)
    X, y = task.X.to(**to), task.y.to(**to)
    inputs = torch.cat([task.X, task.Z, task.S] if sliced else [task.X, task.Z]).to(**to)
    with torch.no_grad():
        f0 = forward(p0, inputs).double().cpu()
    # Θ̂_0 on (N + M [+ slice], N) in float64; the long stack first: it goes through in one forward-mode pass per
    # chunk of X
    theta0 = empirical_ntk(forward, p0, inputs, X, chunk=c.chunk).cpu()
    theta0_xx, f0_x, f0_rest = theta0[:n], f0[:n], f0[n:]
    # the linearised model and the analytic-kernel predictor, both from the network's own outputs at init
    lin = kernel_gd(theta0_xx, theta0[n:], f0_x, f0_rest, task.y, k.lr, T, record=k.records)
    theta_inf_rest = torch.cat([k.zx, k.sx]) if sliced else k.zx
    ker = kernel_gd(k.xx, theta_inf_rest, f0_x, f0_rest, task.y, k.lr, T, record=(T,))
    ker_inf = kernel_regression_inf(k.xx, k.zx, f0_x, f0_rest[:m], task.y) if k.cond < MAX_COND else None

    if not any(r["width"] == width and r["metric"] == "ntk_err" for r in rows):  # a resumed run has them
        row("ntk_err", rel_fro(theta0_xx, k.xx), 0)
        row("target_rms", rms(task.yz), 0)
        row("f0_rms", rms(f0_rest[:m]), 0)
        row("kernel_cond", k.cond, 0)
        for s in k.records:
            row("train_loss_lin", 0.5 * (lin[s][0] - task.y).pow(2).mean().item(), s)

    params = [torch.nn.Parameter(w.clone()) for w in p0]
    state = {"step": 0}
    keep(f"widths-state-seed{seed}-w{width}", state)

    def loss() -> torch.Tensor:
        return 0.5 * (forward(params, X) - y).pow(2).mean()

    def losses() -> torch.Tensor:
        state["step"] += 1
        return loss()

    def finished() -> bool:
        """At step T, measure everything that needs the trained weights here, so that the rows are saved with this
        call's checkpoint (a resumed run skips a finished call without restoring its weights)."""
        if state["step"] < T:
            return False
        pT = [p.detach() for p in params]
        thetaT_xx = empirical_ntk(forward, pT, X, chunk=c.chunk).cpu()  # Z = None: exactly symmetric
        row("ntk_change", rel_fro(thetaT_xx, theta0_xx), T)
        dw = math.sqrt(sum((a - b).pow(2).sum().item() for a, b in zip(pT, p0)))
        row("weight_change", dw / math.sqrt(sum(b.pow(2).sum().item() for b in p0)), T)
        with torch.no_grad():
            fT = forward(pT, inputs[n:]).double().cpu()
        fz = fT[:m]
        row("lin_rmse", rms(fz - lin[T][1][:m]), T)
        row("ker_rmse", rms(fz - ker[T][1][:m]), T)
        if ker_inf is not None:
            row("ker_rmse_inf", rms(fz - ker_inf), T)
        row("test_rmse", rms(fz - task.yz), T)
        if sliced:
            curves = {"slice_net": fT[m:], "slice_lin": lin[T][1][m:], "slice_ker": ker[T][1][m:]}
            if task.ys.isfinite().all():  # CIFAR-10 has no target off its images
                curves["slice_target"] = task.ys
            for i, g in enumerate(task.gamma.tolist()):
                for metric, v in curves.items():
                    row(metric, v[i].item(), T, angle=g)
        return True

    train(
        params,
        losses,
        steps=T,
        optimizer=sgd(k.lr),
        record=lambda step: row("train_loss", loss().item(), step),
        record_steps=k.records,
        label=label(f"width{width}"),
        stop=finished,
    )
