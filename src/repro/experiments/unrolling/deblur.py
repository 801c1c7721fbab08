"""U5: an unrolled reconstruction network for 2-D deblurring against tuned Tikhonov and TV reconstructions.

The protocol follows the ellipse-trained learned reconstruction papers (e.g. Adler & Öktem 2018, learned
primal-dual: random-ellipse training images, the Shepp–Logan phantom as the test image, a few unrolled
iterations with a small CNN each, Adam with cosine annealing), here with a blur instead of a ray transform:

    y = A x + e,   A = circular convolution with a normalised Gaussian PSF (std `blur_sigma` pixels),
                   e ~ N(0, noise_std²) per pixel, images in [0, 1].

Methods, all batched over images:
  * Tikhonov (gradient prior): x = argmin ||Ax - y||² + λ ||∇x||², closed form in the Fourier domain;
  * TV: x = argmin ½ ||Ax - y||² + λ TV(x), isotropic TV, Chambolle–Pock primal–dual iterations;
  * unrolled: K learned proximal-gradient steps  x_{k+1} = x_k - α_k Aᵀ(A x_k - y) + CNN_k(x_k, Aᵀ(A x_k - y)),
    x_0 = Aᵀ y, one small CNN per iteration (not shared) and a learned step size α_k per iteration.

∇ is the periodic forward difference, matching the circular blur, so every operator is diagonal in the
Fourier domain. Each baseline's λ is chosen on a log grid by the mean PSNR on the validation ellipses and
then used for every test image; nothing is tuned on the test images or on Shepp–Logan. Reconstructions are
scored as they are (no clipping), PSNR = 10 log10(1 / MSE) with data range 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING
from torch import nn

from repro.config import ConfigError, positive
from repro.data import DataRef, load
from repro.experiments.unrolling.claims import CONVERGENCE_WINDOW
from repro.train import adam, log_spaced_steps, train

if TYPE_CHECKING:
    from repro.report.figures import Figure

METHODS = ("truth", "measurement", "tikhonov", "tv", "unrolled")
TITLES = {"truth": "truth", "measurement": "measurement", "tikhonov": "Tikhonov", "tv": "TV", "unrolled": "unrolled"}
_NOISE_STREAMS = {"val": 1, "test": 2, "shepp_logan": 3}  # one fixed noise stream per evaluation split


@dataclass
class Deblur:
    """Deblurring by an unrolled network vs Tikhonov and TV (protocol in the module docstring).

    The schema only: every value comes from conf/ (the `deblur` section of conf/experiment/unrolling.yaml and
    conf/preset/unrolling/<scale>.yaml, where each value's reason is given), never from a Python default."""

    enabled: bool = MISSING
    size: int = MISSING  # images are size x size
    blur_sigma: float = MISSING  # Gaussian PSF std in pixels
    noise_std: float = MISSING  # per-pixel noise std, images in [0, 1]
    n_train: int = MISSING  # random-ellipse training images; fresh noise every step makes the pairs unlimited
    n_val: int = MISSING  # validation ellipses: tune the baselines' λ, and the network's validation curve
    n_test: int = MISSING  # test ellipses: the reported mean PSNR and its spread
    data_seed: int = MISSING  # phantoms and the fixed validation/test noise
    seeds: int = MISSING  # the first `seeds` of the scale's seeds each train one network
    iterations: int = MISSING  # unrolled depth K
    channels: int = MISSING  # CNN width per iteration
    steps: int = MISSING  # Adam steps
    lr: float = MISSING  # Adam's rate, annealed to 0 with a cosine when `cosine`
    batch_size: int = MISSING  # training images per step, each with fresh noise
    cosine: bool = MISSING  # cosine annealing of the learning rate over `steps`
    tv_iterations: int = MISSING  # Chambolle–Pock iterations (see TV_STEP)
    tikhonov_grid: list[float] = field(default=MISSING)  # log grid (lo, hi, n)
    tv_grid: list[float] = field(default=MISSING)  # log grid (lo, hi, n)
    n_records: int = MISSING  # log-spaced training steps with a train-loss, Shepp–Logan and validation PSNR record

    def __post_init__(self) -> None:
        for k in ("size", "blur_sigma", "noise_std", "n_train", "n_val", "n_test", "seeds", "iterations",
                  "channels", "steps", "lr", "batch_size", "tv_iterations", "n_records"):
            positive(f"experiment.deblur.{k}", getattr(self, k))
        if self.size < 8:
            raise ConfigError(f"experiment.deblur.size must be at least 8, got {self.size}")
        if self.data_seed < 0:
            raise ConfigError(f"experiment.deblur.data_seed must be >= 0, got {self.data_seed}")
        for name in ("tikhonov_grid", "tv_grid"):
            check_grid(f"experiment.deblur.{name}", getattr(self, name))


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


def data_ref(c: Deblur) -> DataRef:
    return DataRef("phantoms", {"size": c.size, "n_train": c.n_train, "n_val": c.n_val, "n_test": c.n_test,
                                "seed": c.data_seed})


# ---------------------------------------------------------------- the forward operator


def make_otf(size: int, sigma: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """The optical transfer function (rfft2 of the PSF), complex [size, size // 2 + 1].

    The PSF is a Gaussian centred on pixel (0, 0) with periodic distances and sums to 1, so the blur keeps
    the image mean and is symmetric (A = Aᵀ, a real OTF up to rounding)."""
    d = torch.arange(size, dtype=torch.float64)
    d = torch.minimum(d, size - d)  # periodic distance to pixel 0
    psf = torch.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma**2))
    psf = psf / psf.sum()
    return torch.fft.rfft2(psf.to(dtype)).to(device)


def blur(x: torch.Tensor, otf: torch.Tensor) -> torch.Tensor:
    """A x: circular convolution of images [..., H, W] with the PSF."""
    return torch.fft.irfft2(torch.fft.rfft2(x) * otf, s=x.shape[-2:])


def blur_adjoint(y: torch.Tensor, otf: torch.Tensor) -> torch.Tensor:
    """Aᵀ y: correlation with the PSF (multiplication by the conjugate OTF)."""
    return torch.fft.irfft2(torch.fft.rfft2(y) * otf.conj(), s=y.shape[-2:])


def measure(x: torch.Tensor, otf: torch.Tensor, noise_std: float, generator: torch.Generator) -> torch.Tensor:
    """y = A x + e. The noise is drawn on the CPU from `generator`, so CPU and GPU runs see the same noise."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return blur(x, otf) + noise_std * noise


def laplacian_symbol(size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Eigenvalues of ∇ᵀ∇ (periodic forward differences) on the rfft2 grid, [size, size // 2 + 1]."""
    rows = 2 - 2 * torch.cos(2 * math.pi * torch.arange(size, dtype=torch.float64) / size)
    cols = rows[: size // 2 + 1]
    return (rows[:, None] + cols[None, :]).to(device=device, dtype=dtype)


def grad(x: torch.Tensor) -> torch.Tensor:
    """Periodic forward differences [..., 2, H, W] (horizontal, vertical) of images [..., H, W]."""
    return torch.stack([x.roll(-1, -1) - x, x.roll(-1, -2) - x], dim=-3)


def div(p: torch.Tensor) -> torch.Tensor:
    """Divergence, the negative adjoint of `grad`: <grad x, p> = -<x, div p>."""
    return (p[..., 0, :, :] - p[..., 0, :, :].roll(1, -1)) + (p[..., 1, :, :] - p[..., 1, :, :].roll(1, -2))


def psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for data range 1, [...] from images [..., H, W]; inf for an exact image."""
    mse = ((x.double() - ref.double()) ** 2).mean((-2, -1))
    return 10 * torch.log10(1 / mse)


# ---------------------------------------------------------------- classical reconstructions


def _as_lam(lam, like: torch.Tensor) -> torch.Tensor:
    """λ (a float, or one value per index of the leading dimensions) shaped to broadcast against `like`."""
    lam = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    return lam.reshape(tuple(lam.shape) + (1,) * (like.dim() - lam.dim()))


def tikhonov(y: torch.Tensor, otf: torch.Tensor, lam) -> torch.Tensor:
    """argmin_x ||A x - y||² + λ ||∇x||², exactly: x̂ = conj(Â) ŷ / (|Â|² + λ |D̂|²) per frequency.

    The gradient prior (not ||x||²) leaves the mean untouched and smooths rather than shrinks, the stronger
    of the two classical choices. `lam` is a float or a tensor broadcast against y's leading dimensions."""
    lap = laplacian_symbol(y.shape[-1], y.device, y.dtype)
    lam = _as_lam(lam, y)
    num = torch.fft.rfft2(y) * otf.conj()
    return torch.fft.irfft2(num / (otf.abs() ** 2 + lam * lap), s=y.shape[-2:])


def tv_norm(x: torch.Tensor) -> torch.Tensor:
    """Isotropic TV, Σ_pixels |∇x|, per image [...]."""
    return grad(x).pow(2).sum(-3).sqrt().sum((-2, -1))


def tv_objective(x: torch.Tensor, y: torch.Tensor, otf: torch.Tensor, lam) -> torch.Tensor:
    """½ ||A x - y||² + λ TV(x), per image."""
    tv = tv_norm(x)
    return 0.5 * (blur(x, otf) - y).pow(2).sum((-2, -1)) + _as_lam(lam, tv) * tv


# Step sizes: τ = TV_STEP / λ (primal) and σ = 0.99 / (8 τ) (dual), so τ σ ||∇||² < 1 (||∇||² = 8) for every λ.
# The dual variable is bounded by λ and the primal by the image range, so the balanced ratio σ / τ grows like
# λ²; a fixed τ is fast at one λ and slow at others. With TV_STEP = 0.02, 300 iterations came within 0.005 dB of
# the converged PSNR (5000 iterations; objective within 0.1%) on 20 validation ellipses for every λ from 1e-4 to
# 1e-1 (blur σ 1.5, noise 0.01); 0.01 was up to 0.08 dB short, the classical τ = σ = 1/√8 0.3-2 dB short.
TV_STEP = 0.02


def tv_reconstruct(y: torch.Tensor, otf: torch.Tensor, lam, iterations: int, tau: float | None = None) -> torch.Tensor:
    """argmin_x ½ ||A x - y||² + λ TV(x) by Chambolle–Pock (2011, Algorithm 1, θ = 1).

    The data term is the primal function: its prox is exact in the Fourier domain (A is circular), so
    only ∇ is split off, and the iteration converges for τ σ ||∇||² < 1. The dual variable lives in the
    λ-ball of the pointwise 2-norm. Starts from x = y. `lam` as in `tikhonov`; `tau` overrides the
    primal step (default TV_STEP / λ)."""
    p = torch.zeros((*y.shape[:-2], 2, *y.shape[-2:]), dtype=y.dtype, device=y.device)
    lam_x, lam_p = _as_lam(lam, y), _as_lam(lam, p)
    tau_x = TV_STEP / lam_x if tau is None else torch.full_like(lam_x, tau)
    sigma_p = 0.99 / (8 * tau_x.reshape(lam_p.shape))
    aty_hat = torch.fft.rfft2(y) * otf.conj() * tau_x
    denom = 1 + tau_x * otf.abs() ** 2
    x = y.clone()
    x_bar = x
    for _ in range(iterations):
        p = p + sigma_p * grad(x_bar)
        p = p / torch.clamp(p.pow(2).sum(-3, keepdim=True).sqrt() / lam_p, min=1.0)  # project onto |p| <= λ
        x_new = torch.fft.irfft2((aty_hat + torch.fft.rfft2(x + tau_x * div(p))) / denom, s=y.shape[-2:])
        x_bar = 2 * x_new - x
        x = x_new
    return x


def tune(solve, y_val: torch.Tensor, x_val: torch.Tensor, grid: list[float]) -> tuple[float, list[float]]:
    """The λ of `grid` with the best mean validation PSNR, and every λ's mean PSNR.

    `solve(y, lam)` takes measurements [L, N, H, W] and λ [L], so the whole grid runs as one batch."""
    lam = torch.tensor(grid, dtype=y_val.dtype, device=y_val.device)
    x = solve(y_val.expand(len(grid), *y_val.shape), lam)
    scores = psnr(x, x_val).mean(-1).tolist()
    best = int(np.nanargmax(scores))
    return grid[best], scores


# ---------------------------------------------------------------- the unrolled network


def _cnn(channels: int) -> nn.Sequential:
    """Three 3x3 conv layers on (x_k, gradient_k). Zero padding: the phantoms are dark at the border, and
    circular padding cost a third of the CPU step time. The last layer starts at zero, so the untrained
    network is exactly K gradient steps (Landweber) with step 1."""
    def conv(i, o):
        return nn.Conv2d(i, o, 3, padding=1)

    net = nn.Sequential(conv(2, channels), nn.ReLU(), conv(channels, channels), nn.ReLU(), conv(channels, 1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class Unrolled(nn.Module):
    """K unrolled proximal-gradient iterations with learned step sizes and one residual CNN per iteration."""

    def __init__(self, otf: torch.Tensor, iterations: int, channels: int):
        super().__init__()
        self.register_buffer("otf", otf, persistent=False)
        self.step_sizes = nn.Parameter(torch.ones(iterations))  # α_k = 1 = 1 / ||A||², a safe start
        self.nets = nn.ModuleList(_cnn(channels) for _ in range(iterations))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Reconstructions [B, H, W] from measurements [B, H, W]."""
        x = blur_adjoint(y, self.otf)
        for alpha, net in zip(self.step_sizes, self.nets):
            g = blur_adjoint(blur(x, self.otf) - y, self.otf)
            x = x - alpha * g + net(torch.stack([x, g], 1)).squeeze(1)
        return x


def make_network(seed: int, otf: torch.Tensor, c: Deblur) -> Unrolled:
    """The network's initial weights depend on the seed alone (built on the CPU, then moved)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Unrolled(otf.cpu(), c.iterations, c.channels)
    return net.to(otf.device)


@torch.no_grad()
def reconstruct(net: Unrolled, y: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """The network on many measurements, in chunks to bound memory."""
    return torch.cat([net(y[i:i + batch]) for i in range(0, len(y), batch)])


# ---------------------------------------------------------------- the shard


def run(ctx) -> pd.DataFrame:
    """Tune the baselines on the validation ellipses, train one network per seed, score every method on the
    test ellipses and on Shepp–Logan. A tidy table (columns `COLUMNS`) with Shepp–Logan's reconstructions."""
    c: Deblur = ctx.exp.deblur
    seeds = list(ctx.seeds[: c.seeds])
    x, y, otf = problem(c, ctx.data_dir, ctx.device)
    label = ctx.label()

    print(f"[{label}] tuning Tikhonov and TV λ on {c.n_val} validation ellipses ...", flush=True)
    recon, chosen = classical(c, otf, x, y)
    recon["measurement"] = (y["shepp_logan"], y["test"])
    print(f"[{label}] chosen λ: Tikhonov {chosen['tikhonov']:.3g}, TV {chosen['tv']:.3g}; Shepp–Logan PSNR "
          + ", ".join(f"{m} {float(psnr(r[0], x['shepp_logan'])):.2f} dB" for m, r in recon.items()), flush=True)

    rows: list[dict] = []
    ctx.keep("rows", rows)  # a resumed run gets these back (see repro.checkpoint)
    for seed in seeds:
        for m, (sl, test) in recon.items():
            rows += score_rows(m, seed, 0, sl, test, x)
        rows += [_row("reg", chosen[m], method=m, seed=seed, image="") for m in chosen]
        net, curve = train_network(ctx, c, seed, otf, x, y)
        sl = reconstruct(net, y["shepp_logan"][None])[0]
        rows += curve + score_rows("unrolled", seed, c.steps, sl, reconstruct(net, y["test"]), x)
        rows += [_row("step_size", a, method="unrolled", seed=seed, step=c.steps, image="", layer=k + 1)
                 for k, a in enumerate(net.step_sizes.tolist())]
        if seed == seeds[0]:
            images = {"truth": x["shepp_logan"], **{m: r[0] for m, r in recon.items()}, "unrolled": sl}
            rows += example_rows(images, seed, c.steps)
    table = pd.DataFrame(rows, columns=COLUMNS)
    final = table[(table["method"] == "unrolled") & (table["metric"] == "psnr") & (table["step"] == c.steps)]
    print(f"[{label}] finished: unrolled PSNR (seeds {seeds}) Shepp–Logan "
          + ", ".join(f"{v:.2f}" for v in final[final["image"] == "shepp_logan"]["value"])
          + " dB; ellipses " + ", ".join(f"{v:.2f}" for v in final[final["image"] == "ellipses"]["value"])
          + " dB", flush=True)
    return table


COLUMNS = ["method", "seed", "image", "step", "layer", "pixel", "metric", "value"]


def _row(metric: str, value: float, *, method: str, seed: int, image: str, step: int = 0,
         layer: float = float("nan"), pixel: float = float("nan")) -> dict:
    return dict(method=method, seed=seed, image=image, step=step, layer=layer, pixel=pixel, metric=metric,
                value=float(value))


def problem(c: Deblur, data_dir, device) -> tuple[dict, dict, torch.Tensor]:
    """Images x and measurements y per split ("train" has no fixed measurements), and the OTF.

    Validation, test and Shepp–Logan noise come from fixed generators (data_seed), so every method and
    every seed sees the same measurements."""
    d = load(data_ref(c), data_dir)
    x = {k: torch.tensor(d[f"x_{k}"], device=device) for k in ("train", "val", "test")}
    x["shepp_logan"] = torch.tensor(d["shepp_logan"], device=device)
    otf = make_otf(c.size, c.blur_sigma, device)
    y = {k: measure(x[k], otf, c.noise_std, torch.Generator().manual_seed(_noise_seed(c.data_seed, k)))
         for k in _NOISE_STREAMS}
    return x, y, otf


def _noise_seed(data_seed: int, split: str) -> int:
    """Evaluation noise streams, far from the small training seeds."""
    return 1_000_003 * (data_seed + 1) + _NOISE_STREAMS[split]


def classical(c: Deblur, otf: torch.Tensor, x: dict, y: dict) -> tuple[dict, dict]:
    """Each baseline's λ tuned on the validation set, and its (Shepp–Logan, test) reconstructions at that λ."""
    solvers = {"tikhonov": (lambda yy, lam: tikhonov(yy, otf, lam), c.tikhonov_grid),
               "tv": (lambda yy, lam: tv_reconstruct(yy, otf, lam, c.tv_iterations), c.tv_grid)}
    recon, chosen = {}, {}
    for m, (solve, grid) in solvers.items():
        lams = log_grid(grid)
        chosen[m], _ = tune(solve, y["val"], x["val"], lams)
        if chosen[m] in (lams[0], lams[-1]):
            print(f"warning: the {m} λ chosen on validation, {chosen[m]:.3g}, is at the edge of its grid "
                  f"{grid}; widen experiment.deblur.{m}_grid", flush=True)
        recon[m] = (solve(y["shepp_logan"], chosen[m]), solve(y["test"], chosen[m]))
    return recon, chosen


def score_rows(method: str, seed: int, step: int, sl: torch.Tensor, test: torch.Tensor, x: dict) -> list[dict]:
    """PSNR on Shepp–Logan, and the mean and std of the PSNR over the test ellipses."""
    p = psnr(test, x["test"])
    base = dict(method=method, seed=seed, step=step)
    return [_row("psnr", psnr(sl, x["shepp_logan"]).item(), image="shepp_logan", **base),
            _row("psnr", p.mean().item(), image="ellipses", **base),
            _row("psnr_std", p.std().item() if len(p) > 1 else 0.0, image="ellipses", **base)]


def example_rows(images: dict, seed: int, steps: int) -> list[dict]:
    """Shepp–Logan reconstructions, one row per pixel (row-major flat index)."""
    rows = []
    for m, img in images.items():
        step = steps if m == "unrolled" else 0
        rows += [_row("recon", v, method=m, seed=seed, image="shepp_logan", step=step, pixel=i)
                 for i, v in enumerate(img.flatten().tolist())]
    return rows


def train_network(ctx, c: Deblur, seed: int, otf: torch.Tensor, x: dict, y: dict) -> tuple[Unrolled, list[dict]]:
    """Adam on the MSE over minibatches of training ellipses with fresh noise; the minibatches and noise come
    from a CPU generator seeded by `seed`, the initial weights from `seed` too. Records, at log-spaced steps and at
    the start of the claims' convergence window (the last CONVERGENCE_WINDOW of the steps), the mean minibatch loss
    since the previous record ("train_loss"), the Shepp–Logan PSNR, and the validation curve: the mean PSNR over
    the validation ellipses ("val_psnr"), also after the last step. At laptop scale a validation pass costs about
    4 training steps (measured on one CPU thread), so the 14 passes add about 3% to the training."""
    net = make_network(seed, otf, c)
    gen = torch.Generator().manual_seed(seed)
    since = {"sum": 0.0, "n": 0}  # minibatch losses since the last record (a tensor sum: no sync per step)
    rows: list[dict] = []
    base = dict(method="unrolled", seed=seed)
    for name, obj in (("net", net), ("gen", gen), ("since", since), ("rows", rows)):
        ctx.keep(f"seed{seed}-{name}", obj)

    def losses() -> torch.Tensor:
        idx = torch.randint(len(x["train"]), (c.batch_size,), generator=gen).to(x["train"].device)
        truth = x["train"][idx]
        loss = (net(measure(truth, otf, c.noise_std, gen)) - truth).pow(2).mean()
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
        opt = adam(c.lr)(params)
        sched["lr"] = torch.optim.lr_scheduler.CosineAnnealingLR(opt, c.steps) if c.cosine else None
        if sched["lr"] is not None:
            ctx.keep(f"seed{seed}-lr", sched["lr"])
        return opt

    def after_step() -> None:
        if sched["lr"] is not None:
            sched["lr"].step()

    window = int(round((1 - CONVERGENCE_WINDOW) * c.steps))
    records = sorted({s for s in (*log_spaced_steps(c.steps, c.n_records), window) if s < c.steps})  # last: below
    train(list(net.parameters()), losses, steps=c.steps, optimizer=optimizer, record=record,
          record_steps=records, label=ctx.label(f"seed{seed}"), model_names=[f"seed{seed}"], after_step=after_step)
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


def protocol_row(c: Deblur) -> dict:
    return {"key": "deblurring (U5)",
            "value": f"y = A x + e with A a circular Gaussian blur (σ = {c.blur_sigma:g} px) on {c.size}×{c.size} "
                     f"images in [0, 1] and e ~ N(0, {c.noise_std:g}²); random-ellipse phantoms ({c.n_train} "
                     f"training, {c.n_val} validation, {c.n_test} test) and the modified Shepp–Logan phantom; "
                     f"Tikhonov (gradient prior, closed form) and isotropic TV (Chambolle–Pock, {c.tv_iterations} "
                     f"iterations), each with its λ chosen on a log grid by the mean validation PSNR; an unrolled "
                     f"network of {c.iterations} proximal-gradient steps with learned step sizes and a 3-layer "
                     f"{c.channels}-channel residual CNN per step, trained with Adam (lr {c.lr:g}"
                     f"{', cosine annealing' if c.cosine else ''}) for {c.steps} steps of {c.batch_size} images "
                     f"with fresh noise, for {c.seeds} seed(s); the mean validation PSNR is recorded over training "
                     "(the claims' convergence precondition)"}


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
    return Figure("u5_examples", fig,
                  f"The modified Shepp–Logan phantom, its blurred noisy measurement and its reconstructions (seed "
                  f"{seed}), all on the same grey scale [0, 1], titled with their PSNR. Look at the thin bright rim "
                  "and the small ellipses near the bottom: the blur smears them, Tikhonov "
                  "leaves ringing along edges, TV leaves flat patches. The rim dominates every method's error, so "
                  "Shepp–Logan PSNRs lie close together.")


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
        sns.stripplot(data=t, x="method", y="value", order=methods, hue="seed", palette="viridis", ax=ax,
                      jitter=0.15, size=5, legend=ax is axes[0][-1])
        ax.set_xticks(range(len(methods)), [TITLES[m] for m in methods])
        ax.set_xlabel("")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title("Shepp–Logan" if image == "shepp_logan" else "test ellipses (mean over images)", fontsize=9)
    fig.tight_layout()
    return Figure("u5_psnr", fig,
                  "PSNR of each method on the Shepp–Logan phantom and on the test ellipses, one point per "
                  "training seed (Tikhonov and TV do not depend on the seed; their λ is tuned on validation "
                  "ellipses). The unrolled network should sit above both baselines on the ellipses it was "
                  "trained for; Shepp–Logan is outside its training distribution, so look at whether the gain "
                  "carries over.")


def _curve(table: pd.DataFrame, final: pd.DataFrame) -> Figure | None:
    import matplotlib.pyplot as plt

    from repro.report.figures import Figure
    curve = table[(table["method"] == "unrolled") & (table["metric"] == "psnr") & (table["image"] == "shepp_logan")]
    if curve["step"].nunique() < 2:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for seed, g in curve.groupby("seed"):
        g = g.sort_values("step")
        ax.plot(g["step"] + 1, g["value"], marker="o", ms=3, label=f"unrolled, seed {seed}")
    for m, ls in (("tikhonov", ":"), ("tv", "--")):
        v = final[(final["method"] == m) & (final["image"] == "shepp_logan")]["value"]
        if len(v):
            ax.axhline(v.iloc[0], color="0.3", ls=ls, lw=1, label=TITLES[m])
    ax.set_xscale("log")
    ax.set_xlabel("training step + 1")
    ax.set_ylabel("Shepp–Logan PSNR (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure("u5_curve", fig,
                  "The unrolled network's Shepp–Logan PSNR during training (step 0: the untrained network, which "
                  "is plain gradient descent with step 1), against the tuned baselines (horizontal lines). The "
                  "curve should rise and level off; a curve still rising at the end means the training budget, "
                  "not the method, limits the result.")
