"""The Frequency Principle (spectral bias): networks learn low frequencies first.

Three shards, one per claim family:
- fp1: deep nets fit a 1-D sum of sines; Δ_F(k) on the DFT of the training grid (Xu et al. 2019).
- fp2: the filtering method on a real dataset: low/high-frequency parts of the targets by Gaussian
  smoothing over the inputs, and their relative errors during training (Xu et al. 2019, §4).
- fp3: a shallow ReLU net on the circle, plain GD on sin(kθ): iterations to converge grow like k²
  (Basri et al. 2019); without bias, odd k ≥ 3 are not learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef, load
from repro.experiments import Shard
from repro.experiments.f_principle.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.f_principle.claims import FP1_PEAK_FLOOR, FP1_THRESHOLD, FP3_CONVERGED
from repro.nn.batched import ACTIVATIONS, BatchedMLP
from repro.train import adam, log_spaced_steps, sgd, train

# ---------------------------------------------------------------- protocol (schema)


# A killed shard resumes from its last checkpoint (repro.checkpoint): all its state is registered with ctx.keep.
RESUMABLE = True

@dataclass
class FP1Config:
    """1-D sum of sines, full-batch Adam (Xu et al.'s code: tanh 200-200-200-100, lr 2e-4)."""

    interval: list[float] = field(default=MISSING)
    n_points: int = MISSING
    frequencies: list[float] = field(default=MISSING)
    amplitudes: dict[str, list[float]] = field(default=MISSING)  # target name -> one amplitude per frequency
    activations: list[str] = field(default=MISSING)
    hidden: list[int] = field(default=MISSING)
    init: str = MISSING
    lr: float = MISSING
    steps: int = MISSING
    n_records: int = MISSING  # log-spaced steps kept for the heat map

    def __post_init__(self) -> None:
        if len(self.interval) != 2 or self.interval[0] >= self.interval[1]:
            raise ConfigError(f"experiment.fp1.interval must be [lo, hi] with lo < hi, got {self.interval}")
        positive("experiment.fp1.n_points", self.n_points)
        for name, amps in self.amplitudes.items():
            if len(amps) != len(self.frequencies):
                raise ConfigError(f"experiment.fp1.amplitudes.{name} needs one amplitude per frequency "
                                  f"({len(self.frequencies)}), got {len(amps)}")
        for a in self.activations:
            one_of("experiment.fp1.activations[]", a, tuple(ACTIVATIONS))
        for h in self.hidden:
            positive("experiment.fp1.hidden[]", h)
        positive("experiment.fp1.lr", self.lr)
        positive("experiment.fp1.steps", self.steps)


@dataclass
class FP2Config:
    """The filtering method on MNIST-1D (generated offline), MSE on one-hot targets, full-batch Adam."""

    data: dict = field(default=MISSING)  # the MNIST-1D generator's arguments
    n_train: int = MISSING
    hidden: list[int] = field(default=MISSING)
    activation: str = MISSING
    lr: float = MISSING
    steps: int = MISSING
    # δ (a variance on squared input distance, as in Xu et al.'s code), in units of the median
    # squared pairwise distance of the training inputs
    deltas: list[float] = field(default=MISSING)
    n_records: int = MISSING

    def __post_init__(self) -> None:
        positive("experiment.fp2.n_train", self.n_train)
        for h in self.hidden:
            positive("experiment.fp2.hidden[]", h)
        one_of("experiment.fp2.activation", self.activation, tuple(ACTIVATIONS))
        positive("experiment.fp2.lr", self.lr)
        positive("experiment.fp2.steps", self.steps)
        for d in self.deltas:
            positive("experiment.fp2.deltas[]", d)


@dataclass
class FP3Config:
    """f(x) = m^-1/2 Σ a_r relu(w_r·x + b_r) on n points of the circle; only w (and b) trained by GD."""

    ks: list[int] = field(default=MISSING)
    n_points: int = MISSING
    width: int = MISSING  # m; half the units mirror the other half with a_r of opposite sign, so f₀ = 0
    init_std: float = MISSING
    lr: float = MISSING
    max_steps: int = MISSING
    n_records: int = MISSING

    def __post_init__(self) -> None:
        for k in self.ks:
            positive("experiment.fp3.ks[]", k)
        if self.n_points <= 2 * max(self.ks):
            raise ConfigError(f"experiment.fp3.n_points={self.n_points} must exceed 2*max(ks)={2 * max(self.ks)}")
        positive("experiment.fp3.width", self.width)
        if self.width % 2:
            raise ConfigError(f"experiment.fp3.width must be even (mirrored units), got {self.width}")
        positive("experiment.fp3.init_std", self.init_std)
        positive("experiment.fp3.lr", self.lr)
        positive("experiment.fp3.max_steps", self.max_steps)


@dataclass
class Config:
    """The experiment's schema. Every value comes from conf/ (conf/experiment/f_principle.yaml and
    conf/preset/f_principle/<scale>.yaml), never from a Python default: a key missing there is an error."""

    name: str = MISSING
    fp1: FP1Config = MISSING
    fp2: FP2Config = MISSING
    fp3: FP3Config = MISSING
    deviations: dict[str, str] = field(default=MISSING)  # config key -> why this scale differs from the paper
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("f_principle",))


def shards(exp: Config) -> dict[str, Shard]:
    return {name: Shard((name,)) for name in ("fp1", "fp2", "fp3")}


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    return seeds


def datasets(exp: Config, shard: str) -> list[DataRef]:
    return [DataRef("mnist1d", dict(exp.fp2.data))] if shard == "fp2" else []


def run_shard(ctx) -> pd.DataFrame:
    return {"fp1": run_fp1, "fp2": run_fp2, "fp3": run_fp3}[ctx.shard](ctx)


# ---------------------------------------------------------------- FP1: Δ_F on a 1-D grid


def relative_spectral_error(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Δ_F(k) = |ĥ_k − ŷ_k| / |ŷ_k| on the DFT of the grid (last axis), for k = 0 … n//2."""
    hh, yh = torch.fft.rfft(h, dim=-1), torch.fft.rfft(y, dim=-1)
    return (hh - yh).abs() / yh.abs().clamp_min(1e-12)


def spectral_peaks(mag: np.ndarray, floor: float = FP1_PEAK_FLOOR) -> list[int]:
    """Bins of the genuine peaks of a one-sided DFT magnitude `mag` (bins 0 … n//2).

    A peak is a strict local maximum above `floor` × the largest magnitude. Side-lobe guard: the DFT
    of an off-bin tone of observed peak height M decays no slower than M/(2d) at d bins away (the
    rectangular window's 1/(πd) envelope, divided by the worst off-bin loss sinc(1/2) = 2/π). A
    local maximum that does not rise above the summed envelopes of the larger peaks is leakage.
    """
    mag = np.asarray(mag, dtype=float)
    top = mag[1:].max()
    cand = [k for k in range(1, len(mag) - 1)
            if mag[k] > mag[k - 1] and mag[k] > mag[k + 1] and mag[k] >= floor * top]
    kept: list[int] = []
    for k in sorted(cand, key=lambda i: -mag[i]):
        leak = sum(mag[j] / (2 * abs(k - j)) for j in kept)
        if mag[k] > leak:
            kept.append(k)
    return sorted(kept)


def fp1_targets(c: FP1Config) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.linspace(c.interval[0], c.interval[1], c.n_points, dtype=torch.float64)
    ys = {name: sum(a * torch.sin(w * x) for a, w in zip(amps, c.frequencies))
          for name, amps in c.amplitudes.items()}
    return x, ys


def run_fp1(ctx) -> pd.DataFrame:
    c: FP1Config = ctx.exp.fp1
    x, ys = fp1_targets(c)
    points = [(act, tgt, s) for act in c.activations for tgt in c.amplitudes for s in ctx.seeds]
    names = [f"{a}/{t}/seed{s}" for a, t, s in points]
    model = BatchedMLP([s for *_, s in points], [1, *c.hidden, 1], [a for a, *_ in points], init=c.init).to(ctx.device)
    X = x.float().unsqueeze(1).to(ctx.device)
    Y = torch.stack([ys[t] for _, t, _ in points]).float().to(ctx.device)  # [B, n]
    peaks = {t: spectral_peaks(torch.fft.rfft(y).abs().numpy()) for t, y in ys.items()}
    n_bins = c.n_points // 2 + 1
    last_above = torch.zeros(len(points), n_bins, dtype=torch.long, device=ctx.device)
    records, rows = log_spaced_steps(c.steps, c.n_records), []
    state = {"step": 0}
    for name, obj in (("rows", rows), ("last_above", last_above), ("state", state)):
        ctx.keep(f"fp1-{name}", obj)

    def losses() -> torch.Tensor:
        pred = model(X)[..., 0]
        with torch.no_grad():  # track, every step, the last step at which Δ_F(k) ≥ threshold
            above = relative_spectral_error(pred, Y) >= FP1_THRESHOLD
            last_above[above] = state["step"]
        state["step"] += 1
        return ((pred - Y) ** 2).mean(dim=1)

    def record(step: int) -> None:
        pred = model(X)[..., 0]
        delta = relative_spectral_error(pred, Y).cpu()
        loss = ((pred - Y) ** 2).mean(dim=1).cpu()
        for i, (act, tgt, s) in enumerate(points):
            rows.append(dict(activation=act, target=tgt, seed=s, step=step, peak=-1, freq=np.nan,
                             metric="loss", value=loss[i].item()))
            for j, k in enumerate(peaks[tgt]):
                rows.append(dict(activation=act, target=tgt, seed=s, step=step, peak=j, freq=k,
                                 metric="delta_f", value=delta[i, k].item()))

    train(model.parameters(), losses, steps=c.steps, optimizer=adam(c.lr),
          record=record, record_steps=records, label=ctx.label(), model_names=names)
    # the state after the last update was never passed through losses(): check it once more
    with torch.no_grad():
        above = relative_spectral_error(model(X)[..., 0], Y) >= FP1_THRESHOLD
        last_above[above] = c.steps
    for i, (act, tgt, s) in enumerate(points):
        for j, k in enumerate(peaks[tgt]):
            ever_above_at_end = last_above[i, k].item() == c.steps
            conv = np.nan if ever_above_at_end else last_above[i, k].item() + 1
            rows.append(dict(activation=act, target=tgt, seed=s, step=c.steps, peak=j, freq=k,
                             metric="converged_step", value=conv))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- FP2: the filtering method


def gaussian_filter(x: torch.Tensor, delta: float) -> torch.Tensor:
    """The normalised smoother S with S_ij ∝ exp(−|x_i − x_j|² / (2δ)); y_low = S y."""
    d2 = torch.cdist(x, x).pow(2)
    g = torch.exp(-(d2 - d2.min(dim=1, keepdim=True).values) / (2 * delta))  # row shift: no underflow
    return g / g.sum(dim=1, keepdim=True)


def split_errors(s: torch.Tensor, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relative errors of the low and high parts of outputs h [B, n, c] against targets y [n, c]."""
    y_low, h_low = s @ y, s @ h
    y_high, h_high = y - y_low, h - h_low
    e_low = (h_low - y_low).flatten(1).norm(dim=1) / y_low.norm()
    e_high = (h_high - y_high).flatten(1).norm(dim=1) / y_high.norm()
    return e_low, e_high


def run_fp2(ctx) -> pd.DataFrame:
    c: FP2Config = ctx.exp.fp2
    d = load(DataRef("mnist1d", dict(c.data)), ctx.data_dir)
    if c.n_train > len(d["x"]):
        raise ConfigError(f"experiment.fp2.n_train={c.n_train} exceeds the {len(d['x'])} training samples")
    x = torch.tensor(d["x"][: c.n_train], dtype=torch.float64)
    x = (x - x.mean()) / x.std()
    labels = torch.tensor(d["y"][: c.n_train])
    y = torch.nn.functional.one_hot(labels, 10).double()
    xt = (torch.tensor(d["x_test"], dtype=torch.float64) - x.mean()) / x.std()
    yt = torch.tensor(d["y_test"])
    d2 = torch.cdist(x, x).pow(2)
    median_d2 = d2[~torch.eye(len(x), dtype=torch.bool)].median().item()
    filters, rows = {}, []
    for rel in c.deltas:
        s = gaussian_filter(x, rel * median_d2)
        y_low = s @ y
        low, high = y_low.pow(2).sum().item(), (y - y_low).pow(2).sum().item()
        filters[rel] = s.float().to(ctx.device)
        for seed in ctx.seeds:
            rows.append(dict(seed=seed, step=0, delta=rel, metric="low_energy_share", value=low / (low + high)))
    ctx.keep("fp2-rows", rows)
    X, Y = x.float().to(ctx.device), y.float().to(ctx.device)
    Xt, Yt = xt.float().to(ctx.device), yt.to(ctx.device)
    model = BatchedMLP(ctx.seeds, [x.shape[1], *c.hidden, 10], c.activation).to(ctx.device)

    def losses() -> torch.Tensor:
        return ((model(X) - Y) ** 2).mean(dim=(1, 2))

    def record(step: int) -> None:
        out = model(X)
        train_acc = (out.argmax(-1) == labels.to(out.device)).float().mean(1)
        test_acc = (model(Xt).argmax(-1) == Yt).float().mean(1)
        loss = ((out - Y) ** 2).mean(dim=(1, 2))
        for i, seed in enumerate(ctx.seeds):
            for metric, v in (("loss", loss), ("train_acc", train_acc), ("test_acc", test_acc)):
                rows.append(dict(seed=seed, step=step, delta=np.nan, metric=metric, value=v[i].item()))
        for rel, s in filters.items():
            e_low, e_high = split_errors(s, out, Y)
            for i, seed in enumerate(ctx.seeds):
                rows.append(dict(seed=seed, step=step, delta=rel, metric="e_low", value=e_low[i].item()))
                rows.append(dict(seed=seed, step=step, delta=rel, metric="e_high", value=e_high[i].item()))

    train(model.parameters(), losses, steps=c.steps, optimizer=adam(c.lr),
          record=record, record_steps=log_spaced_steps(c.steps, c.n_records), label=ctx.label(),
          model_names=[f"seed{s}" for s in ctx.seeds])
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- FP3: rate against frequency on the circle


def run_fp3(ctx) -> pd.DataFrame:
    """One batch per (k, bias): each stops as soon as all its seeds converge, so the cost is that of
    the iterations the claim measures, plus the full budget only for models that never converge."""
    c: FP3Config = ctx.exp.fp3
    rows = []
    ctx.keep("fp3-rows", rows)
    for bias in (True, False):
        for k in c.ks:
            rows += fit_circle(ctx, c, k, bias)
    return pd.DataFrame(rows)


def fit_circle(ctx, c: FP3Config, k: int, bias: bool) -> list[dict]:
    theta = 2 * math.pi * torch.arange(c.n_points, dtype=torch.float64) / c.n_points
    X = torch.stack([theta.cos(), theta.sin()], dim=1).float().to(ctx.device)  # [n, 2]
    Y = torch.sin(k * theta).float().to(ctx.device)  # [n], the same target for every seed
    half = c.width // 2
    w = []
    for s in ctx.seeds:  # a seed's initial weights are the same for every k and bias setting
        w0 = torch.randn(2, half, generator=torch.Generator().manual_seed(int(s))) * c.init_std
        w.append(torch.cat([w0, w0], dim=1))  # mirrored units with opposite a_r: f₀ = 0
    W = torch.nn.Parameter(torch.stack(w).to(ctx.device))  # [B, 2, m]
    b = torch.nn.Parameter(torch.zeros(len(ctx.seeds), 1, c.width, device=ctx.device))  # initialised at 0
    a = torch.cat([torch.ones(half), -torch.ones(half)]).to(ctx.device) / math.sqrt(c.width)
    params = [W, b] if bias else [W]

    def forward() -> torch.Tensor:
        return torch.relu(X @ W + b if bias else X @ W) @ a

    initial = 0.5 * (Y**2).mean()
    converged = torch.full((len(ctx.seeds),), -1, dtype=torch.long, device=ctx.device)
    state = {"step": 0}
    rows = []
    for name, obj in (("rows", rows), ("converged", converged), ("state", state)):
        ctx.keep(f"fp3-{k}-{bias}-{name}", obj)

    def losses() -> torch.Tensor:
        loss = 0.5 * ((forward() - Y) ** 2).mean(dim=1)
        with torch.no_grad():
            converged[(converged < 0) & (loss <= FP3_CONVERGED * initial)] = state["step"]
        state["step"] += 1
        return loss

    def record(step: int) -> None:
        ratio = (0.5 * ((forward() - Y) ** 2).mean(dim=1) / initial).cpu()
        for i, s in enumerate(ctx.seeds):
            rows.append(dict(bias=bias, k=k, seed=s, step=step, metric="loss_ratio", value=ratio[i].item()))

    done = train(params, losses, steps=c.max_steps, optimizer=sgd(c.lr),
                 record=record, record_steps=log_spaced_steps(c.max_steps, c.n_records),
                 label=ctx.label(f"k={k}", "bias" if bias else "no-bias"),
                 model_names=[f"seed{s}" for s in ctx.seeds], stop=lambda: bool((converged >= 0).all()))
    with torch.no_grad():  # the state after the last update was never passed through losses()
        final = 0.5 * ((forward() - Y) ** 2).mean(dim=1)
        converged[(converged < 0) & (final <= FP3_CONVERGED * initial)] = done
    for i, s in enumerate(ctx.seeds):
        it = converged[i].item()
        rows.append(dict(bias=bias, k=k, seed=s, step=c.max_steps, metric="iterations",
                         value=float(it) if it >= 0 else np.nan))
    return rows


# ---------------------------------------------------------------- report hooks


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.f_principle.plots import all_figures  # seaborn loads only when plotting

    return all_figures(table, cfg)


def protocol(cfg) -> list[dict]:
    """Key protocol values at this scale; the report adds the paper's values and the reasons for differences."""
    e: Config = cfg.experiment
    return [
        {"key": "fp1", "value": f"{len(e.fp1.activations)} activations × {len(e.fp1.amplitudes)} targets, "
                                f"1-{'-'.join(map(str, e.fp1.hidden))}-1, Adam lr {e.fp1.lr:g}, "
                                f"{e.fp1.steps} full-batch steps, "
                                f"{e.fp1.n_points} points on {e.fp1.interval}"},
        {"key": "fp2", "value": f"MNIST-1D, {e.fp2.n_train} train, MLP 40-{'-'.join(map(str, e.fp2.hidden))}-10 "
                                f"{e.fp2.activation}, MSE, Adam lr {e.fp2.lr:g}, {e.fp2.steps} full-batch steps"},
        {"key": "fp3", "value": f"k ∈ {e.fp3.ks}, {e.fp3.n_points} points, width {e.fp3.width}, GD lr {e.fp3.lr:g}, "
                                f"≤ {e.fp3.max_steps} steps"},
        {"key": "seeds", "value": str(len(cfg.seeds))},
    ]

