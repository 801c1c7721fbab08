"""Saxe et al.'s MNIST network for the information plane (paper scale): 784-1024-20-20-20-10, tanh and ReLU.

Saxe et al. 2018 (ICLR), Fig. 1C-D, and their code (artemyk/ibsgd, `MNIST_SaveActivations.ipynb`, `utils.py`,
`MNIST_ComputeMI.ipynb`): Keras Dense layers (Glorot-uniform weights, zero biases), softmax output,
cross-entropy, plain SGD lr 1e-3, batch 128, 10 000 epochs, inputs scaled to [-1, 1]; the information of every
hidden layer is measured on the 10 000 test images, with KDE noise variance 1e-1.

Every (activation, seed) network trains together in one batched model; each draws its own minibatches.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef, load
from repro.experiments.info_bottleneck.measure import Estimators
from repro.nn.batched import BatchedMLP
from repro.train import sgd

N_TRAIN, N_TEST = 60_000, 10_000
SHARD = "mnist"


@dataclass
class MnistNetwork:
    """Saxe et al. 2018 Fig. 1C-D (artemyk/ibsgd MNIST notebooks)."""

    # every value from conf/experiment/info_bottleneck.yaml (mnist:), with its source there
    enabled: bool = MISSING
    hidden: list[int] = MISSING
    activations: list[str] = MISSING
    init: str = MISSING  # glorot_uniform: the Keras Dense default
    lr: float = MISSING
    batch_size: int = MISSING
    epochs: int = MISSING
    seeds: int = MISSING  # the first `seeds` of the scale's seeds, per activation
    subset: int | None = MISSING  # train on the first N training images; None: all 60 000
    n_test: int = MISSING  # information on the first n_test test images
    n_records: int = MISSING  # log-spaced epochs at which the information is estimated
    estimators: Estimators = MISSING  # KDE noise variance 1e-1: Saxe et al.'s MNIST value (MNIST_ComputeMI.ipynb)
    kde_records: int = MISSING

    def __post_init__(self) -> None:
        for h in self.hidden:
            positive("experiment.mnist.hidden[]", h)
        for a in self.activations:
            one_of("experiment.mnist.activations[]", a, ("tanh", "relu"))
        one_of("experiment.mnist.init", self.init, ("glorot_uniform", "truncated_normal", "torch_default"))
        for k in ("lr", "batch_size", "epochs", "seeds", "n_test", "n_records", "kde_records"):
            positive(f"experiment.mnist.{k}", getattr(self, k))
        if self.subset is not None and not 0 < self.subset <= N_TRAIN:
            raise ConfigError(f"experiment.mnist.subset must be in 1..{N_TRAIN} or null, got {self.subset}")
        if self.n_test > N_TEST:
            raise ConfigError(f"experiment.mnist.n_test must be at most {N_TEST}, got {self.n_test}")


def data_ref(c: MnistNetwork) -> DataRef:
    return DataRef("mnist", {} if c.subset is None else {"subset": c.subset})


def run(ctx) -> pd.DataFrame:
    from repro.experiments.info_bottleneck.measure import train_in_information_plane

    c: MnistNetwork = ctx.exp.mnist
    seeds = ctx.seeds[: c.seeds]
    d = load(data_ref(c), ctx.data_dir)

    def pixels(a) -> torch.Tensor:  # uint8 [N, 1, 28, 28] -> [N, 784] in [-1, 1], as Saxe et al.'s utils.py
        return torch.tensor(a, dtype=torch.float32, device=ctx.device).flatten(1) / 255.0 * 2.0 - 1.0

    x, y = pixels(d["x"]), torch.tensor(d["y"], device=ctx.device)
    x_test, y_test = pixels(d["x_test"][: c.n_test]), torch.tensor(d["y_test"][: c.n_test], device=ctx.device)
    points = [(a, s) for a in c.activations for s in seeds]
    model = BatchedMLP([s for _, s in points], [x.shape[1], *c.hidden, 10], [a for a, _ in points], init=c.init).to(
        ctx.device
    )
    return train_in_information_plane(
        ctx,
        model,
        points,
        x=x,
        y=y,
        pool=torch.arange(len(x), device=ctx.device),
        x_info=x_test,
        y_info=y_test,
        acc_index=None,
        batch_size=c.batch_size,
        epochs=c.epochs,
        n_records=c.n_records,
        kde_records=c.kde_records,
        estimators=c.estimators,
        optimizer=sgd(c.lr),
    )


def protocol_row(c: MnistNetwork, seeds: int) -> dict:
    return {
        "key": "MNIST network",
        "value": f"784-{'-'.join(map(str, c.hidden))}-10 (Saxe et al.), {' and '.join(c.activations)}, "
        f"{c.init.replace('_', '-')} init, SGD lr {c.lr:g}, batch {c.batch_size}, {c.epochs} epochs on "
        f"{c.subset or N_TRAIN} training images, inputs scaled to [-1, 1]; information on {c.n_test} test "
        f"images (KDE noise variance {c.estimators.kde_noise_var:g} at {c.kde_records} of {c.n_records} "
        "epochs); "
        f"{min(c.seeds, seeds)} seeds per activation",
    }
