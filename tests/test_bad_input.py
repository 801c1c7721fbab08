"""The bad-input catalogue, through the real command line: each case gets a message naming the bad value and what
is valid, a non-zero exit, and nothing half-written (no results/, data/ or outputs/ appear)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "repro", "tracking=disabled", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["experiment=lottery"], "unknown experiment 'lottery'; valid choices: double_descent, f_principle"),
        (["scale=big"], "unknown scale 'big'; valid choices: smoke, laptop, paper"),
        (["experiment=double_descent", "experiment.mlp.epochs=many"], "experiment.mlp.epochs"),  # wrong type
        (["experiment=double_descent", "experiment.mlp.widths=[16,-4]"], "experiment.mlp.widths[] must be positive"),
        (["experiment=double_descent", "experiment.mlp.noise=[1.2]"], "experiment.mlp.noise[]: label noise must be in"),
        (
            ["experiment=lottery_ticket", "experiment.imp.rate_hidden=1.0"],
            "experiment.imp.rate_hidden must be in (0, 1)",
        ),
        (["scale.seeds=0"], "scale.seeds must be positive"),
        (["experiment=unrolling", "experiment.methods=[lista,lasso]"], "valid choices: lista, lista_cp"),
        (["experiment=info_bottleneck", "+experiment.epocs=5"], "unknown config key 'experiment.epocs'"),
    ],
)
def test_bad_values(tmp_path, args, needle):
    r = cli(tmp_path, *args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_offline_says_how_to_get_it(tmp_path):
    """MNIST is not on disk and the network is unreachable (no route to the mirrors' proxy)."""
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "repro",
            "tracking=disabled",
            "experiment=info_bottleneck",
            "scale=paper",
            "shard=mnist",
            "scale.device=cpu",
            f"data_dir={tmp_path / 'data'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    assert "train-images-idx3-ubyte.gz" in r.stderr and str(tmp_path / "data" / "mnist") in r.stderr
    assert not (tmp_path / "results").exists()


def test_snakemake_rejects_an_unknown_config_key(tmp_path):
    import shutil

    for name in ("Snakefile", "workflow", "conf", "profiles", "environment.yml"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    r = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--config", "scael=smoke"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REPRO_CONF_DIR": str(tmp_path / "conf")},
    )
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "'scael' was unexpected" in out and "Valid keys: scale=" in out
    assert not (tmp_path / "results").exists()


def test_divergence_stops_the_job_naming_the_points_the_step_and_the_cause(tmp_path):
    """A NaN/inf loss is a failed job (exit 3), never a table: the claims then see the shard as missing."""
    r = cli(
        tmp_path,
        "experiment=double_descent",
        "scale=smoke",
        "shard=mlp-n200-noise0",
        "experiment.mlp.lr=1e8",
        f"data_dir={tmp_path / 'data'}",
    )
    assert r.returncode == 3, r.stderr[-2000:]
    assert "loss is not finite at step" in r.stderr and "h=" in r.stderr and "learning rate" in r.stderr
    assert not list(tmp_path.glob("results/**/table.csv"))
