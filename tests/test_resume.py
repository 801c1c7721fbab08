"""A shard killed mid-run (SIGTERM, as a SLURM pre-emption sends, or SIGKILL) resumes from its last checkpoint, and
its table is byte-identical to that of an uninterrupted run. Real processes, real signals: the fault injection
(REPRO_FAULT) makes the process signal itself at a chosen step of a chosen training call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from repro.checkpoint import Preempted
from repro.paths import scratch_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repro(tmp_path, overrides: list[str], out: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "repro",
            *overrides,
            "scale=smoke",
            "tracking=disabled",
            f"data_dir={tmp_path / 'data'}",
            f"out={tmp_path / out}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def kill_and_resume(tmp_path, overrides: list[str], fault: str):
    clean = repro(tmp_path, overrides, "clean")
    assert clean.returncode == 0, clean.stderr
    killed = repro(tmp_path, overrides, "run", {"REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": fault})
    out = tmp_path / "run"
    assert not (out / "table.csv").exists()  # nothing half-written where Snakemake looks
    assert (scratch_dir(out) / "checkpoint.pt").is_file()
    resumed = repro(tmp_path, overrides, "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "[checkpoint] resuming" in resumed.stdout
    assert not scratch_dir(out).exists()  # removed once the outputs are complete
    assert json.loads((out / "provenance.json").read_text())["resumed_from"] is not None
    assert (out / "table.csv").read_bytes() == (tmp_path / "clean" / "table.csv").read_bytes()
    return killed


def _workflow_copy(dest) -> dict:
    import shutil

    for name in ("Snakefile", "workflow", "conf", "profiles", "environment.yml"):
        src = os.path.join(REPO, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dest / name)
    return {
        **os.environ,
        "REPRO_CONF_DIR": str(dest / "conf"),
        "WANDB_MODE": "disabled",
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    }


@pytest.mark.parametrize(
    "overrides,fault",
    [
        (["experiment=f_principle", "shard=fp3"], "3:5:TERM"),  # the 4th of several calls, each stopping early
        (["experiment=double_descent", "shard=mlp-n200-noise0.15"], "0:5:TERM"),  # the batched width sweep
        (["experiment=unrolling", "shard=sparse-noiseless"], "7:1:TERM"),  # layer-wise phases of the LISTA family
        (["experiment=unrolling", "shard=tomography"], "1:3:TERM"),  # the second seed, with its lr schedule
    ],
)
def test_sigterm_checkpoints_and_the_rerun_resumes(tmp_path, overrides, fault):
    killed = kill_and_resume(tmp_path, overrides, fault)
    assert killed.returncode == Preempted.exit_code and "preempted:" in killed.stderr


@pytest.mark.parametrize(
    "overrides,fault",
    [
        (["experiment=info_bottleneck", "shard=relu"], "0:9:KILL"),
        (["experiment=unrolling", "shard=sparse-snr40"], "4:1:KILL"),  # killed between calls' checkpoints
    ],
)
def test_sigkill_resumes_from_the_last_periodic_checkpoint(tmp_path, overrides, fault):
    killed = kill_and_resume(tmp_path, overrides, fault)
    assert killed.returncode == -9


def test_a_checkpoint_of_another_configuration_is_not_used(tmp_path):
    base = ["experiment=info_bottleneck", "shard=relu"]
    killed = repro(tmp_path, base, "run", {"REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": "0:9:TERM"})
    assert killed.returncode == Preempted.exit_code
    other = repro(tmp_path, [*base, "experiment.lr=1e-3"], "run")
    assert other.returncode == 0 and "written for another configuration" in other.stdout
    assert json.loads((tmp_path / "run" / "provenance.json").read_text())["resumed_from"] is None


@pytest.mark.parametrize("signal_name,code", [("TERM", Preempted.exit_code), ("KILL", -9)])
def test_the_pruning_chain_resumes_at_the_level_it_was_killed_in(tmp_path, signal_name, code):
    """The lottery-ticket chain saves its state after each finished level; killed during level 2 (its third
    training call), the rerun trains levels 2.. only, and the table is the uninterrupted one."""
    base = ["experiment=lottery_ticket", "shard=imp-g0"]
    clean = repro(tmp_path, base, "clean")
    assert clean.returncode == 0, clean.stderr
    killed = repro(tmp_path, base, "run", {"REPRO_FAULT": f"2:3:{signal_name}"})
    assert killed.returncode == code, killed.stderr
    stages = scratch_dir(tmp_path / "run") / "stages"
    assert sorted(p.name for p in stages.iterdir()) == ["stage-0.pt", "stage-1.pt"]
    resumed = repro(tmp_path, base, "run")
    assert resumed.returncode == 0 and "resuming after level 1" in resumed.stdout
    assert "level 0" not in resumed.stdout and "level 1:" not in resumed.stdout  # not trained again
    assert (tmp_path / "run" / "table.csv").read_bytes() == (tmp_path / "clean" / "table.csv").read_bytes()
    assert not scratch_dir(tmp_path / "run").exists()


@pytest.mark.integration
def test_snakemake_retries_a_preempted_job_with_more_resources_and_it_resumes(tmp_path):
    """The real DAG: the shard is pre-empted (SIGTERM) on its first attempt; Snakemake's retry asks for twice the
    memory and run time and the job resumes from its checkpoint instead of starting over."""
    env = {**_workflow_copy(tmp_path), "REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": "0:9:TERM"}
    target = "results/smoke/info_bottleneck/relu/table.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "1",
            "--retries",
            "1",
            target,
            "--config",
            "scale=smoke",
            "experiments=[info_bottleneck]",
            "tracking=disabled",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "Trying to restart job" in text or "attempt 2" in text.lower(), text[-3000:]
    mems = [int(m) for m in re.findall(r"mem_mb=(\d+)", text)]
    assert len(set(mems)) >= 2 and max(mems) == 2 * min(mems), mems  # the retry asked for twice the memory
    log = (tmp_path / "results/smoke/info_bottleneck/logs/relu.log").read_text()
    assert "[checkpoint] resuming training call 0 at step 9" in log
    assert (tmp_path / target).is_file() and not scratch_dir(tmp_path / "results/smoke/info_bottleneck/ib").exists()


@pytest.mark.integration
def test_a_second_snakemake_on_the_same_directory_is_refused(tmp_path):
    """Snakemake's lock: while one invocation runs, another on the same directory stops at once with an error and
    touches nothing; the first finishes normally. (Two shards never share a file: each writes its own directory,
    through uniquely named temporary files.)"""
    import time

    env = _workflow_copy(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--config",
        "scale=smoke",
        "experiments=[info_bottleneck]",
        "tracking=disabled",
    ]
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    locks = tmp_path / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before the test could start the second"
    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode != 0 and "cannot be locked" in second.stdout + second.stderr
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out[-3000:]
    assert (tmp_path / "reports/smoke/index.html").is_file()
