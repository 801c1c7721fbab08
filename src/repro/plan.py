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
from repro.io import digest
from repro.run import shard_dir


@dataclass(frozen=True)
class Shard:
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


def plan(experiment: str, scale: str, overrides: list[str] | tuple[str, ...] = ()) -> list[Shard]:
    cfg = config_mod.compose([f"experiment={experiment}", f"scale={scale}", *overrides])
    module = config_mod.experiment_module(experiment)
    shared = {"seeds": cfg.seeds, "device": cfg.scale.device}
    shards = []
    for name, part in module.shards(cfg.experiment).items():
        refs = module.datasets(cfg.experiment, name)
        shards.append(Shard(
            experiment=experiment, scale=scale, name=name,
            digest=digest({"shard": name, "config": config_mod.to_dict_part(part), **shared}),
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
