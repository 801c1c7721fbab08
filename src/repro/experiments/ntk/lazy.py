"""NTK5, lazy training (Chizat, Oyallon & Bach 2019, "On Lazy Training in Differentiable Programming", arXiv 1812.07956,
NeurIPS 2019): the α-scaled model and its linearisation, trained the same way.

The α-model of a model h with parameters w is F_α(w; x) = α (h(w; x) − h(w0; x)), trained on the scaled objective
R_α(w) = (1/α²) L(F_α(w)) ("lazy training" when α is large). Its linearisation is F_α^lin(w; x) =
α J_h(w0; x)(w − w0), trained on (1/α²) L(F_α^lin(w)) with exactly the same steps. As α grows, the relative weight
change falls like 1/α and F_α approaches F_α^lin (the abstract: "bounds on the distance between the lazy and linearized
optimization paths"); on a task where features matter, the lazy (large-α) model generalises worse (the abstract: CNN
performance "degrades when trained in the lazy regime"; the introduction: experiments on two-layer networks and deep
CNNs). Section, theorem and figure numbers are not cited here: they could not be read (below).

Sources. The paper text beyond its introduction is not readable in this workspace (the stored copies are cut after
the introduction), so every value below is read from the authors' public code, github.com/edouardoyallon/
lazy-training-CNN (README: "Reproducing CNNs experiments ... Reproducing shallow experiments ... shallow-nn"):
- `shallow-nn/lazy.ipynb` (`GDfor2NN`: full-batch GD on ½·mean squared error, W ← W − (stepsize/scaling)·grad) and
  `shallow-nn/test_vs_scale.jl` (the notebook's "Effect of the scale of initialization on generalization (GD)": test
  loss against τ, at the end of training and the best throughout training), for task "teacher";
- `cnn/train.py`, `cnn/models.py`, `cnn/script.sh` ("Reproduce experiments to demonstrate an effective linearization as
  alpha grows"), for task "cifar10_vgg".

Two tasks (`LazyConfig.task`):

"teacher" (laptop scale; the paper's two-layer experiment, test_vs_scale.jl):
  teacher  y(x) = Σ_{j≤m0} s_j relu(θ_j·x), m0 = 3, θ_j uniform on the unit sphere (normalised Gaussian), s_j = ±1
           (sign of a Gaussian); inputs x uniform on S^{d−1}, d = 100; n_train = n_test = 1000; no label noise.
  student  h(w; x) = Σ_{j≤m} b_j relu(a_j·x), m = 50, no biases and no 1/m factor; (a_j, b_j) iid N(0, 1) and then
           symmetrised so that h(w0) = 0: b_j = |b_j| for the first m/2 neurons, the second half copies their a_j
           and takes −b_j ("symmetrization" in test_vs_scale.jl).
  scale    the code scales the initialisation by τ (W_init = τ·W0, "we change the initialization instead of the
           scaling (it is equivalent, up to a square)"), τ ∈ 10^(−2.2:0.1:1). h is 2-homogeneous, so GD from τ·w0
           with step η is exactly GD on R_α from w0 with α = τ² and step η·τ² (the relative weight change and the
           predictions are the same). Its step rule η = min(10, 0.1/τ²) ("the linear scaling of the step-size works
           for large scales only") is therefore η_α = min(10 α, 0.1) here: `lr_max` = 0.1, `lr_per_alpha` = 10.
  training 10000 full-batch GD iterations, 10 trials, each with a fresh teacher, data and initialisation
           (Random.seed!(1) once before all trials): here each seed draws its own teacher, data and init, and all α
           of a seed share them (the code scales one W_init0 per trial).
  Laptop deviations are configuration values, each with its reason in conf/preset/ntk/laptop.yaml.

"cifar10_vgg" (paper scale; cnn/train.py and cnn/script.sh):
  model    VGG-11 feature stack (`cfg['VGG11']` of cnn/models.py: 3×3 convolutions with bias, ReLU, 2×2 max-pools, no
           BatchNorm) and a linear head 512·k → 10. The repository's VGG11 list ends with two 'M' (max-pools); at
           32×32 input the fifth pool already leaves 1×1 maps (the head takes 512·k features), so a sixth cannot
           apply: we use the standard VGG-11 list with five pools. `width` is the first layer's channels (64 in the
           paper, widening factor k = 1; other layers scale with it).
  init     conv and head weights xavier_normal_(gain), biases 0; script.sh passes --gain 1.0.
  centring output = FC1(net(x)) − FC2(net2(x)) with net2, FC2 frozen copies at init: F = α (h(w) − h(w0)).
  loss     nn.MSELoss(output, onehot/α) = (1/α²) · mean over the batch and the 10 outputs of (F − onehot)².
  optim    SGD, momentum 0.9, weight decay 0, batch 128, learning rate lr0 / (1 + 100·epoch/300) set each epoch,
           lr0 ∈ {1.0, 0.1, 0.01, 0.001} swept in script.sh (which lr each reported point used is not stated in the
           code); 100 epochs (--length 100); float64 (--precision double); --schedule 'b': random crop (pad 4) +
           horizontal flip, normalisation mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010).
  alphas   1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 5, 1, 0.5, 0.1, 0.01 (script.sh).
  seed     torch.manual_seed(58), one run per setting: several seeds here are an addition.
  linearisation: the authors' `lazy_net` evaluates the trained weights with the activation patterns of the initial
           network frozen; the spec's lin_dist needs the Taylor model trained the same way, which we train alongside
           (torch.func.jvp at w0), on the same minibatches and augmentation, with the same optimiser.

The tidy rows (part "lazy"): part, width, alpha, angle (NaN), seed, step, metric, value, with metrics
  weight_change  step T  ‖w_T − w0‖ / ‖w0‖ over all trained parameters
  lin_dist       step T  RMSE over the test points (and outputs) between F_α and F_α^lin, divided by target_rms
  test_loss      steps t test loss of F_α ("teacher": ½·mean squared error, the loss of GDfor2NN; "cifar10_vgg": mean
                         squared error over the test images and the 10 outputs, nn.MSELoss of F against onehot)
  train_loss     steps t the same on the training set (L(F_α), not the 1/α²-scaled objective); "cifar10_vgg": on the
                         first `n_train_eval` training images, unaugmented
  target_rms     step 0  RMS of the test targets
  test_error     step T  ("cifar10_vgg" only) test classification error of F_α (cnn/train.py logs test accuracy)
at log-spaced steps t including 0 and T. For "cifar10_vgg" `step` counts epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING
from torch import Tensor

from repro import checkpoint
from repro.config import ConfigError
from repro.experiments.ntk.linear import kernel_gd
from repro.train import log_spaced_steps, sgd, train

TASKS = ("teacher", "cifar10_vgg")
DTYPES = {"float32": torch.float32, "float64": torch.float64}

# The VGG-11 feature stack (cnn/models.py cfg['VGG11'] without its unusable trailing second 'M'; see the docstring).
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
# cnn/train.py's normalisation (kuangliu/pytorch-cifar's statistics).
AUTHORS_MEAN = (0.4914, 0.4822, 0.4465)
AUTHORS_STD = (0.2023, 0.1994, 0.2010)


def _check(cond: bool, key: str, value: Any, valid: str) -> None:
    if not cond:
        raise ConfigError(f"experiment.lazy.{key}={value!r} is not valid; valid: {valid}")


def _check_alphas(key: str, alphas) -> None:
    _check(len(alphas) > 0, key, alphas, "a non-empty list of positive scales α")
    for a in alphas:
        _check(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) and a > 0,
            f"{key}[]",
            a,
            "a finite positive scale α",
        )
    _check(len(set(alphas)) == len(alphas), key, alphas, "distinct values")


@dataclass
class TeacherLazyConfig:
    """The two-layer teacher-student experiment (test_vs_scale.jl; see the module docstring)."""

    d: int = MISSING  # input dimension (paper 100)
    teacher_neurons: int = MISSING  # m0 (paper 3)
    width: int = MISSING  # student neurons m (paper 50), even (the symmetrisation pairs them)
    n_train: int = MISSING  # paper 1000
    n_test: int = MISSING  # paper 1000
    alphas: list[float] = field(default=MISSING)  # α = τ² (paper τ ∈ 10^(−2.2:0.1:1))
    steps: int = MISSING  # full-batch GD iterations T (paper 10000)
    lr_max: float = MISSING  # η_α = min(lr_per_alpha · α, lr_max) (paper 0.1, from η_τ = min(10, 0.1/τ²))
    lr_per_alpha: float = MISSING  # (paper 10)
    n_records: int = MISSING  # about this many log-spaced record steps (0 and T always)
    dtype: str = MISSING  # "float64" (Julia's default, the authors' code) or "float32"

    def __post_init__(self) -> None:
        p = "teacher."
        for key in ("d", "teacher_neurons", "n_train", "n_test", "steps", "n_records"):
            v = getattr(self, key)
            _check(isinstance(v, int) and not isinstance(v, bool) and v >= 1, p + key, v, "an integer >= 1")
        _check(
            isinstance(self.width, int) and self.width >= 2 and self.width % 2 == 0,
            p + "width",
            self.width,
            "an even integer >= 2 (the symmetrised initialisation pairs the neurons)",
        )
        _check_alphas(p + "alphas", self.alphas)
        for key in ("lr_max", "lr_per_alpha"):
            v = getattr(self, key)
            _check(math.isfinite(v) and v > 0, p + key, v, "a finite positive step size")
        _check(self.dtype in DTYPES, p + "dtype", self.dtype, ", ".join(DTYPES))

    def lr(self, alpha: float) -> float:
        """The GD step of the α-model: η_α = min(lr_per_alpha·α, lr_max) (test_vs_scale.jl's rule, see the module)."""
        return min(self.lr_per_alpha * alpha, self.lr_max)


@dataclass
class VGGLazyConfig:
    """The VGG-11 / CIFAR-10 experiment (cnn/train.py, cnn/script.sh; see the module docstring)."""

    width: int = MISSING  # first-layer channels (paper 64 = VGG-11, widening factor 1); tests: a tiny width
    alphas: list[float] = field(default=MISSING)  # paper: 1e7 1e6 1e5 1e4 1e3 100 10 5 1 0.5 0.1 0.01
    epochs: int = MISSING  # paper 100
    batch_size: int = MISSING  # paper 128
    lr: float = MISSING  # lr0 (script.sh sweeps 1.0 0.1 0.01 0.001)
    lr_decay: float = MISSING  # lr_epoch = lr0 / (1 + lr_decay·epoch); paper 100/300
    momentum: float = MISSING  # paper 0.9
    gain: float = MISSING  # xavier_normal_ gain (script.sh 1.0)
    augment: bool = MISSING  # random crop (pad 4) + flip (paper: yes, --schedule 'b')
    subset: int | None = MISSING  # train on the first `subset` images (null: all 50000)
    n_test: int | None = MISSING  # evaluate on the first n_test test images (null: all 10000)
    n_train_eval: int = MISSING  # train_loss on the first n_train_eval training images
    max_steps: int | None = MISSING  # stop after this many SGD steps (tests); null: no cap
    n_records: int = MISSING  # about this many log-spaced record epochs (0 and the last always)
    eval_chunk: int = MISSING  # images per forward pass when evaluating
    dtype: str = MISSING  # paper "float64" (--precision double)
    seeds: int = MISSING  # seeds per α, one job each (first_seed, first_seed + 1, ...); the code ran one (seed 58)

    def __post_init__(self) -> None:
        p = "vgg."
        for key in ("width", "epochs", "batch_size", "n_train_eval", "n_records", "eval_chunk", "seeds"):
            v = getattr(self, key)
            _check(isinstance(v, int) and not isinstance(v, bool) and v >= 1, p + key, v, "an integer >= 1")
        for key, hi in (("subset", 50_000), ("n_test", 10_000), ("max_steps", None)):
            v = getattr(self, key)
            ok = v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1 and (hi is None or v <= hi))
            _check(ok, p + key, v, f"null or an integer in 1..{hi if hi else 'inf'}")
        _check_alphas(p + "alphas", self.alphas)
        _check(math.isfinite(self.lr) and self.lr > 0, p + "lr", self.lr, "a finite positive learning rate")
        _check(math.isfinite(self.lr_decay) and self.lr_decay >= 0, p + "lr_decay", self.lr_decay, ">= 0")
        _check(0 <= self.momentum < 1, p + "momentum", self.momentum, "[0, 1)")
        _check(math.isfinite(self.gain) and self.gain > 0, p + "gain", self.gain, "a finite positive gain")
        _check(self.dtype in DTYPES, p + "dtype", self.dtype, ", ".join(DTYPES))


@dataclass
class LazyConfig:
    """experiment.lazy: which task runs (`task`), and each task's protocol. Every value comes from conf/."""

    task: str = MISSING  # "teacher" (laptop) or "cifar10_vgg" (paper)
    teacher: TeacherLazyConfig = MISSING
    vgg: VGGLazyConfig = MISSING

    def __post_init__(self) -> None:
        _check(self.task in TASKS, "task", self.task, ", ".join(TASKS))


def describe(sec: LazyConfig) -> str:
    """One line of protocol for the report (the task that runs, at this scale)."""
    if sec.task == "teacher":
        c = sec.teacher
        return (
            f"two-layer ReLU student h(x) = Σ_j b_j relu(a_j·x), {c.width} neurons, N(0, 1) weights symmetrised so "
            f"h = 0 at init, learning a {c.teacher_neurons}-neuron ReLU teacher on S^{c.d - 1} from {c.n_train} "
            f"samples ({c.n_test} test); F_α = α(h − h0) trained by full-batch GD on (1/α²)·½·MSE, step "
            f"min({c.lr_per_alpha:g}·α, {c.lr_max:g}), {c.steps} steps, α ∈ {{{', '.join(f'{a:g}' for a in c.alphas)}}}"
            f" (Chizat et al.'s τ = √α); the linearisation trained by the same GD in function space ({c.dtype})"
        )
    c = sec.vgg
    return (
        f"VGG-11 without BatchNorm (first layer {c.width} channels) on CIFAR-10, centred F_α = α(h(w) − h(w0)), "
        f"loss (1/α²)·MSE against one-hot targets, SGD momentum {c.momentum:g}, batch {c.batch_size}, lr "
        f"{c.lr:g}/(1 + {c.lr_decay:.3g}·epoch), {c.epochs} epochs{', crop + flip' if c.augment else ''}, "
        f"α ∈ {{{', '.join(f'{a:g}' for a in c.alphas)}}}; the jvp linearisation trained alongside ({c.dtype})"
    )


def cifar10_ref(sec: LazyConfig):
    """The CIFAR-10 file the "cifar10_vgg" task reads (for the experiment's `datasets` hook)."""
    from repro.data import DataRef

    return DataRef("cifar10", {"subset": sec.vgg.subset} if sec.vgg.subset else {})


def run_lazy(
    sec: LazyConfig,
    seeds: list[int],
    device: torch.device | str,
    *,
    data: dict | None = None,
    data_dir: str = "data",
    keep: Callable[[str, object], None] | None = None,
    label: Callable[..., str] | None = None,
) -> pd.DataFrame:
    """The part == "lazy" rows for `seeds` (see the module docstring).

    `label`: a function of label parts for train()'s progress lines (ctx.label); None: training is silent.
    `data` ("cifar10_vgg" only): x, y, x_test, y_test as `repro.data.load` returns them (uint8 images
    [N, 3, 32, 32]); None: loaded from `data_dir` (`cifar10_ref`), never downloaded here.
    `keep(name, obj)`: registers state a resumed run must get back (ctx.keep); default `repro.checkpoint.keep`."""
    device = torch.device(device)
    keep = keep or checkpoint.keep
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("run_lazy needs at least one seed")
    if sec.task == "teacher":
        rows = run_teacher(sec.teacher, seeds, device, keep=keep, label=label)
    elif sec.task == "cifar10_vgg":
        if data is None:
            from repro.data import load

            data = load(cifar10_ref(sec), data_dir, build_missing=False)
        rows = run_vgg(sec.vgg, seeds, device, data, keep=keep, label=label)
    else:  # LazyConfig validates; a duck-typed sec may not have
        raise ConfigError(f"experiment.lazy.task={sec.task!r} is not valid; valid: {', '.join(TASKS)}")
    table = pd.DataFrame(rows, columns=["part", "width", "alpha", "angle", "seed", "step", "metric", "value"])
    table = table.astype({"width": "int64", "alpha": "float64", "angle": "float64", "seed": "int64", "step": "int64"})
    return table.sort_values(["alpha", "seed", "metric", "step"], kind="stable").reset_index(drop=True)


def _row(width: int, alpha: float, seed: int, step: int, metric: str, value: float) -> dict:
    return {
        "part": "lazy",
        "width": int(width),
        "alpha": float(alpha),
        "angle": float("nan"),
        "seed": int(seed),
        "step": int(step),
        "metric": metric,
        "value": float(value),
    }


# ---------------------------------------------------------------- the two-layer teacher-student task


def sphere(n: int, d: int, gen: torch.Generator, dtype=torch.float64) -> Tensor:
    """n points uniform on S^{d-1} (normalised Gaussians, as the authors' code draws them)."""
    x = torch.randn(n, d, generator=gen, dtype=dtype)
    return x / x.norm(dim=1, keepdim=True)


@dataclass
class TeacherProblem:
    """One seed's teacher, data and symmetrised student initialisation (CPU, float64), drawn from one generator in
    the authors' order: teacher directions, teacher signs, training inputs, test inputs, student initialisation."""

    X: Tensor  # [n, d]
    y: Tensor  # [n]
    Z: Tensor  # [n_test, d]
    y_test: Tensor  # [n_test]
    A0: Tensor  # [m, d] student input weights
    b0: Tensor  # [m] student output weights


def teacher_problem(c: TeacherLazyConfig, seed: int) -> TeacherProblem:
    g = torch.Generator().manual_seed(int(seed))
    theta = torch.randn(c.teacher_neurons, c.d, generator=g, dtype=torch.float64)
    theta = theta / theta.norm(dim=1, keepdim=True)
    signs = torch.sign(torch.randn(c.teacher_neurons, generator=g, dtype=torch.float64))
    X, Z = sphere(c.n_train, c.d, g), sphere(c.n_test, c.d, g)
    W = torch.randn(c.width, c.d + 1, generator=g, dtype=torch.float64)
    A0, b0 = symmetrise(W[:, :-1], W[:, -1])
    return TeacherProblem(X, two_layer(theta, signs, X), Z, two_layer(theta, signs, Z), A0, b0)


def symmetrise(A: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """test_vs_scale.jl's symmetrisation: b = |b| on the first half, the second half copies the first half's input
    weights with the opposite output weights, so that the network is exactly 0 at initialisation."""
    h = A.shape[0] // 2
    A, b = A.clone(), b.clone()
    b[:h] = b[:h].abs()
    b[h:] = -b[:h]
    A[h:] = A[:h]
    return A, b


def two_layer(A: Tensor, b: Tensor, x: Tensor) -> Tensor:
    """h(x) = Σ_j b_j relu(a_j·x), batched: A [..., m, d], b [..., m], x [..., n, d] -> [..., n]."""
    return (torch.relu(x @ A.transpose(-1, -2)) * b.unsqueeze(-2)).sum(-1)


def two_layer_ntk(A: Tensor, b: Tensor, x: Tensor, z: Tensor) -> Tensor:
    """The tangent kernel of `two_layer` at (A, b): Θ(x, z) = Σ_j relu(a_j·x) relu(a_j·z)
    + (Σ_j b_j² 1{a_j·x > 0} 1{a_j·z > 0}) x·z  (∂h/∂b_j = relu(a_j·x), ∂h/∂a_j = b_j 1{a_j·x > 0} x, with
    relu'(0) = 0 as autograd takes it). A [..., m, d], b [..., m], x [..., n, d], z [..., p, d] -> [..., n, p]."""
    px, pz = x @ A.transpose(-1, -2), z @ A.transpose(-1, -2)
    feats = torch.relu(px) @ torch.relu(pz).transpose(-1, -2)
    mx, mz = (px > 0).to(x.dtype), (pz > 0).to(x.dtype)
    return feats + ((mx * (b * b).unsqueeze(-2)) @ mz.transpose(-1, -2)) * (x @ z.transpose(-1, -2))


def linear_predictions(theta_xx: Tensor, theta_zx: Tensor, y: Tensor, lrs: list[float], steps: int) -> Tensor:
    """F_T(Z) [S, p, K] of the linearised α-model trained by `steps` GD steps of each size in `lrs` from F_0 = 0
    (`linear.kernel_gd`, one column per step size). Exact for parameter-space GD on (1/α²)·½·mean((α J (w − w0) −
    y)²) with step η, whatever α, because F = α J (w − w0) moves by −η (1/α²) α² J Jᵀ r / n; theta_xx [S, n, n],
    theta_zx [S, p, n], y [S, n]."""
    S, n, p, K = *y.shape, theta_zx.shape[1], len(lrs)
    zeros = theta_xx.new_zeros
    lr = torch.tensor(lrs, dtype=torch.float64)
    return kernel_gd(theta_xx, theta_zx, zeros(S, n, K), zeros(S, p, K), y[..., None], lr, steps)[steps][1]


def run_teacher(
    c: TeacherLazyConfig, seeds: list[int], device: torch.device, *, keep=checkpoint.keep, label=None
) -> list:
    """All α and seeds trained together: model (s, k) has its own parameters and its own SGD step η_{α_k}
    (parameter groups), and its loss enters the summed loss alone, so it trains exactly as it would alone."""
    dtype = DTYPES[c.dtype]
    probs = [teacher_problem(c, s) for s in seeds]
    stack = lambda name: torch.stack([getattr(p, name) for p in probs]).to(device=device, dtype=dtype)  # noqa: E731
    X, y, Z, y_test, A0, b0 = (stack(k) for k in ("X", "y", "Z", "y_test", "A0", "b0"))
    S, K = len(seeds), len(c.alphas)
    alphas = torch.tensor(c.alphas, dtype=dtype, device=device)  # [K]
    As = [torch.nn.Parameter(A0.clone()) for _ in range(K)]  # each [S, m, d]
    bs = [torch.nn.Parameter(b0.clone()) for _ in range(K)]  # each [S, m]
    h0_train, h0_test = two_layer(A0, b0, X), two_layer(A0, b0, Z)  # [S, n]: 0 up to rounding (symmetrised)

    def outputs(x: Tensor, h0: Tensor) -> Tensor:
        """F_α = α (h(w) − h(w0)) of every model: [S, n, K]."""
        A, b = torch.cat(As, 1), torch.cat(bs, 1)  # [S, K·m, d], [S, K·m]: one matrix product per seed
        h = (torch.relu(x @ A.transpose(1, 2)) * b.unsqueeze(1)).view(S, x.shape[1], K, -1).sum(-1)  # [S, n, K]
        return (h - h0.unsqueeze(-1)) * alphas

    def half_mse(F: Tensor, target: Tensor) -> Tensor:  # [S, n, K], [S, n] -> [S, K]
        return 0.5 * (F - target.unsqueeze(-1)).pow(2).mean(1)

    def losses() -> Tensor:
        return (half_mse(outputs(X, h0_train), y) / alphas**2).reshape(-1)  # R_α = L(F_α) / α², per model

    rows: list[dict] = []
    keep("lazy-teacher-rows", rows)

    def record(step: int) -> None:
        for metric, F, target in (("train_loss", outputs(X, h0_train), y), ("test_loss", outputs(Z, h0_test), y_test)):
            v = half_mse(F, target).tolist()
            rows.extend(
                _row(c.width, a, s, step, metric, v[i][k]) for i, s in enumerate(seeds) for k, a in enumerate(c.alphas)
            )
        if step == c.steps:  # here, not after train(): a resumed run that skips the finished call still has them
            rows.extend(final_rows())

    def final_rows() -> list[dict]:
        A, b = torch.stack(As, 1), torch.stack(bs, 1)  # [S, K, m, d], [S, K, m]
        moved = ((A - A0[:, None]).pow(2).sum((-1, -2)) + (b - b0[:, None]).pow(2).sum(-1)).sqrt()
        start = (A0.pow(2).sum((-1, -2)) + b0.pow(2).sum(-1)).sqrt()[:, None]
        weight_change = (moved / start).tolist()
        F_test = outputs(Z, h0_test)  # [S, p, K]
        # the linearised α-models, one per distinct step size (α only enters through η_α)
        lrs = sorted(set(c.lr(a) for a in c.alphas))
        theta_xx, theta_zx = two_layer_ntk(A0, b0, X, X), two_layer_ntk(A0, b0, Z, X)
        F_lin = linear_predictions(theta_xx, theta_zx, y, lrs, c.steps)
        F_lin = F_lin[..., [lrs.index(c.lr(a)) for a in c.alphas]]
        target_rms = y_test.pow(2).mean(1).sqrt()  # [S]
        lin_dist = ((F_test - F_lin).pow(2).mean(1).sqrt() / target_rms[:, None]).tolist()
        out = []
        for i, s in enumerate(seeds):
            for k, a in enumerate(c.alphas):
                out.append(_row(c.width, a, s, c.steps, "weight_change", weight_change[i][k]))
                out.append(_row(c.width, a, s, c.steps, "lin_dist", lin_dist[i][k]))
                out.append(_row(c.width, a, s, 0, "target_rms", target_rms[i].item()))
        return out

    groups = [{"params": [As[k], bs[k]], "lr": c.lr(a)} for k, a in enumerate(c.alphas)]
    train(
        [*As, *bs],
        losses,
        steps=c.steps,
        optimizer=lambda params: sgd(c.lr_max)(groups),
        record=record,
        record_steps=log_spaced_steps(c.steps, c.n_records),
        label=label("teacher") if label else "lazy/teacher",
        model_names=[f"seed{s} alpha={a:g}" for s in seeds for a in c.alphas],
        progress_every_s=5.0 if label else None,
    )
    return rows


# ---------------------------------------------------------------- VGG-11 on CIFAR-10


class VGG(torch.nn.Module):
    """VGG-11 features (no BatchNorm) and a linear head to 10 outputs; channels scale with `width` (64 = VGG-11).
    Initialisation as cnn/train.py: xavier_normal_(gain) weights, zero biases."""

    def __init__(self, width: int, gain: float, layers=VGG11, classes: int = 10):
        super().__init__()
        mods, cin = [], 3
        for v in layers:
            if v == "M":
                mods.append(torch.nn.MaxPool2d(2, 2))
            else:
                cout = max(1, v * width // 64)
                mods += [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.ReLU()]
                cin = cout
        self.features = torch.nn.Sequential(*mods)
        self.head = torch.nn.Linear(cin, classes)  # 1×1 maps after five pools at 32×32
        for m in self.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.xavier_normal_(m.weight, gain=gain)
                torch.nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class AlphaPair:
    """The α-model F = α (h(w) − h(w0)) and its linearisation F_lin = α J_h(w0)(w_lin − w0), both from the same w0.

    `w` and `w_lin` are dicts of leaf tensors (the trained parameters); `w0` a detached copy of the initial ones."""

    def __init__(self, model: torch.nn.Module, alpha: float):
        self.model, self.alpha = model, float(alpha)
        self.w0 = {k: v.detach().clone() for k, v in model.named_parameters()}
        self.w = {k: torch.nn.Parameter(v.clone()) for k, v in self.w0.items()}
        self.w_lin = {k: torch.nn.Parameter(v.clone()) for k, v in self.w0.items()}

    def h(self, params: dict, x: Tensor) -> Tensor:
        return torch.func.functional_call(self.model, params, (x,))

    def net(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            h0 = self.h(self.w0, x)
        return self.alpha * (self.h(self.w, x) - h0)

    def lin(self, x: Tensor) -> Tensor:
        tangent = {k: self.w_lin[k] - self.w0[k] for k in self.w0}
        _, jv = torch.func.jvp(lambda p: self.h(p, x), (self.w0,), (tangent,))
        return self.alpha * jv

    def params(self) -> list[Tensor]:
        return [*self.w.values(), *self.w_lin.values()]

    @torch.no_grad()
    def weight_change(self) -> float:
        moved = sum((self.w[k] - self.w0[k]).pow(2).sum() for k in self.w0)
        return math.sqrt(float(moved) / float(sum(v.pow(2).sum() for v in self.w0.values())))


def run_vgg(c: VGGLazyConfig, seeds: list[int], device: torch.device, data: dict, *, keep=checkpoint.keep, label=None):
    """One (seed, α) at a time; the α-model and its linearisation train together in one train() call, on the same
    minibatches and augmentation, each with its own SGD-with-momentum state (its loss enters the sum alone)."""
    x = torch.as_tensor(data["x"][: c.subset] if c.subset else data["x"]).to(device)  # uint8 [N, 3, 32, 32]
    xt = torch.as_tensor(data["x_test"][: c.n_test] if c.n_test else data["x_test"]).to(device)
    sets = Images(
        x,
        torch.as_tensor(data["y"][: len(x)]).to(device),
        xt,
        torch.as_tensor(data["y_test"][: len(xt)]).to(device),
        DTYPES[c.dtype],
    )
    rows: list[dict] = []
    keep("lazy-vgg-rows", rows)
    for seed in seeds:
        for alpha in c.alphas:
            fit_vgg(c, seed, alpha, sets, device, rows, keep, label)
    return rows


@dataclass
class Images:
    """The training and test images (uint8, on the device) and labels, and how the model sees them."""

    x: Tensor
    y: Tensor
    x_test: Tensor
    y_test: Tensor
    dtype: torch.dtype

    def prep(self, u8: Tensor) -> Tensor:
        from repro.data.augment import normalize

        return normalize(u8, AUTHORS_MEAN, AUTHORS_STD).to(self.dtype)

    def onehot(self, labels: Tensor) -> Tensor:
        return torch.nn.functional.one_hot(labels, 10).to(self.dtype)

    def evaluate(self, fn, images: Tensor, chunk: int) -> Tensor:
        with torch.no_grad():
            return torch.cat([fn(self.prep(images[i : i + chunk])) for i in range(0, len(images), chunk)])


def fit_vgg(c: VGGLazyConfig, seed: int, alpha: float, d: Images, device, rows: list, keep, label) -> None:
    """Train the α-model of one seed and its linearisation; append their rows."""
    from repro.data.augment import random_crop_flip

    n = len(d.x)
    steps_per_epoch = -(-n // c.batch_size)  # the last batch of an epoch is shorter (DataLoader, drop_last=False)
    total = c.epochs * steps_per_epoch if c.max_steps is None else min(c.max_steps, c.epochs * steps_per_epoch)
    last_epoch = -(-total // steps_per_epoch)
    record_steps = sorted({min(e * steps_per_epoch, total) for e in log_spaced_steps(last_epoch, c.n_records)})
    with torch.random.fork_rng(devices=[]):  # the initial weights, from the seed alone, on the CPU
        torch.manual_seed(seed)  # (cnn/train.py seeds torch globally: torch.manual_seed(58))
        model = VGG(c.width, c.gain).to(d.dtype)
    pair = AlphaPair(model.to(device), alpha)
    gen = torch.Generator(device=device).manual_seed(1_000_003 * seed + 29)  # minibatch order, augmentation
    state: dict[str, Any] = {"step": 0, "perm": None}  # checkpointed (a resumed call restores it)
    keep(f"lazy-vgg-s{seed}-a{alpha:g}-gen", gen)
    keep(f"lazy-vgg-s{seed}-a{alpha:g}-state", state)
    opt: list[torch.optim.Optimizer] = []
    lr_now = lambda: c.lr / (1 + c.lr_decay * (state["step"] // steps_per_epoch))  # noqa: E731  lr0/(1 + decay·epoch)

    def losses() -> Tensor:
        i = state["step"] % steps_per_epoch
        if i == 0:
            state["perm"] = torch.randperm(n, generator=gen, device=device)
        idx = state["perm"][i * c.batch_size : (i + 1) * c.batch_size]
        xb = random_crop_flip(d.x[idx], gen) if c.augment else d.x[idx]
        xb, yb = d.prep(xb), d.onehot(d.y[idx]) / pair.alpha
        state["step"] += 1
        # nn.MSELoss(h − h0, onehot/α) = (1/α²) mean (F − onehot)², for the net and for its linearisation
        net = (pair.net(xb) / pair.alpha - yb).pow(2).mean()
        lin = (pair.lin(xb) / pair.alpha - yb).pow(2).mean()
        return torch.stack([net, lin])

    def make_optimizer(params):
        groups = [{"params": list(pair.w.values())}, {"params": list(pair.w_lin.values())}]
        opt.append(sgd(lr_now(), momentum=c.momentum, weight_decay=0.0)(groups))
        return opt[-1]

    def after_step() -> None:  # the rate of the epoch the next step belongs to
        for g in opt[-1].param_groups:
            g["lr"] = lr_now()

    def record(step: int) -> None:
        epoch = -(-step // steps_per_epoch)
        for metric, images, labels in (
            ("train_loss", d.x[: c.n_train_eval], d.y[: c.n_train_eval]),
            ("test_loss", d.x_test, d.y_test),
        ):
            F = d.evaluate(pair.net, images, c.eval_chunk)
            rows.append(_row(c.width, alpha, seed, epoch, metric, (F - d.onehot(labels)).pow(2).mean().item()))
        if step == total:  # here, not after train(): a resumed run that skips the finished call still has them
            rows.extend(final_rows())

    def final_rows() -> list[dict]:
        F, F_lin = d.evaluate(pair.net, d.x_test, c.eval_chunk), d.evaluate(pair.lin, d.x_test, c.eval_chunk)
        target_rms = d.onehot(d.y_test).pow(2).mean().sqrt().item()
        return [
            _row(c.width, alpha, seed, last_epoch, "weight_change", pair.weight_change()),
            _row(c.width, alpha, seed, last_epoch, "lin_dist", (F - F_lin).pow(2).mean().sqrt().item() / target_rms),
            _row(c.width, alpha, seed, last_epoch, "test_error", (F.argmax(1) != d.y_test).double().mean().item()),
            _row(c.width, alpha, seed, 0, "target_rms", target_rms),
        ]

    train(
        pair.params(),
        losses,
        steps=total,
        optimizer=make_optimizer,
        after_step=after_step,
        record=record,
        record_steps=record_steps,
        label=label(f"seed{seed}", f"alpha={alpha:g}") if label else f"lazy/vgg/seed{seed}/alpha={alpha:g}",
        model_names=[f"seed{seed} alpha={alpha:g} net", f"seed{seed} alpha={alpha:g} linearised"],
        progress_every_s=5.0 if label else None,
    )


def vgg_forward_macs(width: int, layers=VGG11, classes: int = 10) -> int:
    """Multiply-accumulates of one `VGG(width)` forward pass on one 32×32 image (convolutions and head)."""
    macs, cin, side = 0, 3, 32
    for v in layers:
        if v == "M":
            side //= 2
        else:
            cout = max(1, v * width // 64)
            macs += side * side * cout * cin * 9
            cin = cout
    return macs + cin * classes


def vgg_train_flops(c: VGGLazyConfig, n_train: int, n_test: int) -> float:
    """Estimated FLOPs of one (seed, α) of the "cifar10_vgg" task (for Shard.flops): per training image, the net's
    forward and backward (3 forward-equivalents), h(w0) (1), the linearisation's jvp (2) and its backward (4); per
    record, the train-eval and test images once each; at the end the test images through both models (1 + 3)."""
    spe = -(-n_train // c.batch_size)
    total = c.epochs * spe if c.max_steps is None else min(c.max_steps, c.epochs * spe)
    images = min(total * c.batch_size, c.epochs * n_train)
    evals = len(log_spaced_steps(-(-total // spe), c.n_records)) * 2 * (c.n_train_eval + n_test) + 4 * n_test
    return 2.0 * vgg_forward_macs(c.width) * (10 * images + evals)


def fake_cifar(n: int, n_test: int, seed: int = 0) -> dict:
    """Random uint8 images and labels in `repro.data.load`'s CIFAR-10 layout (tests)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
        "y": rng.integers(0, 10, n).astype(np.int64),
        "x_test": rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.int64),
    }
