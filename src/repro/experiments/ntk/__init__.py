"""The neural tangent kernel and lazy training.

Two kinds of shard:
- widths-g<i>: a group of seeds; each seed trains a bias-free ReLU net in the NTK parameterisation at every width
  (`widths.py`): the empirical NTK against the analytic one at initialisation (NTK1, Jacot et al. 2018), its change
  during full-batch GD (NTK2, Jacot; Lee et al. 2019), the network against its linearisation (NTK3, Lee) and against
  the analytic-kernel predictor (NTK4, Jacot; Arora et al. 2019).
- lazy: Chizat, Oyallon & Bach's output scale α (`lazy.py`, NTK5): relative weight change, distance to the
  linearisation, and test loss against α. At paper scale (VGG-11 on CIFAR-10) one job per (α, seed),
  lazy-alpha<α>-seed<s>, each with its counted FLOPs so that a cluster is asked for enough time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd
from omegaconf import MISSING

from repro.config import one_of
from repro.data import DataRef, load
from repro.experiments import Shard, section_keys
from repro.experiments.ntk.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.ntk.lazy import LazyConfig, cifar10_ref, describe, run_lazy, vgg_train_flops
from repro.experiments.ntk.widths import Task, WidthsConfig, run_seed

# A killed shard resumes: each width's training is one checkpointed train() call, and the rows are kept with it.
RESUMABLE = True

# Wall-time targets of this experiment's whole DAG on 2 CPU cores, run alone (python -m repro.benchmark workflow).
WALL_TARGET_S = {"laptop": 120.0}

LAZY = "lazy"
CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000


@dataclass
class Config:
    """The experiment's schema. Every value comes from conf/ (conf/experiment/ntk.yaml and conf/preset/ntk/<scale>)."""

    name: str = MISSING
    widths: WidthsConfig = MISSING
    lazy: LazyConfig = MISSING
    deviations: dict[str, str] = field(default=MISSING)  # config key -> why this scale differs from the paper
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("ntk",))


def shards(exp: Config) -> dict[str, Shard]:
    keys = section_keys(exp, "widths", exclude=("seed_groups",))
    out = {f"widths-g{g}": Shard(keys, {"group": g}) for g in range(exp.widths.seed_groups)}
    if exp.lazy.task == "teacher":
        out[LAZY] = Shard(("lazy.task", *section_keys(exp, "lazy.teacher")))
    else:  # one GPU job per (α, seed): each trains a VGG-11 and its linearisation for 100 epochs (hours, not minutes)
        v = exp.lazy.vgg
        keys = ("lazy.task", *section_keys(exp, "lazy.vgg", exclude=("alphas", "seeds")))
        flops = vgg_train_flops(v, v.subset or CIFAR_TRAIN, v.n_test or CIFAR_TEST)
        for alpha in v.alphas:
            for s in range(v.seeds):
                point = {"alpha": alpha, "seed": exp.first_seed + s}
                out[f"{LAZY}-alpha{alpha:g}-seed{exp.first_seed + s}".replace("e+", "e")] = Shard(
                    keys, point, flops=flops
                )
    return out


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    if shard == LAZY:
        return list(seeds)
    if shard.startswith(f"{LAZY}-"):
        return [int(shard.rsplit("seed", 1)[1])]
    group = int(shard.removeprefix("widths-g"))
    return [s for i, s in enumerate(seeds) if i % exp.widths.seed_groups == group]


def datasets(exp: Config, shard: str) -> list[DataRef]:
    if shard.startswith(LAZY):
        return [cifar10_ref(exp.lazy)] if exp.lazy.task == "cifar10_vgg" else []
    return [DataRef("cifar10")] if exp.widths.data == "cifar10" else []


def run_shard(ctx) -> pd.DataFrame:
    exp: Config = ctx.exp
    seeds = shard_seeds(exp, ctx.shard, list(ctx.seeds))
    if ctx.shard.startswith(LAZY):
        sec = exp.lazy
        if ctx.shard != LAZY:  # one (α, seed) of the VGG task
            alpha = shards(exp)[ctx.shard].point["alpha"]
            sec = dataclasses.replace(sec, vgg=dataclasses.replace(sec.vgg, alphas=[alpha]))
        return run_lazy(sec, seeds, ctx.device, data_dir=ctx.data_dir, keep=ctx.keep, label=ctx.label)
    arrays = load(datasets(exp, ctx.shard)[0], ctx.data_dir) if exp.widths.data == "cifar10" else None
    task = Task.build(exp.widths, arrays)
    rows = []
    for seed in seeds:
        rows += run_seed(exp.widths, task, seed, ctx.device, ctx.keep, lambda *p, s=seed: ctx.label(f"seed{s}", *p))
    return pd.DataFrame(rows)


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.ntk.plots import all_figures  # seaborn loads only when plotting

    return all_figures(table, cfg)


def protocol(cfg) -> list[dict]:
    """Key protocol values at this scale; the report adds the paper's values and the reasons for differences."""
    e: Config = cfg.experiment
    w, z = e.widths, e.lazy
    data = (
        f"{w.n_train} train / {w.n_test} test points uniform on S^{w.d - 1}, target sin(πx₁) + cos(πx₂)"
        if w.data == "sphere"
        else f"CIFAR-10 classes {w.classes} as ±1, {w.n_train} train / {w.n_test} test, centred, unit norm"
    )
    return [
        {
            "key": "widths",
            "value": f"bias-free ReLU net, {w.depth} hidden layers of widths {', '.join(map(str, w.widths))}, NTK "
            f"parameterisation (√(2/width) after each ReLU, weights N(0, 1)); {data}; full-batch GD on the halved "
            f"MSE, η = {w.lr_scale:g}/λ_max(Θ∞/N), {w.steps} steps; empirical NTK by torch.func in blocks of "
            f"{w.chunk} inputs; analytic NTK by the arc-cosine recursion in float64",
        },
        {
            "key": "linearised and kernel models",
            "value": "the linearised model (Θ̂ at init) and the analytic-kernel predictor (Θ∞) trained with the same "
            "GD steps in function space, both from the network's outputs at init",
        },
        {"key": "lazy", "value": describe(z)},
    ]
