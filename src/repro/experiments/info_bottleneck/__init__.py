"""The information bottleneck in the information plane (Shwartz-Ziv & Tishby 2017) and its critique
(Saxe et al. 2018): tanh vs ReLU, and the dependence on the mutual-information estimator.

Shard `ib` trains every (activation, seed) network 12-10-7-5-4-3-2 together in one batched model on the
12-bit dataset (`repro.data.ib12`) and, at log-spaced epochs, estimates I(X;T) and I(T;Y) of each hidden
layer on all 4096 inputs with every estimator, plus the fraction of saturated units. Shard `mnist` (paper
scale) does the same for Saxe et al.'s MNIST network on the test images (`mnist_net`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef, load
from repro.experiments import Shard, section_keys
from repro.experiments.info_bottleneck import mnist_net
from repro.experiments.info_bottleneck.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.info_bottleneck.mnist_net import MnistNetwork
from repro.nn.batched import BatchedMLP
from repro.train import adam

# A killed shard resumes from its last checkpoint (repro.checkpoint): all its state is registered with ctx.keep.
RESUMABLE = True

@dataclass
class Config:
    """Shwartz-Ziv & Tishby 2017 (arXiv 1703.00810) §3 and Saxe et al. 2018 (ICLR) §2.

    Every value comes from conf/ (conf/experiment/info_bottleneck.yaml and conf/preset/info_bottleneck/<scale>.yaml),
    never from a Python default: a key missing there is an error."""

    name: str = MISSING
    hidden: list[int] = field(default=MISSING)
    activations: list[str] = field(default=MISSING)
    lr: float = MISSING
    batch_size: int = MISSING
    epochs: int = MISSING
    train_fraction: float = MISSING
    split_seed: int = MISSING  # the 80/20 split is shuffled with this seed (the original split the ordered file)
    n_records: int = MISSING  # log-spaced epochs at which the information is estimated
    bins: list[int] = field(default=MISSING)
    kde_noise_var: float = MISSING  # Saxe et al. (artemyk/ibsgd) for the 12-bit network
    kde_records: int = MISSING  # KDE (4096² distances per layer) on this many of the record epochs
    mnist: MnistNetwork = MISSING  # Saxe et al.'s MNIST network (its own shard)
    deviations: dict[str, str] = field(default=MISSING)  # config key -> why this scale differs from the paper
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("info_bottleneck",))
        for h in self.hidden:
            positive("experiment.hidden[]", h)
        for a in self.activations:
            one_of("experiment.activations[]", a, ("tanh", "relu"))
        for k in ("lr", "batch_size", "epochs", "n_records", "kde_noise_var", "kde_records"):
            positive(f"experiment.{k}", getattr(self, k))
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"experiment.train_fraction must be in (0, 1), got {self.train_fraction}")
        if 30 not in self.bins:
            raise ConfigError(f"experiment.bins must include 30 (the original estimator), got {self.bins}")


def shards(exp: Config) -> dict[str, Shard]:
    out = {"ib": Shard(section_keys(exp, exclude=("name", "deviations", "first_seed", "mnist")))}
    if exp.mnist.enabled:
        out["mnist"] = Shard(("mnist",))
    return out


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    return seeds[: exp.mnist.seeds] if shard == "mnist" else seeds


def datasets(exp: Config, shard: str) -> list[DataRef]:
    return [mnist_net.data_ref(exp.mnist)] if shard == "mnist" else [DataRef("ib12")]


def run_shard(ctx) -> pd.DataFrame:
    if ctx.shard == "mnist":
        return mnist_net.run(ctx)
    from repro.experiments.info_bottleneck.measure import train_in_information_plane

    c: Config = ctx.exp
    d = load(DataRef("ib12"), ctx.data_dir)
    x = torch.tensor(d["x"], dtype=torch.float32, device=ctx.device)
    y = torch.tensor(d["y"], device=ctx.device)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(c.split_seed)).to(ctx.device)
    n_train = int(round(c.train_fraction * len(x)))
    tr, te = order[:n_train], order[n_train:]
    points = [(a, s) for a in c.activations for s in ctx.seeds]
    model = BatchedMLP([s for _, s in points], [12, *c.hidden, 2], [a for a, _ in points],
                       init="truncated_normal").to(ctx.device)
    return train_in_information_plane(ctx, model, points, x=x, y=y, pool=tr, x_info=x, y_info=y, acc_index=te,
                                      batch_size=c.batch_size, epochs=c.epochs, n_records=c.n_records,
                                      kde_records=c.kde_records, kde_noise_var=c.kde_noise_var, bins=c.bins,
                                      optimizer=adam(c.lr))


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.info_bottleneck.plots import all_figures  # seaborn loads only when plotting

    return all_figures(table, cfg)


def protocol(cfg) -> list[dict]:
    e: Config = cfg.experiment
    return [
        {"key": "network", "value": f"12-{'-'.join(map(str, e.hidden))}-2, {' and '.join(e.activations)}, truncated "
                                    "normal init (std 1/√fan_in), zero biases"},
        {"key": "training", "value": f"Adam lr {e.lr:g}, batch {e.batch_size}, {e.epochs} epochs, cross-entropy"},
        {"key": "split", "value": f"{e.train_fraction:.0%}/{1 - e.train_fraction:.0%} of the 4096 patterns, shuffled "
                                  f"with seed {e.split_seed}. The original code split the unshuffled, binary-ordered "
                                  "file, so its test set was all patterns starting '11' (84% positive)."},
        {"key": "information", "value": f"on all 4096 inputs at {e.n_records} log-spaced epochs: bins over [-1, 1] "
                                        f"and over the observed range, {e.bins} bins; KDE upper bound (noise "
                                        f"variance {e.kde_noise_var:g}) at {e.kde_records} of those epochs"},
        {"key": "seeds", "value": f"{len(cfg.seeds)} per activation"},
        *([mnist_net.protocol_row(e.mnist, len(cfg.seeds))] if e.mnist.enabled else []),
    ]
