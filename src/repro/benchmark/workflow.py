"""Wall time of the real Snakemake DAG, from nothing, in a scratch copy of the workflow: per experiment and scale
against its target, or the whole DAG (`--all`) against the 10-minute goal. Each run is a single measurement (a
laptop DAG takes minutes); `--repeats` runs it again and reports the median and min–max."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from repro.benchmark.timing import Timing
from repro.config import available_experiments, conf_dir, experiment_module

# The whole laptop DAG's goal on 2 CPU cores (README, "Speed"); each experiment states its own targets
# (`WALL_TARGET_S`, per scale, in its module).
DAG_GOAL_S = 600.0
COPIED = ("Snakefile", "workflow", "conf", "environment.yml")


def _bin() -> Path:
    """The directory of this interpreter's scripts (the venv's bin/): snakemake and the rules' python live there."""
    return Path(sys.executable).parent


def target_s(experiment: str, scale: str) -> float | None:
    """The experiment's own wall-time target at this scale (`WALL_TARGET_S` in its module), if it states one."""
    return getattr(experiment_module(experiment), "WALL_TARGET_S", {}).get(scale)


def command(experiments: str, scale: str, cores: int) -> list[str]:
    exe = _bin() / "snakemake"
    return [
        str(exe) if exe.exists() else "snakemake",
        "--cores",
        str(cores),
        "--config",
        f"scale={scale}",
        f"experiments={experiments}",
        "tracking=disabled",
        "--quiet",
        "all",
    ]


def _target(target: float | None, whole: bool) -> str:
    return "" if target is None else f"{'goal' if whole else 'target'} {target:.0f} s = {target / 60:g} min"


def _verdict(wall: float, target: float | None, whole: bool) -> str:
    if target is None:
        return ""
    return f"  {_target(target, whole)}: " + ("met" if wall <= target else f"MISSED by {wall - target:.0f} s")


def run_dag(experiments: str, scale: str, cores: int) -> float:
    """One run from nothing; exits with Snakemake's output tail if it fails."""
    repo = conf_dir().parent
    with tempfile.TemporaryDirectory(prefix=f"repro-bench-{scale}-") as tmp:
        for part in COPIED:
            src = repo / part
            if src.exists():
                (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(tmp) / part)
        t0 = time.perf_counter()
        env = dict(os.environ, PATH=f"{_bin()}{os.pathsep}{os.environ.get('PATH', '')}")
        r = subprocess.run(command(experiments, scale, cores), cwd=tmp, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"snakemake failed (experiments={experiments}, scale={scale}):\n{(r.stdout + r.stderr)[-3000:]}")
    return wall


def bench_workflow(
    experiments: list[str] | None,
    scales: list[str],
    cores: int,
    *,
    whole: bool = False,
    repeats: int = 1,
    dry: bool = False,
) -> dict[tuple[str, str], Timing]:
    """Per experiment (all of `available_experiments()` by default) and scale, or the whole DAG (`whole`)."""
    runs = (
        [("all", s, DAG_GOAL_S if s == "laptop" else None) for s in scales]
        if whole
        else [(e, s, target_s(e, s)) for e in (experiments or available_experiments()) for s in scales]
    )
    out = {}
    for exp, scale, target in runs:
        what = "whole DAG (every experiment)" if exp == "all" else f"{exp} workflow"
        if dry:
            goal = "" if target is None else f"  ({_target(target, exp == 'all')})"
            print(
                f"would run ×{repeats}, in a scratch copy of {', '.join(COPIED)}: "
                f"{' '.join(command(exp, scale, cores))}{goal}",
                flush=True,
            )
            continue
        t = Timing(tuple(run_dag(exp, scale, cores) for _ in range(repeats)))
        out[(exp, scale)] = t
        spread = f" [{t.lo:.1f}–{t.hi:.1f} s over {repeats}]" if repeats > 1 else ""
        verdict = _verdict(t.median, target, exp == "all")
        print(f"{what}, scale={scale}, --cores {cores}: {t.median:.1f} s{spread}{verdict}", flush=True)
    return out
