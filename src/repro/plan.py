"""Plan: compose each experiment × scale and list its shards, for the Snakefile.

Each shard carries a digest of exactly the config it depends on. Snakemake gets the digest as a
rule parameter, so changing one value reruns only the shards whose digest changed (and what
depends on them), and nothing in other experiments.

Each shard also carries its expected wall time (`expected_s`: this machine's last measurement, else the
reference times each experiment ships in its shard_times.tsv), which becomes its Snakemake priority so that the longest
shards start first, and from which the plan estimates the whole run's wall time and critical path.

`python -m repro.plan SCALE [EXPERIMENT ...]` prints the plan as JSON;
`python -m repro.plan SCALE [EXPERIMENT ...] --summary [--cores N]` prints the expected schedule.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from repro import config as config_mod
from repro.experiments import lookup
from repro.paths import BENCHMARKS_DIR, digest, experiment_dir, shard_dir

REFERENCE_TIMES = "shard_times.tsv"  # in each experiment's package, src/repro/experiments/<name>/


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
    runtime_min: int  # minutes to ask the scheduler for, per job (`job_plan`)
    expected_s: float | None  # expected wall time of the shard; None when neither measured nor counted
    priority: int  # Snakemake's: the longer the shard, the earlier it starts
    expected_from: str | None = None  # "measured" (here), "reference" (its shard_times.tsv) or "flops" (counted)
    allocations: int = 1  # cluster jobs in a row the shard is planned to need, each resuming the last one's checkpoint
    job_limit_min: int | None = None  # the scale's longest job (None: no limit)

    def _failed_attempts(self, attempt: int) -> int:
        """Attempts before `attempt` that failed, rather than ran into their planned time limit."""
        return max(0, attempt - self.allocations)

    def runtime_request(self, attempt: int) -> int:
        """Minutes for Snakemake's `attempt` (1, 2, ...): the planned time for each of the planned jobs, then more
        after each failure (a job killed for its time limit gets longer), never beyond the scale's job limit."""
        grown = self.runtime_min * (1 + self._failed_attempts(attempt))
        return grown if self.job_limit_min is None else min(grown, self.job_limit_min)

    def mem_request(self, attempt: int) -> int:
        """MB for Snakemake's `attempt`: more after each failure (out of memory), not for the planned resumptions."""
        return self.mem_mb * (1 + self._failed_attempts(attempt))


def shard_config(exp_cfg, keys) -> dict[str, object]:
    """The values of a shard's declared config keys (dotted, under cfg.experiment), JSON-ready."""
    return {k: config_mod.to_dict_part(lookup(exp_cfg, k)) for k in keys}


def shard_digest(cfg: config_mod.RunConfig, name: str, spec) -> str:
    """What decides whether a shard's outputs are stale: its declared keys' values, its point, the seeds
    and the device. Nothing else: editing a key no shard reads reruns only the aggregate."""
    return digest(
        {
            "shard": name,
            "config": shard_config(cfg.experiment, spec.keys),
            "point": dict(spec.point),
            "seeds": cfg.seeds,
            "device": cfg.scale.device,
        }
    )


def _benchmark_seconds(path: Path) -> float | None:
    """Snakemake's benchmark TSV: the wall time `s` of its last repeat."""
    try:
        with path.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return float(rows[-1]["s"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def reference_times() -> dict[tuple[str, str, str], float]:
    """(scale, experiment, shard) -> seconds, from each experiment's own shard_times.tsv beside its module (an
    experiment without one has no reference). Read as a file, without importing the module."""
    import repro.experiments

    out = {}
    for experiment in config_mod.available_experiments():
        path = Path(repro.experiments.__file__).parent / experiment / REFERENCE_TIMES
        try:
            lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
        except OSError:
            continue
        for r in csv.DictReader(lines, delimiter="\t"):
            out[(r["scale"], experiment, r["shard"])] = float(r["seconds"])
    return out


def expected_seconds(scale: str, experiment: str, shard: str, reference: dict) -> tuple[float | None, str | None]:
    """(seconds, where from): this machine's last measurement of the shard's job, else the reference time."""
    measured = _benchmark_seconds(experiment_dir(scale, experiment) / BENCHMARKS_DIR / f"{shard}.tsv")
    if measured is not None:
        return measured, "measured"
    ref = reference.get((scale, experiment, shard))
    return (ref, "reference") if ref is not None else (None, None)


# A run-time estimate (a count of FLOPs at an assumed throughput, or a measurement on another machine) may be off
# by this factor; the scheduler's request allows for it.
ESTIMATE_SAFETY = 1.5


def job_plan(expected_s: float | None, scale) -> tuple[int, int]:
    """(minutes to request per cluster job, jobs in a row) for a shard expected to take `expected_s` seconds.

    Unknown: `scale.runtime_min`, one job. Known: the estimate with its safety factor plus the margin for starting
    and checkpointing (`JOB_MARGIN_MIN`). Longer than `scale.job_limit_min`: jobs of that limit, as many as the
    training time needs; each resumes from the checkpoint its predecessor wrote when the scheduler stopped it
    (SIGTERM: repro.checkpoint), and Snakemake's retries resubmit them (workflow/rules/train.smk)."""
    if expected_s is None:
        runtime = scale.runtime_min
    else:
        runtime = math.ceil(expected_s * ESTIMATE_SAFETY / 60) + config_mod.JOB_MARGIN_MIN
    limit = scale.job_limit_min
    if limit is None or runtime <= limit:
        return runtime, 1
    training = runtime - config_mod.JOB_MARGIN_MIN
    return limit, math.ceil(training / (limit - config_mod.JOB_MARGIN_MIN))


def plan(experiment: str, scale: str, overrides: list[str] | tuple[str, ...] = ()) -> list[PlannedShard]:
    cfg = config_mod.compose([f"experiment={experiment}", f"scale={scale}", *overrides])
    module = config_mod.experiment_module(experiment)
    reference = reference_times()
    shards = []
    for name, spec in module.shards(cfg.experiment).items():
        refs = module.datasets(cfg.experiment, name)
        expected, source = expected_seconds(scale, experiment, name, reference)
        if expected is None and spec.flops and cfg.scale.device_tflops:
            expected, source = spec.flops / (cfg.scale.device_tflops * 1e12), "flops"
        runtime, allocations = job_plan(expected, cfg.scale)
        shards.append(
            PlannedShard(
                experiment=experiment,
                scale=scale,
                name=name,
                digest=shard_digest(cfg, name, spec),
                out=str(shard_dir(scale, experiment, name)),
                data=tuple((r.family, json.dumps(r.params, sort_keys=True), str(r.path(cfg.data_dir))) for r in refs),
                gpu=cfg.scale.gpu,
                threads=cfg.scale.threads,
                mem_mb=cfg.scale.mem_mb,
                runtime_min=runtime,
                expected_s=expected,
                priority=0 if expected is None else int(round(expected)),
                expected_from=source,
                allocations=allocations,
                job_limit_min=cfg.scale.job_limit_min,
            )
        )
    return shards


@dataclass(frozen=True)
class Schedule:
    wall_s: float  # expected wall time of the shard jobs on `cores` cores, longest first
    work_s: float  # the sum of the known shard times
    critical: PlannedShard | None  # the longest shard: no schedule ends before it
    unknown: tuple[str, ...]  # shards never measured (counted as 0 s)


def schedule(shards: list[PlannedShard], cores: int) -> Schedule:
    """Longest-first list scheduling of the shard jobs on `cores` cores, as Snakemake runs them by priority
    (each job holds `threads` cores; the data, aggregate and report jobs are short and left out)."""
    free = [(0.0, i) for i in range(max(cores, 1))]  # (time a core becomes free, core)
    longest_first = sorted(shards, key=lambda s: -(s.expected_s or 0.0))
    wall = 0.0
    for s in longest_first:
        taken = [heapq.heappop(free) for _ in range(min(s.threads, cores))]
        end = max(t for t, _ in taken) + (s.expected_s or 0.0)
        for _, core in taken:
            heapq.heappush(free, (end, core))
        wall = max(wall, end)
    return Schedule(
        wall,
        sum(s.expected_s or 0.0 for s in shards),
        longest_first[0] if shards else None,
        tuple(f"{s.experiment}/{s.name}" for s in shards if s.expected_s is None),
    )


def summary(shards: list[PlannedShard], cores: int) -> str:
    """What the plan expects: the jobs longest first, and the whole run's wall time on `cores` cores."""
    sch = schedule(shards, cores)
    lines = [
        f"[plan] {len(shards)} shard jobs, {sch.work_s / 60:.1f} min of work; expected wall time on {cores} "
        f"core(s): {sch.wall_s / 60:.1f} min (longest first)"
    ]
    if sch.critical is not None and sch.critical.expected_s:
        c = sch.critical
        lines.append(
            f"[plan] critical path: {c.experiment}/{c.name}, {c.expected_s:.0f} s; no run ends before it, "
            f"nor before the work per core, {sch.work_s / max(cores, 1):.0f} s"
        )
    for s in sorted(shards, key=lambda s: -(s.expected_s or 0.0)):
        t = "never measured" if s.expected_s is None else f"{s.expected_s:6.0f} s"
        counted = " counted from FLOPs at scale.device_tflops," if s.expected_from == "flops" else ""
        jobs = (
            f", {s.allocations} jobs of {s.runtime_min} min in a row (each resumes the last one's checkpoint)"
            if s.allocations > 1
            else ""
        )
        lines.append(
            f"[plan]   {t}  {s.experiment}/{s.name}  ({s.threads} thread{'s' if s.threads > 1 else ''},"
            f"{counted} asks for {s.runtime_min} min{jobs})"
        )
    if sch.unknown:
        lines.append(f"[plan] {len(sch.unknown)} shard(s) never measured count as 0 s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("scale", help=f"one of {', '.join(config_mod.SCALES)}")
    p.add_argument("experiments", nargs="*", help="default: every experiment")
    p.add_argument("--summary", action="store_true", help="print the expected schedule instead of JSON")
    p.add_argument("--cores", type=int, default=2, help="cores for the expected schedule (default 2)")
    args = p.parse_args(argv)
    try:
        shards = [s for e in args.experiments or config_mod.available_experiments() for s in plan(e, args.scale)]
    except config_mod.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(shards, args.cores) if args.summary else json.dumps([asdict(s) for s in shards], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
