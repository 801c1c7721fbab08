"""Inverse-problem unrolling: the LISTA family against ISTA/FISTA (sparse recovery), and learned primal-dual
against FBP and TV (tomography).

Shards `sparse-noiseless` and `sparse-snr40` each train LISTA, LISTA-CP, LISTA-CPSS and ALISTA side by side with
the papers' layer-wise schedule (`lista.train_layerwise`; greedily on a cached pool at laptop scale,
`lista.train_greedy`), then measure the NMSE after every layer on the fixed test set, and run ISTA and FISTA batched
over the test set for a grid of lam until every lam has plateaued.
Shard `tomography` is learned primal-dual reconstruction (`tomography`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from omegaconf import MISSING

from repro.config import ConfigError, one_of, positive
from repro.data import DataRef
from repro.experiments import Shard
from repro.experiments.unrolling import tomography
from repro.experiments.unrolling.claims import CLAIMS as CLAIMS  # re-exported: the experiment interface
from repro.experiments.unrolling.lista import INITS, METHODS
from repro.experiments.unrolling.tomography import Tomography

# A killed shard resumes from its last checkpoint (repro.checkpoint): all its state is registered with ctx.keep.
RESUMABLE = True

# Wall-time targets of this experiment's whole DAG on 2 CPU cores, run alone (python -m repro.benchmark workflow).
WALL_TARGET_S = {"laptop": 600.0}


@dataclass
class Config:
    """Chen et al. 2018 (arXiv 1808.10038) §4 and Liu et al. 2019 (ALISTA) §5: the sparse-recovery protocol.

    The schema only: every value comes from conf/ (conf/experiment/unrolling.yaml and
    conf/preset/unrolling/<scale>.yaml), never from a Python default; a key missing there is an error."""

    name: str = MISSING
    m: int = MISSING
    n: int = MISSING
    p: float = MISSING  # probability that a code entry is non-zero
    layers: int = MISSING
    n_test: int = MISSING
    n_val: int = MISSING
    data_seed: int = MISSING
    snr_db: list[float | None] = field(default=MISSING)  # one shard each; None: noiseless
    methods: list[str] = field(default=MISSING)  # a subset of lista.METHODS
    lam: float = MISSING  # the learned nets start with threshold lam / L
    init: str = MISSING  # where LISTA's, LISTA-CP's and LISTA-CPSS's matrices start: "ista" or "alista" (lista.INITS)
    alista_step: float = MISSING  # ALISTA's initial step gamma (the authors' code: 1.0)
    ss_step: float = MISSING  # support selection: p_k = min(ss_step * k, ss_max) percent
    ss_max: float = MISSING
    schedule: str = MISSING  # "layerwise" (the papers'); "greedy": one layer at a time on a cached pool, then a finish
    lr: float = MISSING  # Adam's rate for the matrices
    scalar_lr: float = MISSING  # Adam's rate for the learned scalars (thresholds, step sizes), their own group
    method_lr: dict[str, float] = field(default=MISSING)  # a method's own matrix rate in place of lr ({}: none)
    decays: list[float] = field(default=MISSING)  # the fine-tuning phases of each layer
    decay_rate: float = MISSING  # layer-wise: a trained layer's gradient multiplier shrinks by this per new layer
    pool: int = MISSING  # greedy: the fixed training pool (codes and their measurements)
    finish_steps: int = MISSING  # greedy: end-to-end steps on the sum of per-layer losses after the last layer
    finish_lr: float = MISSING  # greedy: the finish's matrix rate
    batch_size: int = MISSING
    steps: int = MISSING  # at most this many steps per phase
    patience: int | None = MISSING  # stop a phase after this many validations without improvement; None: all steps
    eval_every: int = MISSING
    seeds: int = MISSING  # training seeds of the learned networks (the first of the scale's seeds)
    classical_iterations: int = MISSING  # at most this many ISTA/FISTA iterations
    plateau_db: float = MISSING  # ISTA/FISTA stop once every lam gains less than this over the last 10% of iterations
    classical_lams: list[float] = field(default=MISSING)
    tomography: Tomography = MISSING
    deviations: dict[str, str] = field(default=MISSING)  # config key -> why this scale differs from the paper
    first_seed: int = MISSING  # the seeds are first_seed, first_seed + 1, ... (conf/experiment/<name>.yaml)

    def __post_init__(self) -> None:
        one_of("experiment.name", self.name, ("unrolling",))
        for k in (
            "m",
            "n",
            "layers",
            "n_test",
            "n_val",
            "lr",
            "scalar_lr",
            "batch_size",
            "steps",
            "eval_every",
            "seeds",
            "classical_iterations",
            "lam",
            "alista_step",
            "decay_rate",
            "pool",
            "finish_lr",
            "plateau_db",
        ):
            positive(f"experiment.{k}", getattr(self, k))
        if not 0 < self.p <= 1:
            raise ConfigError(f"experiment.p must be in (0, 1], got {self.p}")
        if not self.snr_db:
            raise ConfigError("experiment.snr_db must list at least one setting (null = noiseless)")
        for m in self.methods:
            one_of("experiment.methods[]", m, METHODS)
        one_of("experiment.schedule", self.schedule, ("layerwise", "greedy"))
        one_of("experiment.init", self.init, INITS)
        for m, v in self.method_lr.items():
            one_of("experiment.method_lr key", m, METHODS)
            positive(f"experiment.method_lr.{m}", v)
        if self.finish_steps < 0:
            raise ConfigError(f"experiment.finish_steps must be >= 0, got {self.finish_steps}")
        if self.schedule == "greedy" and self.batch_size > self.pool:
            raise ConfigError(
                f"experiment.batch_size ({self.batch_size}) must not exceed experiment.pool "
                f"({self.pool}) in the greedy schedule"
            )
        for lam in self.classical_lams:
            positive("experiment.classical_lams[]", lam)
        if not 0 <= self.ss_step <= 100 or not 0 <= self.ss_max <= 100:
            raise ConfigError(
                f"experiment.ss_step and ss_max are percentages in [0, 100], got {self.ss_step} and {self.ss_max}"
            )
        if self.patience is not None:
            positive("experiment.patience", self.patience)


SPARSE_KEYS = (
    "m",
    "n",
    "p",
    "layers",
    "n_test",
    "n_val",
    "data_seed",
    "methods",
    "lam",
    "init",
    "alista_step",
    "ss_step",
    "ss_max",
    "schedule",
    "lr",
    "scalar_lr",
    "method_lr",
    "decays",
    "decay_rate",
    "pool",
    "finish_steps",
    "finish_lr",
    "batch_size",
    "steps",
    "patience",
    "eval_every",
    "seeds",
    "classical_iterations",
    "plateau_db",
    "classical_lams",
)


def noise_name(snr_db: float | None) -> str:
    return "noiseless" if snr_db is None else f"snr{snr_db:g}"


def shards(exp: Config) -> dict[str, Shard]:
    out = {f"sparse-{noise_name(s)}": Shard(SPARSE_KEYS, {"snr_db": s}) for s in exp.snr_db}
    if exp.tomography.enabled:
        out["tomography"] = Shard(("tomography",))
    return out


def shard_seeds(exp: Config, shard: str, seeds: list[int]) -> list[int]:
    return seeds[: exp.tomography.seeds] if shard == "tomography" else seeds[: exp.seeds]


def sparse_ref(c: Config) -> DataRef:
    return DataRef("sparse", {"m": c.m, "n": c.n, "p": c.p, "n_test": c.n_test, "n_val": c.n_val, "seed": c.data_seed})


def datasets(exp: Config, shard: str) -> list[DataRef]:
    return [tomography.data_ref(exp.tomography)] if shard == "tomography" else [sparse_ref(exp)]


def run_shard(ctx) -> pd.DataFrame:
    if ctx.shard == "tomography":
        return tomography.run(ctx)
    from repro.experiments.unrolling.sparse_run import run_sparse

    snr = {f"sparse-{noise_name(s)}": s for s in ctx.exp.snr_db}[ctx.shard]
    return run_sparse(ctx, snr)


def figures(table: pd.DataFrame, cfg) -> list:
    from repro.experiments.unrolling.plots import all_figures  # seaborn loads only when plotting

    figs = all_figures(table, cfg)
    if "image" in table.columns:
        figs += tomography.figures(table[table["shard"] == "tomography"] if "shard" in table.columns else table)
    return figs


def protocol(cfg) -> list[dict]:
    e: Config = cfg.experiment
    noise = ", ".join("noiseless" if s is None else f"SNR {s:g} dB" for s in e.snr_db)
    sched = (
        f"until {e.patience} validations ({e.eval_every} steps apart) bring no improvement, at most {e.steps} steps"
        if e.patience is not None
        else f"{e.steps} steps each"
    )
    rates = (
        f"Adam, matrices at lr {e.lr:g}"
        + "".join(f" ({m} {v:g})" for m, v in e.method_lr.items())
        + f", thresholds and step sizes at {e.scalar_lr:g} in their own group"
    )
    fine = ", × ".join(f"{d:g}" for d in e.decays)
    start = (
        "ISTA (W = A/L, step 1/L)"
        if e.init == "ista"
        else f"ALISTA's initial layer (a disclosed warm start: the analytic W at step {e.alista_step:g})"
    )
    if e.schedule == "layerwise":
        training = (
            f"layer-wise (Chen et al.; the authors' utils/train.py): per layer, the new layer's parameters, "
            f"then all layers so far at lr × {fine}, a trained layer's gradient multiplied by {e.decay_rate:g} "
            f"per later layer (the reference's get_train_op; under Adam this changes only eps); each phase "
            f"{sched}, fresh codes every step"
        )
    else:
        training = (
            f"greedy (not the papers' schedule): per layer, on a fixed pool of {e.pool} codes with that "
            f"layer's input cached, the layer's own parameters for {e.steps} steps at lr, then {e.steps} at "
            f"each lr × {fine}; then {e.finish_steps} end-to-end steps on the sum of the per-layer losses "
            f"at lr {e.finish_lr:g}"
        )
    return [
        {
            "key": "problem",
            "value": f"y = A x (+ noise), A {e.m}×{e.n} N(0, 1/m) with unit-norm columns, x "
            f"Bernoulli({e.p:g}) × N(0, 1); {noise}; {e.n_test} fixed test vectors, "
            f"{e.n_val} validation vectors",
        },
        {
            "key": "learned",
            "value": f"{', '.join(e.methods)}; {e.layers} layers; thresholds start at λ/L, λ = "
            f"{e.lam:g}; the matrices of LISTA, LISTA-CP and LISTA-CPSS start as {start}; "
            f"ALISTA's step starts at {e.alista_step:g} (the authors' code); support "
            f"selection {e.ss_step:g}% per layer, at most {e.ss_max:g}%, an entry passing "
            "only when in the top p% of its vector and above the threshold (the authors' "
            "shrink_ss); ALISTA's W from the Frobenius coherence problem",
        },
        {
            "key": "training",
            "value": f"{training}; {rates}; batch {e.batch_size}; {e.seeds} training seed(s); the "
            "validation NMSE of the full-depth output is recorded over the steps that "
            "train it (the claims' convergence precondition)",
        },
        {
            "key": "classical",
            "value": f"ISTA and FISTA for λ in {e.classical_lams}, batched over the test set, "
            f"until every λ gains less than {e.plateau_db:g} dB over the last 10% of its "
            f"iterations (at most {e.classical_iterations}); at {e.layers} iterations each "
            "uses the λ best on the validation set",
        },
        *([tomography.protocol_row(e.tomography)] if e.tomography.enabled else []),
    ]
