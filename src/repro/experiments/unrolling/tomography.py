"""U5: learned primal-dual reconstruction (Adler & Öktem 2018) for sparse-angle tomography, against FBP and TV.

The problem is the paper's, at a laptop size (conf/preset/unrolling/laptop.yaml says what is smaller):

    y = K x + e,   K = the parallel-beam ray transform (`radon`) of size × size images over [-1, 1]², `angles`
                   directions over [0, π), normalised to ||K||₂ = 1 as the authors' code does;
                   e = white Gaussian noise × `noise` × mean |K x| (5% in the paper), drawn per image.

Training images are the authors' random ellipses (`repro.data.phantoms`: a Poisson number of signed ellipses with
exponential semi-axes); the test set is held-out ellipses (primary) and the modified Shepp–Logan phantom.

Methods, all batched over images:
  * FBP: ramp filter with a Hann window, its cutoff chosen on the validation ellipses (`radon.fbp`);
  * TV: x = argmin ½ ||Kx - y||² + λ TV(x), isotropic TV, preconditioned Chambolle–Pock (K and ∇ both in the
    dual), λ chosen on the validation ellipses;
  * learned primal-dual ("unrolled"): K iterations, each a dual update dual += Γ(dual, K primal[1], y) and a primal
    update primal += Λ(primal, Kᵀ dual[0]) by small CNNs (3×3 convolutions, PReLU), with `memory` primal and dual
    channels; the result is primal[0]. Xavier initialisation, Adam (β₂ 0.99), cosine decay to 0, gradient-norm
    clipping at 1, fresh measurement noise every step (the authors' ellipses/learned_primal_dual.py).

Nothing is tuned on the test images or on Shepp–Logan. Reconstructions are scored as they are, PSNR = 10 log10(1 /
MSE) with data range 1 (the authors' evaluation: skimage's compare_psnr with dynamic_range=1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING
from torch import nn

from repro.config import ConfigError, positive
from repro.data import DataRef, load
from repro.experiments.unrolling import radon
from repro.experiments.unrolling.claims import CONVERGENCE_WINDOW, U5_WINDOW
from repro.train import log_spaced_steps, train

if TYPE_CHECKING:
    from repro.report.figures import Figure

METHODS = ("truth", "fbp", "tv", "unrolled")
TITLES = {"truth": "truth", "fbp": "FBP", "tv": "TV", "unrolled": "learned primal-dual"}
_NOISE_STREAMS = {"val": 1, "test": 2, "shepp_logan": 3}  # one fixed noise stream per evaluation split


@dataclass
class Tomography:
    """Learned primal-dual vs FBP and TV (protocol in the module docstring).

    The schema only: every value comes from conf/ (the `tomography` section of conf/experiment/unrolling.yaml and
    conf/preset/unrolling/<scale>.yaml, where each value's reason is given), never from a Python default."""

    enabled: bool = MISSING
    size: int = MISSING  # images are size x size over [-1, 1]²
    angles: int = MISSING  # parallel-beam directions over [0, π)
    noise: float = MISSING  # noise std as a fraction of the mean |K x| of each image
    n_ellipse: int = MISSING  # mean number of ellipses per phantom (Poisson)
    n_train: int = MISSING  # random-ellipse training images; fresh noise every step
    n_val: int = MISSING  # validation ellipses: tune FBP and TV, and the network's validation curve
    n_test: int = MISSING  # held-out test ellipses: the claim's images
    data_seed: int = MISSING  # phantoms and the fixed validation/test noise
    seeds: int = MISSING  # the first `seeds` of the scale's seeds each train one network
    iterations: int = MISSING  # unrolled primal-dual iterations
    memory: int = MISSING  # primal and dual memory channels (n_primal = n_dual)
    channels: int = MISSING  # hidden channels of each CNN
    steps: int = MISSING  # Adam steps
    lr: float = MISSING  # Adam's rate, with a cosine decay to 0 over `steps`
    beta2: float = MISSING  # Adam's second-moment decay
    clip: float = MISSING  # global gradient-norm clipping
    batch_size: int = MISSING  # training images per step, each with fresh noise
    tv_iterations: int = MISSING  # Chambolle–Pock iterations
    tv_grid: list[float] = field(default=MISSING)  # log grid (lo, hi, n) of λ
    fbp_cutoffs: list[float] = field(default=MISSING)  # Hann-window cutoffs (fractions of Nyquist) to choose from
    n_records: int = MISSING  # log-spaced training steps with a train-loss, Shepp–Logan and validation PSNR record

    def __post_init__(self) -> None:
        for k in (
            "size",
            "angles",
            "noise",
            "n_ellipse",
            "n_train",
            "n_val",
            "n_test",
            "seeds",
            "iterations",
            "memory",
            "channels",
            "steps",
            "lr",
            "beta2",
            "clip",
            "batch_size",
            "tv_iterations",
            "n_records",
        ):
            positive(f"experiment.tomography.{k}", getattr(self, k))
        if self.size < 8:
            raise ConfigError(f"experiment.tomography.size must be at least 8, got {self.size}")
        if self.memory < 2:
            raise ConfigError(
                f"experiment.tomography.memory must be at least 2 (the primal update reads memory "
                f"channel 1), got {self.memory}"
            )
        if self.data_seed < 0:
            raise ConfigError(f"experiment.tomography.data_seed must be >= 0, got {self.data_seed}")
        check_grid("experiment.tomography.tv_grid", self.tv_grid)
        if not self.fbp_cutoffs or not all(0 < f <= 1 for f in self.fbp_cutoffs):
            raise ConfigError(
                f"experiment.tomography.fbp_cutoffs must list fractions in (0, 1], got {self.fbp_cutoffs!r}"
            )


def check_grid(name: str, grid: list[float]) -> None:
    """A log grid is [lo, hi, n] with 0 < lo < hi and an integer n >= 2."""
    if len(grid) != 3:
        raise ConfigError(f"{name} must be [lo, hi, n] (a log grid), got {grid!r}")
    lo, hi, n = grid
    if not (0 < lo < hi) or n != int(n) or n < 2:
        raise ConfigError(f"{name} must be [lo, hi, n] with 0 < lo < hi and an integer n >= 2, got {grid!r}")


def log_grid(grid: list[float]) -> list[float]:
    lo, hi, n = grid
    return np.logspace(math.log10(lo), math.log10(hi), int(n)).tolist()


def data_ref(c: Tomography) -> DataRef:
    return DataRef(
        "phantoms",
        {
            "size": c.size,
            "n_train": c.n_train,
            "n_val": c.n_val,
            "n_test": c.n_test,
            "seed": c.data_seed,
            "n_ellipse": c.n_ellipse,
        },
    )


def operator(c: Tomography, device=None) -> radon.RayTransform:
    """The normalised ray transform in float32 on `device` (built in float64 on the CPU)."""
    return radon.normalised(radon.ray_transform(c.size, c.angles)).to(device=device, dtype=torch.float32)


def measure(x: torch.Tensor, op: radon.RayTransform, noise: float, generator: torch.Generator) -> torch.Tensor:
    """y = K x + e, e = white noise × `noise` × mean |K x| per image. The noise is drawn on the CPU from
    `generator`, so CPU and GPU runs see the same noise."""
    data = op(x)
    level = noise * data.abs().mean((-2, -1), keepdim=True)
    return data + level * torch.randn(data.shape, generator=generator, dtype=data.dtype).to(data.device)


def grad(x: torch.Tensor) -> torch.Tensor:
    """Forward differences [..., 2, H, W] (horizontal, vertical) of images [..., H, W], zero across the border
    (Neumann), as ODL's Gradient."""
    gx = torch.zeros_like(x)
    gy = torch.zeros_like(x)
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return torch.stack([gx, gy], dim=-3)


def div(p: torch.Tensor) -> torch.Tensor:
    """Divergence, the negative adjoint of `grad`: <grad x, p> = -<x, div p>."""
    px, py = p[..., 0, :, :], p[..., 1, :, :]
    dx = torch.zeros_like(px)
    dy = torch.zeros_like(py)
    dx[..., :, 0] = px[..., :, 0]
    dx[..., :, 1:-1] = px[..., :, 1:-1] - px[..., :, :-2]
    dx[..., :, -1] = -px[..., :, -2]
    dy[..., 0, :] = py[..., 0, :]
    dy[..., 1:-1, :] = py[..., 1:-1, :] - py[..., :-2, :]
    dy[..., -1, :] = -py[..., -2, :]
    return dx + dy


def psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for data range 1, [...] from images [..., H, W]; inf for an exact image."""
    mse = ((x.double() - ref.double()) ** 2).mean((-2, -1))
    return 10 * torch.log10(1 / mse)


# ---------------------------------------------------------------- classical reconstructions


def _as_lam(lam, like: torch.Tensor) -> torch.Tensor:
    """λ (a float, or one value per index of the leading dimensions) shaped to broadcast against `like`."""
    lam = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    return lam.reshape(tuple(lam.shape) + (1,) * (like.dim() - lam.dim()))


def tv_norm(x: torch.Tensor) -> torch.Tensor:
    """Isotropic TV, Σ_pixels |∇x|, per image [...]."""
    return grad(x).pow(2).sum(-3).sqrt().sum((-2, -1))


def tv_objective(x: torch.Tensor, y: torch.Tensor, op: radon.RayTransform, lam) -> torch.Tensor:
    """½ ||K x - y||² + λ TV(x), per image."""
    tv = tv_norm(x)
    return 0.5 * (op(x) - y).pow(2).sum((-2, -1)) + _as_lam(lam, tv) * tv


def tv_reconstruct(
    y: torch.Tensor, op: radon.RayTransform, lam, iterations: int, x0: torch.Tensor | None = None
) -> torch.Tensor:
    """argmin_x ½ ||K x - y||² + λ TV(x) by Chambolle–Pock with diagonal preconditioning (Pock & Chambolle 2011,
    α = 1): K and ∇ both in the dual, the data term's dual prox q -> (q - σ y) / (1 + σ), TV's the projection onto
    the λ-ball of the pointwise 2-norm. The steps are per element and need no tuning: σ = 1 / (row sums of |K|)
    for the rays, 1/2 for the gradient (two entries of ±1 per row), τ = 1 / (column sums of |K| + 4) per pixel;
    convergence holds for any λ. Starts from `x0` (default FBP, which the iteration forgets: it only shortens the
    way to the same minimiser). `lam` is a float or a tensor broadcast against y's leading dimensions."""
    ones_img = torch.ones(op.size, op.size, dtype=y.dtype, device=y.device)
    ones_sino = torch.ones(op.angles, op.detectors, dtype=y.dtype, device=y.device)
    row = op(ones_img)  # K ≥ 0, so K 1 and Kᵀ 1 are the row and column sums of |K|
    sigma_q = torch.where(row > 0, 1 / row.clamp(min=1e-12), torch.ones_like(row))
    tau = 1 / (op.adjoint(ones_sino) + 4.0)
    sigma_p = 0.5
    x = radon.fbp(op, y) if x0 is None else x0.expand(*y.shape[:-2], op.size, op.size).clone()
    q = torch.zeros_like(y)
    p = torch.zeros((*x.shape[:-2], 2, *x.shape[-2:]), dtype=y.dtype, device=y.device)
    lam_p = _as_lam(lam, p)
    x_bar = x
    for _ in range(iterations):
        q = (q + sigma_q * (op(x_bar) - y)) / (1 + sigma_q)
        p = p + sigma_p * grad(x_bar)
        p = p / torch.clamp(p.pow(2).sum(-3, keepdim=True).sqrt() / lam_p, min=1.0)
        x_new = x - tau * (op.adjoint(q) - div(p))
        x_bar = 2 * x_new - x
        x = x_new
    return x


def tune(solve, y_val: torch.Tensor, x_val: torch.Tensor, grid: list[float]) -> tuple[float, list[float]]:
    """The parameter of `grid` with the best mean validation PSNR, and every value's mean PSNR.

    `solve(y, values)` takes measurements [L, N, ...] and values [L], so the whole grid runs as one batch."""
    values = torch.tensor(grid, dtype=y_val.dtype, device=y_val.device)
    x = solve(y_val.expand(len(grid), *y_val.shape), values)
    scores = psnr(x, x_val).mean(-1).tolist()
    best = int(np.nanargmax(scores))
    return grid[best], scores


def fbp_batch(op: radon.RayTransform, y: torch.Tensor, cutoffs) -> torch.Tensor:
    """FBP of y [L, N, A, D] with one window cutoff per leading index (a float: the same for all)."""
    if not torch.is_tensor(cutoffs) or cutoffs.dim() == 0:
        return radon.fbp(op, y, float(cutoffs))
    return torch.stack([radon.fbp(op, yy, float(f)) for yy, f in zip(y, cutoffs)])


# ---------------------------------------------------------------- learned primal-dual


def _cnn(inputs: int, channels: int, outputs: int) -> nn.Sequential:
    """conv 3×3 → PReLU → conv 3×3 → PReLU → conv 3×3, Xavier-initialised (the authors' apply_conv)."""
    net = nn.Sequential(
        nn.Conv2d(inputs, channels, 3, padding=1),
        nn.PReLU(channels),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.PReLU(channels),
        nn.Conv2d(channels, outputs, 3, padding=1),
    )
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


class PrimalDual(nn.Module):
    """Learned primal-dual: `iterations` dual and primal residual updates with `memory` channels each."""

    def __init__(self, op: radon.RayTransform, iterations: int, memory: int, channels: int):
        super().__init__()
        self.op, self.memory = op, memory
        self.dual_nets = nn.ModuleList(_cnn(memory + 2, channels, memory) for _ in range(iterations))
        self.primal_nets = nn.ModuleList(_cnn(memory + 1, channels, memory) for _ in range(iterations))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Reconstructions [B, H, W] from sinograms [B, angles, detectors]."""
        b = y.shape[0]
        primal = y.new_zeros(b, self.memory, self.op.size, self.op.size)
        dual = y.new_zeros(b, self.memory, *y.shape[-2:])
        for gamma, lam in zip(self.dual_nets, self.primal_nets):
            dual = dual + gamma(torch.cat([dual, self.op(primal[:, 1:2]), y[:, None]], 1))
            primal = primal + lam(torch.cat([primal, self.op.adjoint(dual[:, 0:1])], 1))
        return primal[:, 0]


def make_network(seed: int, op: radon.RayTransform, c: Tomography) -> PrimalDual:
    """The network's initial weights depend on the seed alone (built on the CPU, then moved)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PrimalDual(op, c.iterations, c.memory, c.channels)
    return net.to(op.matrix.device)


@torch.no_grad()
def reconstruct(net: PrimalDual, y: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """The network on many measurements, in chunks to bound memory."""
    return torch.cat([net(y[i : i + batch]) for i in range(0, len(y), batch)])


# ---------------------------------------------------------------- the shard


def run(ctx) -> pd.DataFrame:
    """Tune the baselines on the validation ellipses, train one network per seed, score every method on the
    test ellipses and on Shepp–Logan. A tidy table (columns `COLUMNS`) with Shepp–Logan's reconstructions."""
    c: Tomography = ctx.exp.tomography
    seeds = list(ctx.seeds[: c.seeds])
    x, y, op = problem(c, ctx.data_dir, ctx.device)
    label = ctx.label()

    print(f"[{label}] tuning the FBP window and the TV λ on {c.n_val} validation ellipses ...", flush=True)
    t0 = time.perf_counter()
    recon, chosen, val = classical(c, op, x, y)
    print(
        f"[{label}] chosen: FBP cutoff {chosen['fbp']:.3g}, TV λ {chosen['tv']:.3g} ({time.perf_counter() - t0:.1f} "
        f"s); validation PSNR "
        + ", ".join(f"{m} {v:.2f} dB" for m, v in val.items())
        + f"; TV gained {chosen['tv_gain']:.2f} dB over its last 10% of iterations",
        flush=True,
    )

    rows: list[dict] = []
    ctx.keep("rows", rows)  # a resumed run gets these back (see repro.checkpoint)
    for seed in seeds:
        for m, (sl, test) in recon.items():
            rows += score_rows(m, seed, 0, sl, test, x)
        rows += [_row("reg", chosen[m], method=m, seed=seed, image="") for m in ("fbp", "tv")]
        rows.append(_row("tv_gain", chosen["tv_gain"], method="tv", seed=seed, image="ellipses"))
        t0 = time.perf_counter()
        net, curve = train_network(ctx, c, seed, op, x, y)
        sl = reconstruct(net, y["shepp_logan"][None])[0]
        rows += curve + score_rows("unrolled", seed, c.steps, sl, reconstruct(net, y["test"]), x)
        print(f"[{label}] seed {seed}: trained in {time.perf_counter() - t0:.1f} s", flush=True)
        if seed == seeds[0]:
            images = {"truth": x["shepp_logan"], **{m: r[0] for m, r in recon.items()}, "unrolled": sl}
            rows += example_rows(images, seed, c.steps)
    table = pd.DataFrame(rows, columns=COLUMNS)
    last = table[(table["metric"] == "val_psnr") & (table["step"] == c.steps)]
    print(
        f"[{label}] finished: learned primal-dual validation PSNR (seeds {seeds}) "
        + ", ".join(f"{v:.2f}" for v in last["value"])
        + " dB (test scores: the report)",
        flush=True,
    )
    return table


COLUMNS = ["method", "seed", "image", "step", "layer", "pixel", "metric", "value"]


def _row(
    metric: str,
    value: float,
    *,
    method: str,
    seed: int,
    image: str,
    step: int = 0,
    layer: float = float("nan"),
    pixel: float = float("nan"),
) -> dict:
    return dict(
        method=method, seed=seed, image=image, step=step, layer=layer, pixel=pixel, metric=metric, value=float(value)
    )


def problem(c: Tomography, data_dir, device) -> tuple[dict, dict, radon.RayTransform]:
    """Images x and measurements y per split ("train" has no fixed measurements), and the ray transform.

    Validation, test and Shepp–Logan noise come from fixed generators (data_seed), so every method and
    every seed sees the same measurements."""
    d = load(data_ref(c), data_dir)
    x = {k: torch.tensor(d[f"x_{k}"], device=device) for k in ("train", "val", "test")}
    x["shepp_logan"] = torch.tensor(d["shepp_logan"], device=device)
    op = operator(c, device)
    y = {
        k: measure(x[k], op, c.noise, torch.Generator().manual_seed(_noise_seed(c.data_seed, k)))
        for k in _NOISE_STREAMS
    }
    return x, y, op


def _noise_seed(data_seed: int, split: str) -> int:
    """Evaluation noise streams, far from the small training seeds."""
    return 1_000_003 * (data_seed + 1) + _NOISE_STREAMS[split]


def classical(c: Tomography, op: radon.RayTransform, x: dict, y: dict) -> tuple[dict, dict, dict]:
    """Each baseline's parameter tuned on the validation set, its (Shepp–Logan, test) reconstructions, and its
    mean validation PSNR."""
    solvers = {
        "fbp": (lambda yy, f: fbp_batch(op, yy, f), list(c.fbp_cutoffs), "fbp_cutoffs"),
        "tv": (lambda yy, lam: tv_reconstruct(yy, op, lam, c.tv_iterations), log_grid(c.tv_grid), "tv_grid"),
    }
    recon, chosen, val = {}, {}, {}
    for m, (solve, grid, key) in solvers.items():
        chosen[m], scores = tune(solve, y["val"], x["val"], grid)
        val[m] = max(scores)
        if len(grid) > 1 and chosen[m] in (min(grid), max(grid)) and not (m == "fbp" and chosen[m] == 1.0):
            print(
                f"warning: the {m} parameter chosen on validation, {chosen[m]:.3g}, is at the edge of its grid "
                f"{grid}; widen experiment.tomography.{key}",
                flush=True,
            )
        recon[m] = (solve(y["shepp_logan"], chosen[m]), solve(y["test"], chosen[m]))
    # TV is iterative: its validation PSNR at the chosen λ over the last 10% of its iterations says whether it
    # had reached its plateau (the claims' precondition for the baselines)
    early = tv_reconstruct(y["val"], op, chosen["tv"], int(round((1 - CONVERGENCE_WINDOW) * c.tv_iterations)))
    chosen["tv_gain"] = val["tv"] - float(psnr(early, x["val"]).mean())
    return recon, chosen, val


def score_rows(method: str, seed: int, step: int, sl: torch.Tensor, test: torch.Tensor, x: dict) -> list[dict]:
    """PSNR on Shepp–Logan, and the mean and std of the PSNR over the test ellipses."""
    p = psnr(test, x["test"])
    base = dict(method=method, seed=seed, step=step)
    return [
        _row("psnr", psnr(sl, x["shepp_logan"]).item(), image="shepp_logan", **base),
        _row("psnr", p.mean().item(), image="ellipses", **base),
        _row("psnr_std", p.std().item() if len(p) > 1 else 0.0, image="ellipses", **base),
    ]


def example_rows(images: dict, seed: int, steps: int) -> list[dict]:
    """Shepp–Logan reconstructions, one row per pixel (row-major flat index)."""
    rows = []
    for m, img in images.items():
        step = steps if m == "unrolled" else 0
        rows += [
            _row("recon", v, method=m, seed=seed, image="shepp_logan", step=step, pixel=i)
            for i, v in enumerate(img.flatten().tolist())
        ]
    return rows


class ClippedAdam(torch.optim.Adam):
    """Adam after clipping the global gradient norm at `clip` (the authors' tf.clip_by_global_norm(…, 1))."""

    def __init__(self, params, *, clip: float, **kw):
        super().__init__(params, **kw)
        self.clip = clip

    def step(self, closure=None):
        nn.utils.clip_grad_norm_([p for g in self.param_groups for p in g["params"]], self.clip, foreach=True)
        return super().step(closure)


def train_network(
    ctx, c: Tomography, seed: int, op: radon.RayTransform, x: dict, y: dict
) -> tuple[PrimalDual, list[dict]]:
    """Adam on the MSE over minibatches of training ellipses with fresh noise; the minibatches and noise come
    from a CPU generator seeded by `seed`, the initial weights from `seed` too. Records, at log-spaced steps and at
    the start of the claims' convergence windows (U5_WINDOW, CONVERGENCE_WINDOW), the mean minibatch loss
    since the previous record ("train_loss"), the Shepp–Logan PSNR, and the validation curve: the mean PSNR over
    the validation ellipses ("val_psnr"), also after the last step."""
    net = make_network(seed, op, c)
    gen = torch.Generator().manual_seed(seed)
    since = {"sum": 0.0, "n": 0}  # minibatch losses since the last record (a tensor sum: no sync per step)
    rows: list[dict] = []
    base = dict(method="unrolled", seed=seed)
    for name, obj in (("net", net), ("gen", gen), ("since", since), ("rows", rows)):
        ctx.keep(f"seed{seed}-{name}", obj)

    def losses() -> torch.Tensor:
        idx = torch.randint(len(x["train"]), (c.batch_size,), generator=gen).to(x["train"].device)
        truth = x["train"][idx]
        loss = (net(measure(truth, op, c.noise, gen)) - truth).pow(2).mean()
        since["sum"] = since["sum"] + loss.detach()
        since["n"] += 1
        return loss.reshape(1)

    def train_loss(step: int) -> None:
        if since["n"]:
            rows.append(_row("train_loss", float(since["sum"]) / since["n"], image="ellipses", step=step, **base))
        since.update(sum=0.0, n=0)

    def val_psnr(step: int) -> None:
        p = psnr(reconstruct(net, y["val"]), x["val"]).mean().item()
        rows.append(_row("val_psnr", p, image="ellipses", step=step, **base))

    def record(step: int) -> None:
        train_loss(step)
        sl = net(y["shepp_logan"][None])[0]
        rows.append(_row("psnr", psnr(sl, x["shepp_logan"]).item(), image="shepp_logan", step=step, **base))
        val_psnr(step)

    sched = {}

    def optimizer(params):
        opt = ClippedAdam(params, clip=c.clip, lr=c.lr, betas=(0.9, c.beta2), foreach=True)
        sched["lr"] = torch.optim.lr_scheduler.CosineAnnealingLR(opt, c.steps)  # the authors' cosine_decay
        ctx.keep(f"seed{seed}-lr", sched["lr"])
        return opt

    def after_step() -> None:
        sched["lr"].step()

    windows = [int(round((1 - w) * c.steps)) for w in (CONVERGENCE_WINDOW, U5_WINDOW)]  # the claims' windows
    records = sorted({s for s in (*log_spaced_steps(c.steps, c.n_records), *windows) if s < c.steps})  # last: below
    train(
        list(net.parameters()),
        losses,
        steps=c.steps,
        optimizer=optimizer,
        record=record,
        record_steps=records,
        label=ctx.label(f"seed{seed}"),
        model_names=[f"seed{seed}"],
        after_step=after_step,
    )
    train_loss(c.steps)
    val_psnr(c.steps)  # the Shepp–Logan PSNR at the last step is in score_rows
    return net, rows


# ---------------------------------------------------------------- report


def final_psnr(table: pd.DataFrame) -> pd.DataFrame:
    """The result rows: PSNR per method, seed and image at each method's last step (classical: step 0)."""
    t = table[(table["metric"] == "psnr") & table["method"].isin(METHODS)]
    if t.empty:
        return t
    last = t.groupby(["method", "seed", "image"])["step"].transform("max")
    return t[t["step"] == last]


def protocol_row(c: Tomography) -> dict:
    return {
        "key": "tomography (U5)",
        "value": f"y = K x + e with K the parallel-beam ray transform of {c.size}×{c.size} images over [-1, 1]² "
        f"at {c.angles} angles (normalised to ||K|| = 1) and e white Gaussian noise × {c.noise:g} × mean "
        f"|K x|; the authors' random-ellipse phantoms (Poisson({c.n_ellipse}) signed ellipses with "
        f"exponential semi-axes; {c.n_train} training, {c.n_val} validation, {c.n_test} held-out test) "
        f"and the modified Shepp–Logan phantom; FBP (Hann-windowed ramp, cutoff chosen from "
        f"{list(c.fbp_cutoffs)}) and isotropic TV (Chambolle–Pock, {c.tv_iterations} iterations, λ on a "
        f"log grid), each tuned by the mean validation PSNR; learned primal-dual with {c.iterations} "
        f"iterations, {c.memory} primal and dual memory channels and 3-layer {c.channels}-channel PReLU "
        f"CNNs, trained with Adam (lr {c.lr:g}, β₂ {c.beta2:g}, cosine decay, gradient norm clipped at "
        f"{c.clip:g}) for {c.steps} steps of {c.batch_size} images with fresh noise, for {c.seeds} "
        "seed(s); the mean validation PSNR is recorded over training (the claims' convergence "
        "precondition)",
    }


def figures(table: pd.DataFrame) -> list:
    """The Shepp–Logan reconstructions, the PSNR per method, and the unrolled network's learning curve
    (`repro.report.figures.Figure`s), each only when its rows are present."""
    from repro.report.figures import style  # matplotlib and seaborn load only when plotting

    if table.empty or "method" not in table.columns:
        return []
    style()
    final = final_psnr(table)
    figs = [f for f in (_examples(table, final), _psnr_figure(final), _curve(table, final)) if f is not None]
    return figs


def _examples(table: pd.DataFrame, final: pd.DataFrame) -> Figure | None:
    import matplotlib.pyplot as plt

    from repro.report.figures import Figure

    ex = table[table["metric"] == "recon"]
    methods = [m for m in METHODS if (ex["method"] == m).any()]
    if not methods:
        return None
    seed = ex["seed"].min()
    fig, axes = plt.subplots(1, len(methods), figsize=(2.2 * len(methods), 2.9), squeeze=False)
    for ax, m in zip(axes[0], methods):
        rows = ex[(ex["method"] == m) & (ex["seed"] == seed)].sort_values("pixel")
        n = int(round(math.sqrt(len(rows))))
        ax.imshow(rows["value"].to_numpy().reshape(n, n), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        score = final[(final["method"] == m) & (final["seed"] == seed) & (final["image"] == "shepp_logan")]
        ax.set_title(TITLES[m] + (f"\n{score['value'].iloc[0]:.2f} dB" if len(score) else ""), fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return Figure(
        "u5_examples",
        fig,
        "The modified Shepp–Logan phantom and its reconstructions from a few noisy projections (seed "
        f"{seed}), all on the same grey scale [0, 1], titled with their PSNR. Look at the streaks between "
        "the few projection angles: FBP keeps them, TV flattens them into patches and loses the small "
        "ellipses near the bottom; the learned reconstruction should keep edges without streaks.",
    )


def _psnr_figure(final: pd.DataFrame) -> Figure | None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    from repro.report.figures import Figure

    methods = [m for m in METHODS[1:] if (final["method"] == m).any()]
    images = [i for i in ("shepp_logan", "ellipses") if (final["image"] == i).any()]
    if not methods or not images:
        return None
    fig, axes = plt.subplots(1, len(images), figsize=(4.2 * len(images), 3.2), squeeze=False)
    for ax, image in zip(axes[0], images):
        t = final[(final["image"] == image) & final["method"].isin(methods)]
        sns.stripplot(
            data=t,
            x="method",
            y="value",
            order=methods,
            hue="seed",
            palette="viridis",
            ax=ax,
            jitter=0.15,
            size=5,
            legend=ax is axes[0][-1],
        )
        ax.set_xticks(range(len(methods)), [TITLES[m] for m in methods])
        ax.set_xlabel("")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title("Shepp–Logan" if image == "shepp_logan" else "test ellipses (mean over images)", fontsize=9)
    fig.tight_layout()
    return Figure(
        "u5_psnr",
        fig,
        "PSNR of each method on the Shepp–Logan phantom and on the test ellipses, one point per "
        "training seed (FBP and TV do not depend on the seed; their parameters are tuned on validation "
        "ellipses). The learned primal-dual network should sit above both baselines on the ellipses it was "
        "trained for; Shepp–Logan is outside its training distribution, so look at whether the gain "
        "carries over.",
    )


def _curve(table: pd.DataFrame, final: pd.DataFrame) -> Figure | None:
    import matplotlib.pyplot as plt

    from repro.report.figures import Figure

    curve = table[(table["method"] == "unrolled") & (table["metric"] == "psnr") & (table["image"] == "shepp_logan")]
    if curve["step"].nunique() < 2:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for seed, g in curve.groupby("seed"):
        g = g.sort_values("step")
        ax.plot(g["step"] + 1, g["value"], marker="o", ms=3, label=f"learned primal-dual, seed {seed}")
    for m, ls in (("fbp", ":"), ("tv", "--")):
        v = final[(final["method"] == m) & (final["image"] == "shepp_logan")]["value"]
        if len(v):
            ax.axhline(v.iloc[0], color="0.3", ls=ls, lw=1, label=TITLES[m])
    ax.set_xscale("log")
    ax.set_xlabel("training step + 1")
    ax.set_ylabel("Shepp–Logan PSNR (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure(
        "u5_curve",
        fig,
        "The learned primal-dual network's Shepp–Logan PSNR during training (step 0: the untrained, "
        "Xavier-initialised network), against the tuned baselines (horizontal lines). The "
        "curve should rise and level off; a curve still rising at the end means the training budget, "
        "not the method, limits the result.",
    )
