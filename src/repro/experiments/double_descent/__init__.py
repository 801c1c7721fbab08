"""Double descent: test error peaks where a model can just interpolate its training set, then falls.

Shards:
- `rf`: random-feature regression (Belkin et al. 2019) for each n in rf.n_train (DD1, DD4).
- `mlp-n<n>-noise<p>`: MLP 40-h-h-10 width sweeps on MNIST-1D, one shard per (n, label noise): the
  model-wise curve (DD2), its noise dependence (DD3), the sample-wise comparison (DD4), early stopping
  and ensembles (DD5), and the epoch-wise curve (DD6).
- `img-<arch>-k<group>-noise<p>-seeds<a>-<b>` (when image.enabled, i.e. paper scale): Nakkiran et al.'s
  ResNet18 / 5-layer CNN width sweeps on CIFAR-10, one job per (width group, noise, block of
  image.seeds_per_job seeds; `-seed<s>` for a block of one); a width's seeds train together as one stacked model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef, load
from repro.experiments import Shard, section_keys
from repro.experiments.double_descent.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.double_descent.sweep import noisy_labels, random_features, record_epochs, train_width_sweep
from repro.nn.batched import INIT_SCHEMES

# A killed shard resumes from its last checkpoint (repro.checkpoint): all its state is registered with ctx.keep.
RESUMABLE = True

# Wall-time targets of this experiment's whole DAG on 2 CPU cores, run alone (python -m repro.benchmark workflow).
WALL_TARGET_S = {"laptop": 300.0}


@dataclass
class RFConfig:
    """Belkin et al. 2019 (arXiv 1812.11118) §3: random ReLU features, min-norm least squares."""

    n_train: list[int] = field(default=MISSING)
    ratios: list[float] = field(default=MISSING)  # N / n_train[0]; dense around the two n's thresholds
    scale: float = MISSING  # feature weights ~ N(0, scale²/d)
    n_test: int = MISSING

    def __post_init__(self) -> None:
        for n in self.n_train:
            positive("experiment.rf.n_train[]", n)
        for r in self.ratios:
            positive("experiment.rf.ratios[]", r)
        positive("experiment.rf.scale", self.scale)
        positive("experiment.rf.n_test", self.n_test)


@dataclass
class MLPConfig:
    """Nakkiran et al. 2019 (arXiv 1912.02292) model-wise double descent, as the MNIST-1D project's MLP
    sweep: MLP 40-h-h-10, 15% label noise, 4000 training samples, SGD, 500 epochs."""

    n_train: int = MISSING
    widths: list[int] = field(default=MISSING)
    noise: list[float] = field(default=MISSING)
    noise_seed: int = MISSING  # the noisy labels are drawn once, from this seed (shared by all model seeds)
    sample_wise_n: int = MISSING  # a second, smaller n at sample_wise_noise, for DD4
    sample_wise_noise: float = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    momentum: float = MISSING
    init: str = MISSING  # repro.nn.batched init scheme: kaiming_uniform (He, zero biases) as the reference notebook
    n_records: int = MISSING
    n_test: int = MISSING

    def __post_init__(self) -> None:
        positive("experiment.mlp.n_train", self.n_train)
        one_of("experiment.mlp.init", self.init, INIT_SCHEMES)
        for h in self.widths:
            positive("experiment.mlp.widths[]", h)
        for key, values in (("noise[]", self.noise), ("sample_wise_noise", [self.sample_wise_noise])):
            for p in values:
                if not 0 <= p < 0.9:  # at 0.9 (10 classes) the labels carry no information at all
                    raise ConfigError(f"experiment.mlp.{key}: label noise must be in [0, 0.9), got {p}")
        positive("experiment.mlp.sample_wise_n", self.sample_wise_n)
        positive("experiment.mlp.epochs", self.epochs)
        positive("experiment.mlp.batch_size", self.batch_size)
        positive("experiment.mlp.lr", self.lr)
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"experiment.mlp.momentum must be in [0, 1), got {self.momentum}")
        positive("experiment.mlp.n_test", self.n_test)


@dataclass
class SGDSchedule:
    """Nakkiran et al.'s SGD: learning rate lr / sqrt(1 + floor(t / decay_every)) at step t, no momentum, no
    weight decay, for `steps` steps (conf/experiment/double_descent.yaml cites the sources)."""

    lr: float = MISSING
    decay_every: int = MISSING
    steps: int = MISSING

    def __post_init__(self) -> None:
        positive("experiment.image.sgd.lr", self.lr)
        positive("experiment.image.sgd.decay_every", self.decay_every)
        positive("experiment.image.sgd.steps", self.steps)

    def lr_at(self, step: int) -> float:
        """The learning rate of the update after `step` updates."""
        return self.lr / (1 + step // self.decay_every) ** 0.5


@dataclass
class ImageConfig:
    """Nakkiran et al. 2019, Figs. 1 and 4: pre-activation ResNet18 and a 5-layer CNN with widths
    [k, 2k, 4k, 8k] on CIFAR-10, batch 128, random crop (pad 4) + flip; per architecture either Adam (lr 1e-4,
    4k epochs) or SGD with the inverse-square-root schedule (`SGDSchedule`)."""

    enabled: bool = MISSING
    archs: list[str] = field(default=MISSING)
    optimizer: dict[str, str] = field(default=MISSING)  # arch -> "adam" (lr, epochs) or "sgd" (the sgd schedule)
    k_groups: list[list[int]] = field(default=MISSING)
    noise: list[float] = field(default=MISSING)
    epochs: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING  # Adam's
    sgd: SGDSchedule = MISSING
    subset: int | None = MISSING  # use only the first `subset` training images (tests); null: all
    max_steps: int | None = MISSING  # stop each model after this many steps (tests); null: no cap
    n_records: int = MISSING
    seeds: int = MISSING  # seeds first_seed .. first_seed + seeds - 1
    seeds_per_job: int = MISSING  # one job per (arch, width group, noise, block of this many seeds), trained together
    # speed options, each "cuda" (on a CUDA device only), "always" or "never"; each changes the numbers (rounding),
    # not the protocol (see repro.experiments.double_descent.images)
    bf16: str = MISSING  # autocast the forward/backward passes to bfloat16 (weights, optimizer, loss in float32)
    channels_last: str = MISSING  # NHWC weights and activations
    compile: str = MISSING  # torch.compile the stacked model

    def __post_init__(self) -> None:
        positive("experiment.image.seeds", self.seeds)
        positive("experiment.image.seeds_per_job", self.seeds_per_job)
        for key in ("bf16", "channels_last", "compile"):
            one_of(f"experiment.image.{key}", getattr(self, key), ("cuda", "always", "never"))
        for a in self.archs:
            one_of("experiment.image.archs[]", a, ("resnet18", "cnn5"))
            if a not in self.optimizer:
                raise ConfigError(f"experiment.image.optimizer has no entry for {a!r}; give one of: adam, sgd")
            one_of(f"experiment.image.optimizer.{a}", self.optimizer[a], ("adam", "sgd"))
        for group in self.k_groups:
            for k in group:
                positive("experiment.image.k_groups[][]", k)
        for p in self.noise:
            if not 0 <= p < 0.9:
                raise ConfigError(f"experiment.image.noise[]: label noise must be in [0, 0.9), got {p}")
        positive("experiment.image.epochs", self.epochs)
        positive("experiment.image.batch_size", self.batch_size)
        positive("experiment.image.lr", self.lr)


@dataclass
class Config:
    """The experiment's schema. Every value comes from conf/ (conf/experiment/double_descent.yaml and
    conf/preset/double_descent/<scale>.yaml), never from a Python default: a key missing there is an error."""

    name: str = MISSING
    data: dict = field(default=MISSING)
    rf: RFConfig = MISSING
    mlp: MLPConfig = MISSING
    image: ImageConfig = MISSING
    deviations: dict[str, str] = field(default=MISSING)
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("double_descent",))


def mlp_shard(n: int, noise: float) -> str:
    return f"mlp-n{n}-noise{noise:g}"


def image_shard(arch: str, group: list[int], noise: float, seeds: list[int]) -> str:
    """The job of one (arch, width group, noise, block of consecutive seeds)."""
    who = f"seed{seeds[0]}" if len(seeds) == 1 else f"seeds{seeds[0]}-{seeds[-1]}"
    return f"img-{arch}-k{'_'.join(map(str, group))}-noise{noise:g}-{who}"


def image_seed_blocks(exp: Config) -> list[list[int]]:
    """The image seeds (fresh, from first_seed, as the MLP sweeps') in blocks of image.seeds_per_job."""
    seeds = list(range(exp.first_seed, exp.first_seed + exp.image.seeds))
    size = exp.image.seeds_per_job
    return [seeds[i : i + size] for i in range(0, len(seeds), size)]


def mlp_points(exp: Config) -> list[tuple[int, float]]:
    pts = [(exp.mlp.n_train, p) for p in exp.mlp.noise]
    if (exp.mlp.sample_wise_n, exp.mlp.sample_wise_noise) not in pts:
        pts.append((exp.mlp.sample_wise_n, exp.mlp.sample_wise_noise))
    return pts


def shards(exp: Config) -> dict[str, Shard]:
    out = {"rf": Shard(("data", "rf"))}
    # an MLP shard reads the sweep settings but not the lists of points: adding a noise level adds a shard
    # and reruns no other
    mlp_keys = ("data", *section_keys(exp, "mlp", exclude=("noise", "n_train", "sample_wise_n", "sample_wise_noise")))
    for n, p in mlp_points(exp):
        out[mlp_shard(n, p)] = Shard(mlp_keys, {"n_train": n, "noise": p})
    if exp.image.enabled:
        image_keys = section_keys(exp, "image", exclude=("archs", "k_groups", "noise", "seeds", "seeds_per_job"))
        for arch in exp.image.archs:
            for group in exp.image.k_groups:
                for p in exp.image.noise:
                    for block in image_seed_blocks(exp):
                        out[image_shard(arch, group, p, block)] = Shard(
                            image_keys,
                            {"arch": arch, "k": group, "noise": p, "seeds": block},
                            flops=len(block) * image_flops(exp.image, arch, group),
                        )
    return out


CIFAR10_TRAIN = 50_000


def image_flops(c: ImageConfig, arch: str, ks: list[int]) -> float:
    """Training FLOPs of one model per width of `ks` (a shard holds one per seed of its block): 2 per
    multiply-accumulate, 3 passes' worth per training image (forward, and a backward of about twice its cost), for
    every image its optimizer sees. The evaluations at the records (forward passes over 60,000 images, n_records
    times) add under 1% at the paper's settings and are left out."""
    from repro.nn import cnn, resnet

    macs = resnet.forward_macs if arch == "resnet18" else cnn.forward_macs
    n = c.subset or CIFAR10_TRAIN
    steps = c.sgd.steps if c.optimizer[arch] == "sgd" else c.epochs * max(1, n // c.batch_size)
    if c.max_steps is not None:
        steps = min(steps, c.max_steps)
    return 6.0 * sum(macs(k) for k in ks) * steps * min(c.batch_size, n)


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    spec = shards(exp)[shard]
    return list(spec.point["seeds"]) if "seeds" in spec.point else seeds


def datasets(exp: Config, shard: str) -> list[DataRef]:
    if shard.startswith("img-"):
        return [DataRef("cifar10", {"subset": exp.image.subset} if exp.image.subset else {})]
    return [DataRef("mnist1d", dict(exp.data))]


def _mnist1d(ctx):
    d = load(DataRef("mnist1d", dict(ctx.exp.data)), ctx.data_dir)
    to = dict(device=ctx.device)
    return (
        torch.tensor(d["x"], dtype=torch.float32, **to),
        torch.tensor(d["y"], **to),
        torch.tensor(d["x_test"], dtype=torch.float32, **to),
        torch.tensor(d["y_test"], **to),
    )


def _need(name: str, want: int, have: int) -> None:
    if want > have:
        raise ConfigError(
            f"{name}={want} exceeds the {have} samples of the generated MNIST-1D set "
            f"(raise experiment.data.num_samples)"
        )


def run_shard(ctx) -> pd.DataFrame:
    if ctx.shard == "rf":
        return run_rf(ctx)
    if ctx.shard.startswith("mlp-"):
        return run_mlp(ctx)
    from repro.experiments.double_descent.images import run_image

    return run_image(ctx)


def run_rf(ctx) -> pd.DataFrame:
    c: RFConfig = ctx.exp.rf
    x, y, xt, yt = (t.cpu() for t in _mnist1d(ctx))  # float64 solves: CPU
    _need("experiment.rf.n_train", max(c.n_train), len(x))
    _need("experiment.rf.n_test", c.n_test, len(xt))
    base = min(c.n_train)
    n_features = sorted({max(1, round(r * base)) for r in c.ratios})
    rows = []
    for n in c.n_train:
        for seed in ctx.seeds:
            print(f"[{ctx.label()}] n={n} seed={seed}: {len(n_features)} feature counts", flush=True)
            for r in random_features(x[:n], y[:n], xt[: c.n_test], yt[: c.n_test], n_features, seed, c.scale):
                rows.append({"n_train": n, "ratio": r["n_features"] / base, "seed": seed, "step": 0, **r})
    return pd.DataFrame(rows)


def run_mlp(ctx) -> pd.DataFrame:
    c: MLPConfig = ctx.exp.mlp
    point = next((n, p) for n, p in mlp_points(ctx.exp) if mlp_shard(n, p) == ctx.shard)
    n, noise = point
    x, y, xt, yt = _mnist1d(ctx)
    _need("experiment.mlp.n_train", n, len(x))
    _need("experiment.mlp.n_test", c.n_test, len(xt))
    # the first n training samples: the smaller set of the sample-wise pair is a subset of the larger
    labels = noisy_labels(y[:n].cpu(), noise, c.noise_seed).to(ctx.device)
    rows = train_width_sweep(
        x[:n],
        labels,
        xt[: c.n_test],
        yt[: c.n_test],
        widths=c.widths,
        seeds=ctx.seeds,
        epochs=c.epochs,
        batch_size=c.batch_size,
        lr=c.lr,
        momentum=c.momentum,
        init=c.init,
        record_epochs=record_epochs(c.epochs, c.n_records),
        label=ctx.label(),
    )
    table = pd.DataFrame(rows)
    table.insert(0, "noise", noise)
    table.insert(0, "n_train", n)
    return table


# ---------------------------------------------------------------- report hooks


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.double_descent.plots import all_figures  # seaborn loads only when plotting

    return all_figures(table, cfg)


def protocol(cfg) -> list[dict]:
    e: Config = cfg.experiment
    rows = [
        {
            "key": "rf",
            "value": f"random ReLU features on MNIST-1D, n ∈ {e.rf.n_train}, N/n from {min(e.rf.ratios)} "
            f"to {max(e.rf.ratios)}, min-norm least squares in float64 (from the features near "
            "N = n, 0.8n to 1.25n, by LAPACK gelsy; elsewhere by Cholesky when the Gram matrix's "
            f"condition number is ≤ 1e8), {e.rf.n_test} test",
        },
        {
            "key": "mlp",
            "value": f"MLP 40-h-h-10 ReLU, h ∈ {e.mlp.widths}, n = {e.mlp.n_train} (and "
            f"{e.mlp.sample_wise_n} at {e.mlp.sample_wise_noise:.0%} noise), label noise "
            f"{[f'{p:.0%}' for p in e.mlp.noise]}, cross-entropy, SGD lr {e.mlp.lr:g} momentum "
            f"{e.mlp.momentum:g}, batch {e.mlp.batch_size}, {e.mlp.init} init, {e.mlp.epochs} "
            f"epochs, {e.mlp.n_test} test",
        },
    ]
    if e.image.enabled:
        c = e.image
        optimizers = {
            "adam": f"Adam lr {c.lr:g} for {c.epochs} epochs",
            "sgd": f"SGD lr {c.sgd.lr:g}/√(1 + ⌊t/{c.sgd.decay_every}⌋) at step t, no momentum, for "
            f"{c.sgd.steps} steps",
        }
        by_arch = "; ".join(f"{a}: {optimizers[c.optimizer[a]]}" for a in c.archs)
        rows.append(
            {
                "key": "image",
                "value": f"{c.archs} on CIFAR-10, k groups {c.k_groups}, noise {c.noise}, "
                f"{by_arch}; batch {c.batch_size}, crop+flip augmentation; "
                f"{c.seeds} seeds, {c.seeds_per_job} per job trained together (one "
                f"stacked model per width: grouped convolutions, per-model BatchNorm); "
                f"bf16 autocast: {c.bf16}, channels_last: {c.channels_last}, "
                f"torch.compile: {c.compile}",
            }
        )
    rows.append({"key": "seeds", "value": str(len(cfg.seeds))})
    return rows
