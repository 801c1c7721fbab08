"""Config validation: user mistakes stop before any compute, name the bad value and the valid choices,
exit non-zero, and write nothing under results/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from repro.config import ConfigError, available_experiments, compose


def test_defaults_compose_to_laptop():
    cfg = compose(["tracking=disabled"])
    assert cfg.experiment.name == "f_principle" and cfg.scale.name == "laptop"
    assert cfg.seeds == [300, 301, 302, 303, 304]  # conf/experiment/f_principle.yaml: first_seed
    assert cfg.experiment.fp1.hidden == [64, 64, 64, 32]  # the laptop preset overlays the protocol
    assert cfg.experiment.fp1.frequencies == [1.0, 3.0, 5.0]  # ... and leaves the rest as the paper's


def test_seed_override_runs_one_seed():
    assert compose(["scale=smoke", "seed=1"]).seeds == [1]


def test_paper_preset_is_the_protocol():
    cfg = compose(["scale=paper"])
    assert cfg.experiment.fp1.hidden == [200, 200, 200, 100] and cfg.experiment.fp1.lr == 2e-4
    assert cfg.scale.gpu is True and cfg.scale.device == "auto"


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["experiment=f_principel"], "unknown experiment 'f_principel'; valid choices: "),
        (["scale=huge"], "valid choices: smoke, laptop, paper"),
        (["tracking=maybe"], "valid choices: disabled, offline, online"),
        (["experiment.fp1.hidden=[64,-3]"], "experiment.fp1.hidden[] must be positive, got -3"),
        (["experiment.fp3.width=0"], "experiment.fp3.width must be positive"),
        (["experiment.fp1.lr=fast"], "experiment.fp1.lr"),
        (["+experiment.fp1.widht=3"], "unknown config key 'experiment.fp1.widht'"),
        (["experiment.fp1.widht=3"], "Could not override 'experiment.fp1.widht'"),
        (["experiment.fp1.activations=[tanh,swish]"], "valid choices: tanh, relu, identity"),
        (["scale.seeds=0"], "scale.seeds must be positive"),
        (["scale.device=tpu"], "valid choices: auto, cpu, cuda"),
        (["shard=fp9"], "valid choices: fp1, fp2, fp3"),
        (["seed=-1"], "seed must be >= 0"),
    ],
)
def test_bad_values_name_what_is_wrong(overrides, needle):
    with pytest.raises(ConfigError) as e:
        compose(overrides)
    assert needle in str(e.value)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as e:
        compose(["+experiment.fp1.widht=3"])
    assert "hidden" in str(e.value) and "steps" in str(e.value)


def test_registry_is_the_conf_directory():
    assert {"f_principle", "double_descent"} <= set(available_experiments())
    with pytest.raises(ConfigError) as e:
        compose(["experiment=f_principel"])
    assert all(name in str(e.value) for name in available_experiments())


@pytest.mark.parametrize(
    "args,needle",
    [
        (["experiment=nope"], "unknown experiment 'nope'"),
        (["scale=smoke", "experiment.fp1.hidden=[-1]"], "must be positive"),
        (["scale=smoke", "notanoverride"], "expected Hydra overrides key=value"),
    ],
)
def test_cli_bad_input_exits_nonzero_and_writes_nothing(tmp_path, args, needle):
    r = subprocess.run(
        [sys.executable, "-m", "repro", "tracking=disabled", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # no results/, no data/, no outputs/
