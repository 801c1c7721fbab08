"""Run shards of an experiment and write their outputs.

`run(cfg)` runs one shard (or every shard) of a validated config. Each shard writes, atomically,
into its own directory: the tidy table, the frozen resolved config, and provenance.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import torch

from repro import checkpoint, tracking
from repro import config as config_mod
from repro.io import provenance, write_json, write_table, write_text
from repro.paths import FROZEN_CONFIG, PROVENANCE, TABLE, digest, scratch_dir, shard_dir
from repro.tracking import Tracker, tracker
from repro.train import pick_device


@dataclass
class ShardContext:
    """What an experiment's `run_shard` gets: the config, its shard, seeds, device and tracker."""

    cfg: config_mod.RunConfig
    shard: str
    device: torch.device
    tracker: Tracker
    out: Path  # the shard's output directory (its scratch directory sits beside it)
    digest: str  # of the config the shard ran with: saved state of another config is not used
    checkpointer: checkpoint.Checkpointer | None = None  # the shard run's (train() calls use it: repro.checkpoint)

    @property
    def exp(self):
        return self.cfg.experiment

    @property
    def seeds(self) -> list[int]:
        return self.cfg.seeds

    @property
    def data_dir(self) -> str:
        return self.cfg.data_dir

    def label(self, *parts) -> str:
        return "/".join([self.exp.name, self.shard, *map(str, parts)])

    def stages(self) -> checkpoint.Stages:
        """Where to save the state after each finished stage (see `repro.checkpoint.Stages`)."""
        return checkpoint.Stages(self.out, self.digest)

    def keep(self, name: str, obj) -> None:
        """Register state a resumed run must get back (see `repro.checkpoint`): rows, orders, generators."""
        if self.checkpointer is not None:
            self.checkpointer.keep(name, obj)
        else:
            checkpoint.keep(name, obj)


def run(cfg: config_mod.RunConfig) -> list[Path]:
    """Run the shard named in cfg.shard, or all shards in turn; return their output dirs."""
    module = config_mod.experiment_module(cfg.experiment.name)
    names = [cfg.shard] if cfg.shard else list(module.shards(cfg.experiment))
    if cfg.out and len(names) > 1:
        raise config_mod.ConfigError("out= needs shard= (one output dir per shard)")
    return [run_shard(cfg, module, name) for name in names]


def run_shard(cfg: config_mod.RunConfig, module, shard: str) -> Path:
    cfg = dataclasses.replace(cfg, shard=shard)
    out = Path(cfg.out) if cfg.out else shard_dir(cfg.scale.name, cfg.experiment.name, shard)
    torch.set_num_threads(cfg.scale.threads)
    device = pick_device(cfg.scale.device)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    frozen = config_mod.to_dict(cfg)
    print(f"[{cfg.experiment.name}/{shard}] scale={cfg.scale.name} seeds={cfg.seeds} device={device}", flush=True)
    ck = checkpoint.Checkpointer(
        scratch_dir(out),
        digest({k: frozen[k] for k in ("experiment", "scale", "seed", "shard", "data_dir")}),
        enabled=getattr(module, "RESUMABLE", False),
    )
    with (
        tracker(
            cfg.tracking.mode,
            project=cfg.tracking.project,
            directory=cfg.tracking.dir,
            name=f"{cfg.scale.name}-{cfg.experiment.name}-{shard}",
            group=f"{cfg.scale.name}-{cfg.experiment.name}",
            config=frozen,
        ) as track,
        tracking.activated(track),
        checkpoint.activated(ck),
    ):
        table = module.run_shard(ShardContext(cfg, shard, device, track, out, ck.digest, ck))
        wall = time.perf_counter() - t0
        log_curves(track, table)
        track.summary({"wall_time_s": wall, "rows": len(table)})
    check_tidy(table, f"{cfg.experiment.name}/{shard}")
    table.insert(0, "shard", shard)
    write_text(out / FROZEN_CONFIG, config_mod.to_yaml(cfg))
    write_json(
        out / PROVENANCE,
        provenance(
            device=str(device), seeds=cfg.seeds, wall_time_s=wall, started=started, resumed_from=ck.resumed_from
        ),
    )
    write_table(out / TABLE, table)  # last: its presence means the shard is complete
    ck.clear()
    print(f"[{cfg.experiment.name}/{shard}] wrote {out} ({len(table)} rows) in {wall:.1f}s", flush=True)
    return out


def log_curves(track: Tracker, table: pd.DataFrame) -> None:
    """Every metric's median over points and seeds, per step, as tracker history (curves in wandb)."""
    if "step" not in table or "metric" not in table:
        return
    medians = table.groupby(["step", "metric"])["value"].median().unstack("metric")
    for step, row in medians.iterrows():
        track.log({"curves/step": int(step), **{f"curves/{m}/median": v for m, v in row.dropna().items()}})


TIDY_COLUMNS = ("seed", "step", "metric", "value")


def check_tidy(table: pd.DataFrame, label: str) -> None:
    """A shard's table must be tidy: one row per point × seed × step × metric, finite values."""
    missing = [c for c in TIDY_COLUMNS if c not in table.columns]
    if missing:
        raise RuntimeError(f"[{label}] table lacks tidy column(s) {missing}")
    keys = [c for c in table.columns if c != "value"]
    dup = table.duplicated(subset=keys)
    if dup.any():
        raise RuntimeError(f"[{label}] table has {int(dup.sum())} duplicate rows for the same point/seed/step/metric")
