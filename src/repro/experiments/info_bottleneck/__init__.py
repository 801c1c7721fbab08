"""The information bottleneck in the information plane (Shwartz-Ziv & Tishby 2017) and its critique
(Saxe et al. 2018): tanh vs ReLU, and the dependence on the mutual-information estimator.

One shard per 12-bit network, each training all its seeds together in one batched model 12-10-7-5-4-3-2 on the
12-bit dataset (`repro.data.ib12`): `tanh-st` follows Shwartz-Ziv & Tishby's code (the claims that are theirs),
`tanh` and `relu` follow Saxe et al.'s code (the claims that are theirs). At log-spaced epochs every hidden layer's
I(X;T) and I(T;Y) are estimated on all 4096 inputs with every estimator, with the fraction of saturated units. Shard
`mnist` (paper scale) does the same for Saxe et al.'s MNIST network on the test images (`mnist_net`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef, load
from repro.experiments import Shard
from repro.experiments.info_bottleneck import mnist_net
from repro.experiments.info_bottleneck.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.info_bottleneck.measure import Estimators
from repro.experiments.info_bottleneck.mnist_net import MnistNetwork
from repro.nn.batched import INIT_SCHEMES
from repro.train import lean_adam

# A killed shard resumes from its last checkpoint (repro.checkpoint): all its state is registered with ctx.keep.
RESUMABLE = True

# Wall-time targets of this experiment's whole DAG on 2 CPU cores, run alone (python -m repro.benchmark workflow).
WALL_TARGET_S = {"laptop": 300.0}


@dataclass
class TrainingProtocol:
    """How one paper's code trains the 12-bit network (conf/experiment/info_bottleneck.yaml, protocols:)."""

    source: str = MISSING  # where the values come from, shown in the report
    batch_size: int = MISSING
    hidden_init: str = MISSING  # repro.nn.batched init scheme of the hidden layers
    output_init: str = MISSING  # ... and of the 2-unit softmax layer
    shuffled_split: bool = MISSING  # False: the first train_fraction of the file in its order (the original code)

    def __post_init__(self) -> None:
        positive("experiment.protocols.*.batch_size", self.batch_size)
        one_of("experiment.protocols.*.hidden_init", self.hidden_init, INIT_SCHEMES)
        one_of("experiment.protocols.*.output_init", self.output_init, INIT_SCHEMES)


@dataclass
class Network:
    """One shard: an activation trained under one paper's protocol."""

    activation: str = MISSING
    protocol: str = MISSING  # a key of experiment.protocols
    kde: bool = MISSING  # estimate KDE too (4096² distances per layer and model, the costliest estimator)

    def __post_init__(self) -> None:
        one_of("experiment.networks.*.activation", self.activation, ("tanh", "relu"))


@dataclass
class Config:
    """Shwartz-Ziv & Tishby 2017 (arXiv 1703.00810) §3, Saxe et al. 2018 (ICLR) §2, and their code.

    Every value comes from conf/ (conf/experiment/info_bottleneck.yaml and conf/preset/info_bottleneck/<scale>.yaml),
    never from a Python default: a key missing there is an error."""

    name: str = MISSING
    hidden: list[int] = field(default=MISSING)
    networks: dict[str, Network] = field(default=MISSING)  # shard name -> network
    protocols: dict[str, TrainingProtocol] = field(default=MISSING)
    lr: float = MISSING
    epochs: int = MISSING
    train_fraction: float = MISSING
    split_seed: int = MISSING  # the seed of a shuffled split (protocols with shuffled_split)
    n_records: int = MISSING  # log-spaced epochs at which the information is estimated
    estimators: Estimators = MISSING
    kde_records: int = MISSING  # KDE (4096² distances per layer) on this many of the record epochs
    mnist: MnistNetwork = MISSING  # Saxe et al.'s MNIST network (its own shard)
    deviations: dict[str, str] = field(default=MISSING)  # config key -> why this scale differs from the paper
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("info_bottleneck",))
        for h in self.hidden:
            positive("experiment.hidden[]", h)
        for k in ("lr", "epochs", "n_records", "kde_records"):
            positive(f"experiment.{k}", getattr(self, k))
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"experiment.train_fraction must be in (0, 1), got {self.train_fraction}")
        if not self.networks:
            raise ConfigError("experiment.networks must name at least one network (e.g. tanh-st, tanh, relu)")
        for name, net in self.networks.items():
            if name == mnist_net.SHARD:
                raise ConfigError(f"experiment.networks: {name!r} is the MNIST shard's name; choose another")
            one_of(f"experiment.networks.{name}.protocol", net.protocol, tuple(self.protocols))


def shards(exp: Config) -> dict[str, Shard]:
    common = ("hidden", "lr", "epochs", "train_fraction", "split_seed", "n_records", "estimators", "kde_records")
    out = {
        name: Shard((*common, f"networks.{name}", f"protocols.{net.protocol}")) for name, net in exp.networks.items()
    }
    if exp.mnist.enabled:
        out[mnist_net.SHARD] = Shard(("mnist",))
    return out


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    return seeds[: exp.mnist.seeds] if shard == mnist_net.SHARD else seeds


def datasets(exp: Config, shard: str) -> list[DataRef]:
    return [mnist_net.data_ref(exp.mnist)] if shard == mnist_net.SHARD else [DataRef("ib12")]


def split(c: Config, protocol: TrainingProtocol, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) indices of the 12-bit patterns: shuffled with split_seed, or the file's order (Shwartz-Ziv &
    Tishby's code trains on the first 80% of var_u.mat as stored, so its test set is patterns starting '11')."""
    n_train = int(round(c.train_fraction * n))
    if protocol.shuffled_split:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(c.split_seed))
    else:
        order = torch.arange(n)
    order = order.to(device)
    return order[:n_train], order[n_train:]


def run_shard(ctx) -> pd.DataFrame:
    if ctx.shard == mnist_net.SHARD:
        return mnist_net.run(ctx)
    from repro.experiments.info_bottleneck.measure import train_in_information_plane
    from repro.nn.fused import FlatBatchedMLP

    c: Config = ctx.exp
    net = c.networks[ctx.shard]
    protocol = c.protocols[net.protocol]
    d = load(DataRef("ib12"), ctx.data_dir)
    x = torch.tensor(d["x"], dtype=torch.float32, device=ctx.device)
    y = torch.tensor(d["y"], device=ctx.device)
    tr, te = split(c, protocol, len(x), ctx.device)
    points = [(net.activation, s) for s in ctx.seeds]
    sizes = [12, *c.hidden, 2]
    init = [protocol.hidden_init] * (len(sizes) - 2) + [protocol.output_init]
    model = FlatBatchedMLP([s for _, s in points], sizes, net.activation, init=init).to(ctx.device)
    table = train_in_information_plane(
        ctx,
        model,
        points,
        x=x,
        y=y,
        pool=tr,
        x_info=x,
        y_info=y,
        acc_index=te,
        batch_size=protocol.batch_size,
        epochs=c.epochs,
        n_records=c.n_records,
        kde_records=c.kde_records if net.kde else 0,
        estimators=c.estimators,
        optimizer=lean_adam(c.lr),
    )  # torch's Adam update, without its overhead
    table.insert(0, "protocol", net.protocol)
    return table


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.info_bottleneck.plots import all_figures  # seaborn loads only when plotting

    return all_figures(table, cfg)


def protocol(cfg) -> list[dict]:
    e: Config = cfg.experiment
    est = e.estimators
    rows = [
        {
            "key": "network",
            "value": f"12-{'-'.join(map(str, e.hidden))}-2, softmax output, zero biases; "
            f"cross-entropy, Adam lr {e.lr:g}, {e.epochs} epochs",
        }
    ]
    for name, net in e.networks.items():
        p = e.protocols[net.protocol]
        split_text = (
            f"{e.train_fraction:.0%} of the 4096 patterns for training, shuffled once (seed {e.split_seed})"
            if p.shuffled_split
            else f"the first {e.train_fraction:.0%} of the patterns in the file's order (so the test set is "
            "the patterns starting '11', 84% positive)"
        )
        rows.append(
            {
                "key": f"shard {name}",
                "value": f"{net.activation}; {p.source}: batch {p.batch_size}, hidden "
                f"init {p.hidden_init}, output init {p.output_init}; "
                f"{split_text}{'' if net.kde else '; no KDE'}",
            }
        )
    rows += [
        {
            "key": "information",
            "value": f"on all 4096 inputs at {e.n_records} log-spaced epochs: Shwartz-Ziv & "
            f"Tishby's binning (edges linspace(-1, 1, {est.st_bins})); Saxe et al.'s "
            f"fixed-width binning (widths {', '.join(f'{w:g}' for w in est.bin_widths)},"
            f" no range limit); range-adaptive binning ({est.adaptive_bins} bins over "
            f"each layer's [min, max], a separate row, not Saxe et al.'s); KDE upper "
            f"bound (noise variance {est.kde_noise_var:g}) at {e.kde_records} of the "
            "epochs",
        },
        {"key": "seeds", "value": f"{len(cfg.seeds)} per network"},
        *([mnist_net.protocol_row(e.mnist, len(cfg.seeds))] if e.mnist.enabled else []),
    ]
    return rows
