"""One module per reproduction, behind one contract.

The experiments are the files in conf/experiment/; each names a module here of the same name that
satisfies `Experiment` below. Nothing outside an experiment's module and its conf files knows about
that experiment; `tests/test_experiment_contract.py` checks every experiment against this contract, so
a new one is checked without anyone writing its plumbing tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: importing these would pull torch into the plan and the report
    import pandas as pd

    from repro.claims import Claim
    from repro.data import DataRef
    from repro.report.figures import Figure
    from repro.run import ShardContext


@dataclass(frozen=True)
class Shard:
    """What one shard job depends on: the config keys it reads, and its own point within them.

    `keys` are dotted paths under `cfg.experiment` (a whole section such as "fp1", or single values such
    as "mlp.epochs"). That one declaration decides both when Snakemake reruns the shard (its digest covers
    exactly these values, `point` and the seeds) and how the aggregate merges the shards' frozen configs
    (each key is taken from the shards that read it, which must agree).
    """

    keys: tuple[str, ...]
    point: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"n_train": 2000, "noise": 0.15}
    # The job's training FLOPs, where the experiment can count them (e.g. a ResNet width sweep). The plan turns it
    # into a run time (scale.device_tflops) for a shard never measured, so that a long job asks a cluster for
    # enough time and is planned to resume across allocations when it needs more than one (scale.job_limit_min).
    flops: float | None = None


def section_keys(exp_cfg, section: str = "", exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The dotted keys of every field of `exp_cfg.<section>` (of `exp_cfg` itself for ""), but `exclude`."""
    obj = lookup(exp_cfg, section) if section else exp_cfg
    prefix = f"{section}." if section else ""
    return tuple(prefix + f.name for f in dataclasses.fields(obj) if f.name not in exclude)


def lookup(obj, dotted: str):
    """`obj.a.b` (attributes or mapping keys) for "a.b"; KeyError naming the key when absent."""
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, Mapping):
            if part not in cur:
                raise KeyError(dotted)
            cur = cur[part]
        elif hasattr(cur, part):
            cur = getattr(cur, part)
        else:
            raise KeyError(dotted)
    return cur


@runtime_checkable
class Experiment(Protocol):
    """Every hook an experiment module provides.

    - `Config`: the dataclass schema of `cfg.experiment`. Every value comes from conf/ (fields are
      `omegaconf.MISSING` or a default that conf/ does not override); validation in `__post_init__`.
      Its fields include `name`, `deviations` (config key -> why this scale differs from the paper) and
      `first_seed` (the scale's seeds are first_seed, first_seed + 1, ...: a revised rule is judged on a
      block of seeds never used before).
    - `shards(exp_cfg) -> {name: Shard}`: the jobs, each with the config keys it reads. Names are path-safe.
    - `shard_seeds(exp_cfg, shard, seeds) -> seeds`: the seeds a shard's table holds (for run health).
    - `datasets(exp_cfg, shard) -> [DataRef]`: the files the shard reads (made by the data rule).
    - `run_shard(ctx) -> DataFrame`: the shard's tidy table, one row per point, seed, step and metric.
    - `RESUMABLE`: whether `run_shard` resumes from checkpoints (`repro.checkpoint`) after a kill.
    - `figures(table, cfg) -> [Figure]`, `protocol(cfg) -> [{key, value, paper?, note?}]`.
    - `CLAIMS: [Claim]`: each with its rule, preconditions and revision history.

    Optional: `WALL_TARGET_S = {scale: seconds}`, the wall time the experiment's DAG should take on 2 CPU cores
    run alone, which `python -m repro.benchmark workflow` measures against.
    """

    Config: type
    RESUMABLE: bool
    CLAIMS: list[Claim]

    def shards(self, exp_cfg) -> dict[str, Shard]: ...

    def shard_seeds(self, exp_cfg, shard: str, seeds: list[int]) -> list[int]: ...

    def datasets(self, exp_cfg, shard: str) -> list[DataRef]: ...

    def run_shard(self, ctx: ShardContext) -> pd.DataFrame: ...

    def figures(self, table: pd.DataFrame, cfg) -> list[Figure]: ...

    def protocol(self, cfg) -> list[dict]: ...
