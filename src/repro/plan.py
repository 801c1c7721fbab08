"""Plan: compose each experiment × scale and list its shards, for the Snakefile.

Each shard carries a digest of exactly the config it depends on. Snakemake gets the digest as a
rule parameter, so changing one value reruns only the shards whose digest changed (and what
depends on them), and nothing in other experiments.

`python -m repro.plan SCALE [EXPERIMENT ...]` prints the plan as JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass

from repro import config as config_mod
from repro.experiments import lookup
from repro.paths import digest, shard_dir


@dataclass(frozen=True)
class PlannedShard:
    experiment: str
    scale: str
    name: str
    digest: str  # of the config this shard depends on
    out: str  # results dir
    data: tuple[tuple[str, str, str], ...]  # (family, params JSON, path) of each dataset it reads
    gpu: bool
    threads: int
    mem_mb: int
    runtime_min: int


def shard_config(exp_cfg, keys) -> dict[str, object]:
    """The values of a shard's declared config keys (dotted, under cfg.experiment), JSON-ready."""
    return {k: config_mod.to_dict_part(lookup(exp_cfg, k)) for k in keys}


def shard_digest(cfg: config_mod.RunConfig, name: str, spec) -> str:
    """What decides whether a shard's outputs are stale: its declared keys' values, its point, the seeds
    and the device. Nothing else: editing a key no shard reads reruns only the aggregate."""
    return digest({"shard": name, "config": shard_config(cfg.experiment, spec.keys), "point": dict(spec.point),
                   "seeds": cfg.seeds, "device": cfg.scale.device})


def plan(experiment: str, scale: str, overrides: list[str] | tuple[str, ...] = ()) -> list[PlannedShard]:
    cfg = config_mod.compose([f"experiment={experiment}", f"scale={scale}", *overrides])
    module = config_mod.experiment_module(experiment)
    shards = []
    for name, spec in module.shards(cfg.experiment).items():
        refs = module.datasets(cfg.experiment, name)
        shards.append(PlannedShard(
            experiment=experiment, scale=scale, name=name, digest=shard_digest(cfg, name, spec),
            out=str(shard_dir(scale, experiment, name)),
            data=tuple((r.family, json.dumps(r.params, sort_keys=True), str(r.path(cfg.data_dir))) for r in refs),
            gpu=cfg.scale.gpu, threads=cfg.scale.threads, mem_mb=cfg.scale.mem_mb,
            runtime_min=cfg.scale.runtime_min,
        ))
    return shards


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    scale, experiments = argv[0], argv[1:] or config_mod.available_experiments()
    try:
        out = [asdict(s) for e in experiments for s in plan(e, scale)]
    except config_mod.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
