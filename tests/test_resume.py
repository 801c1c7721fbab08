"""A shard killed mid-run (SIGTERM, as a SLURM pre-emption sends, or SIGKILL) resumes from its last checkpoint, and
its table is byte-identical to that of an uninterrupted run. Real processes, real signals: the fault injection
(REPRO_FAULT) makes the process signal itself at a chosen step of a chosen training call."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from repro.checkpoint import Preempted, scratch_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repro(tmp_path, overrides: list[str], out: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repro", *overrides, "scale=smoke", "tracking=disabled",
                           f"data_dir={tmp_path / 'data'}", f"out={tmp_path / out}"],
                          cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


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


@pytest.mark.parametrize("overrides,fault", [
    (["experiment=f_principle", "shard=fp3"], "3:5:TERM"),  # the 4th of several calls, each stopping early
    (["experiment=double_descent", "shard=mlp-n200-noise0.15"], "0:5:TERM"),  # the batched width sweep
    (["experiment=unrolling", "shard=sparse-noiseless"], "7:1:TERM"),  # layer-wise phases of the LISTA family
    (["experiment=unrolling", "shard=deblur"], "1:3:TERM"),  # the second seed, with its lr schedule
])
def test_sigterm_checkpoints_and_the_rerun_resumes(tmp_path, overrides, fault):
    killed = kill_and_resume(tmp_path, overrides, fault)
    assert killed.returncode == Preempted.exit_code and "preempted:" in killed.stderr


@pytest.mark.parametrize("overrides,fault", [
    (["experiment=info_bottleneck", "shard=ib"], "0:9:KILL"),
    (["experiment=unrolling", "shard=sparse-snr40"], "4:1:KILL"),  # killed between calls' checkpoints
])
def test_sigkill_resumes_from_the_last_periodic_checkpoint(tmp_path, overrides, fault):
    killed = kill_and_resume(tmp_path, overrides, fault)
    assert killed.returncode == -9


def test_a_checkpoint_of_another_configuration_is_not_used(tmp_path):
    base = ["experiment=info_bottleneck", "shard=ib"]
    killed = repro(tmp_path, base, "run", {"REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": "0:9:TERM"})
    assert killed.returncode == Preempted.exit_code
    other = repro(tmp_path, [*base, "experiment.lr=1e-3"], "run")
    assert other.returncode == 0 and "written for another configuration" in other.stdout
    assert json.loads((tmp_path / "run" / "provenance.json").read_text())["resumed_from"] is None


def test_an_experiment_without_checkpoints_stops_cleanly_and_restarts(tmp_path):
    base = ["experiment=lottery_ticket", "shard=imp-g0"]
    killed = repro(tmp_path, base, "run", {"REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": "1:3:TERM"})
    assert killed.returncode == Preempted.exit_code and "does not checkpoint" in killed.stderr
    assert not scratch_dir(tmp_path / "run").exists() and not (tmp_path / "run" / "table.csv").exists()
    again = repro(tmp_path, base, "run")
    assert again.returncode == 0 and "[checkpoint]" not in again.stdout
    assert json.loads((tmp_path / "run" / "provenance.json").read_text())["resumed_from"] is None
