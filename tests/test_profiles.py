"""The workflow profiles, checked with dry runs (no cluster needed: a dry run submits nothing, and
the slurm plugin needs neither sbatch nor sinfo/sacct for it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "conf", "profiles", "environment.yml")


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, REPRO_CONF_DIR=str(workdir / "conf"), WANDB_MODE="disabled")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def jobs_of(text: str) -> dict[str, list[str]]:
    """rule name -> the `resources:` line of each job a dry run lists (local rules included)."""
    out: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", "\n" + text):
        m = re.match(r"((?:local)?rule) (\w+):\n", block)
        if m:
            res = re.search(r"^\s+resources: (.*)$", block, re.M)
            out.setdefault(f"{m.group(1)} {m.group(2)}", []).append(res.group(1) if res else "")
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    return copy_workflow(tmp_path_factory.mktemp("profiles"))


def dry_run_slurm(workdir, scale):
    proc = snakemake(
        workdir, "-n", "--workflow-profile", "profiles/slurm", "--config", f"scale={scale}", "tracking=disabled"
    )
    assert proc.returncode == 0, output_of(proc)[-4000:]
    return jobs_of(output_of(proc))


def test_slurm_paper_sends_shards_to_gpu_partition(workdir):
    jobs = dry_run_slurm(workdir, "paper")
    assert "rule train_gpu" in jobs and not any("train_cpu" in r for r in jobs), list(jobs)
    for res in jobs["rule train_gpu"]:
        assert re.search(r"\bgpu=1\b", res), res
        assert "slurm_partition=<GPU_PARTITION>" in res, res
        assert "slurm_account=<ACCOUNT>" in res, res
        assert "mem_mb=16000" in res, res
    # shards never measured ask for conf/scale/paper.yaml's runtime_min; the CIFAR-10 width sweeps for their
    # counted FLOPs' time, up to the job limit
    runtimes = [int(re.search(r"\bruntime=(\d+)\b", res).group(1)) for res in jobs["rule train_gpu"]]
    assert 240 in runtimes and max(runtimes) > 240 and max(runtimes) <= 1440, sorted(set(runtimes))


def test_slurm_paper_splits_shards_longer_than_the_job_limit(tmp_path):
    """With a 3-hour partition, the widest ResNets run as several 3-hour jobs in a row (the rule's retries let
    Snakemake resubmit them; each resumes from the last checkpoint); no job asks for more than the limit."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    work = copy_workflow(tmp_path / "w")
    scale = work / "conf/scale/paper.yaml"
    scale.write_text(scale.read_text().replace("job_limit_min: 1440", "job_limit_min: 180"))
    proc = snakemake(
        work,
        "-n",
        "--workflow-profile",
        "profiles/slurm",
        "--config",
        "scale=paper",
        "experiments=[double_descent]",
        "tracking=disabled",
    )
    assert proc.returncode == 0, output_of(proc)[-4000:]
    jobs = jobs_of(output_of(proc))["rule train_gpu"]
    runtimes = [int(re.search(r"\bruntime=(\d+)\b", res).group(1)) for res in jobs]
    assert max(runtimes) == 180 and runtimes.count(180) > 20, sorted(set(runtimes))


def test_slurm_laptop_requests_no_gpu(workdir):
    jobs = dry_run_slurm(workdir, "laptop")
    assert "rule train_cpu" in jobs and not any("train_gpu" in r for r in jobs), list(jobs)
    for res in jobs["rule train_cpu"]:
        assert not re.search(r"\bgpu=", res), res
        assert "slurm_partition=<CPU_PARTITION>" in res, res


def test_default_profile_is_picked_up(workdir):
    proc = snakemake(workdir, "-n", "--config", "scale=smoke", "tracking=disabled")
    assert proc.returncode == 0, output_of(proc)[-4000:]
    assert "profiles/default" in output_of(proc)
    jobs = jobs_of(output_of(proc))
    assert "rule train_cpu" in jobs or "localrule train_cpu" in jobs, list(jobs)
