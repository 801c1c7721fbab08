"""Information bottleneck: the shards at smoke scale, every network's paper-scale path, the papers' protocols as read
from conf/, and the split and initialisation each paper's code uses. Claims: tests/test_claims_info_bottleneck.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

ESTIMATORS = {"st30", "width0.07", "width0.035", "width0.14", "adaptive30", "kde"}


@pytest.mark.parametrize("shard, act, protocol", [("tanh-st", "tanh", "st"), ("relu", "relu", "saxe")])
def test_smoke_shard_writes_every_estimator(tmp_path, monkeypatch, shard, act, protocol):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(
        compose(
            [
                "experiment=info_bottleneck",
                "scale=smoke",
                "tracking=disabled",
                f"shard={shard}",
                f"data_dir={tmp_path / 'data'}",
            ]
        )
    )
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    assert ESTIMATORS <= set(t["estimator"])
    assert set(t["activation"]) == {act} and set(t["protocol"]) == {protocol}
    ixt = t[t.metric == "ixt"]["value"].astype(float)
    assert ixt.between(0, 12 + 1e-9).all()
    assert set(t["layer"]) == {0, 1, 2, 3, 4, 5}
    kde_epochs = set(t[t.estimator == "kde"]["step"])
    assert len(kde_epochs) >= 2 and max(kde_epochs) == t["step"].max()  # KDE at several epochs, the last included
    assert np.isfinite(t["value"].astype(float)).all()


def test_one_shard_per_network_with_its_own_protocol():
    from repro.config import compose
    from repro.experiments import info_bottleneck as ib

    paper = compose(["experiment=info_bottleneck", "scale=paper"]).experiment
    laptop = compose(["experiment=info_bottleneck", "scale=laptop"]).experiment
    assert list(ib.shards(laptop)) == ["tanh-st", "tanh", "relu"]
    assert list(ib.shards(paper)) == ["tanh-st", "tanh", "relu", "mnist"]
    keys = set(ib.shards(laptop)["relu"].keys)
    assert {"epochs", "estimators", "networks.relu", "protocols.saxe"} <= keys
    assert "protocols.st" not in keys and "networks.tanh-st" not in keys and "mnist" not in keys
    assert ib.datasets(paper, "mnist")[0].family == "mnist"
    # Shwartz-Ziv & Tishby's code (ravidziv/IDNNs) and Saxe et al.'s (artemyk/ibsgd)
    st, saxe = laptop.protocols["st"], laptop.protocols["saxe"]
    assert (st.batch_size, st.hidden_init, st.output_init, st.shuffled_split) == (
        512,
        "truncated_normal",
        "truncated_normal",
        False,
    )
    assert (saxe.batch_size, saxe.hidden_init, saxe.output_init, saxe.shuffled_split) == (
        256,
        "truncated_normal_fan_out",
        "glorot_uniform",
        True,
    )
    assert laptop.estimators.bin_widths == [0.07, 0.035, 0.14] and laptop.estimators.st_bins == 30


def test_the_split_follows_each_papers_code():
    from repro.config import compose
    from repro.data.ib12 import labels, patterns
    from repro.experiments import info_bottleneck as ib

    e = compose(["experiment=info_bottleneck", "scale=laptop"]).experiment
    x = patterns()
    d = {"x": x, "y": labels(x)}
    tr, te = ib.split(e, e.protocols["st"], len(d["x"]), "cpu")
    assert (len(tr), len(te)) == (3277, 819) and torch.equal(tr, torch.arange(3277))  # the file's order
    assert (x[te.numpy(), :2] == 1).all()  # Shwartz-Ziv & Tishby's test set: every pattern starting '11'
    assert np.asarray(d["y"])[te.numpy()].mean() == pytest.approx(0.84, abs=0.01)
    tr2, te2 = ib.split(e, e.protocols["saxe"], len(d["x"]), "cpu")
    assert len(tr2) == 3277 and not torch.equal(tr2, torch.arange(3277))  # one seeded shuffle
    assert torch.equal(tr2, ib.split(e, e.protocols["saxe"], len(d["x"]), "cpu")[0])


def test_saxe_initialisation_scales_by_the_layers_own_width():
    from repro.nn.batched import BatchedMLP

    sizes = [12, 400, 3, 2]
    st = BatchedMLP(list(range(4)), sizes, "tanh", init="truncated_normal")
    saxe = BatchedMLP(list(range(4)), sizes, "tanh", init=["truncated_normal_fan_out"] * 2 + ["glorot_uniform"])
    # a normal truncated at 2 std has std 0.88 of the untruncated one
    assert st.weights[0].std().item() == pytest.approx(0.88 / np.sqrt(12), rel=0.05)
    assert saxe.weights[0].std().item() == pytest.approx(0.88 / np.sqrt(400), rel=0.05)
    assert saxe.weights[1].std().item() == pytest.approx(0.88 / np.sqrt(3), rel=0.1)
    limit = np.sqrt(6 / (3 + 2))
    assert saxe.weights[2].abs().max().item() <= limit and saxe.weights[2].std().item() > 0.3 * limit
    assert all((b == 0).all() for b in saxe.biases)
    with pytest.raises(ValueError, match="one scheme for all layers or one per layer"):
        BatchedMLP([0], sizes, "tanh", init=["normal"] * 2)


def test_paper_scale_has_the_papers_50_seeds_for_this_experiment_only():
    from repro.config import compose

    assert len(compose(["experiment=info_bottleneck", "scale=paper"]).seeds) == 50
    assert len(compose(["experiment=info_bottleneck", "scale=laptop"]).seeds) == 8
    assert len(compose(["experiment=f_principle", "scale=paper"]).seeds) == 5


@pytest.mark.parametrize("shard", ["tanh-st", "tanh", "relu"])
def test_paper_scale_path_one_epoch(tmp_path, monkeypatch, shard):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(
        compose(
            [
                "experiment=info_bottleneck",
                "scale=paper",
                "scale.device=cpu",
                "scale.seeds=2",
                "tracking=disabled",
                f"data_dir={tmp_path / 'data'}",
                "experiment.epochs=1",
                "experiment.n_records=2",
                "experiment.kde_records=1",
                f"shard={shard}",
            ]
        )
    )
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    first = compose(["experiment=info_bottleneck", "scale=paper"]).experiment.first_seed
    assert ESTIMATORS <= set(t["estimator"]) and set(t["seed"]) == {first, first + 1}


def _fake_mnist(data_dir, n: int) -> None:
    from repro.data import DataRef

    g = np.random.default_rng(0)
    path = DataRef("mnist", {"subset": n}).path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x=g.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8),
        y=np.arange(n) % 10,
        x_test=g.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8),
        y_test=np.arange(40) % 10,
    )


def test_paper_mnist_network_one_epoch(tmp_path, monkeypatch):
    """Saxe et al.'s 784-1024-20-20-20-10 network, as at paper scale, on 24 fake images for two epochs."""
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    _fake_mnist(tmp_path / "data", 24)
    cfg = compose(
        [
            "experiment=info_bottleneck",
            "scale=paper",
            "scale.device=cpu",
            "tracking=disabled",
            f"data_dir={tmp_path / 'data'}",
            "experiment.mnist.subset=24",
            "experiment.mnist.n_test=40",
            "experiment.mnist.epochs=2",
            "experiment.mnist.seeds=2",
            "experiment.mnist.n_records=2",
            "experiment.mnist.kde_records=1",
            "shard=mnist",
        ]
    )
    assert cfg.experiment.mnist.hidden == [1024, 20, 20, 20] and cfg.experiment.mnist.lr == 1e-3
    [out] = run(cfg)
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    first = cfg.experiment.first_seed  # the first 2 of the scale's 50 seeds
    assert set(t["seed"]) == {first, first + 1} and set(t["activation"]) == {"tanh", "relu"}
    assert set(t["layer"]) == {0, 1, 2, 3, 4} and {"st30", "width0.07", "adaptive30", "kde"} <= set(t["estimator"])
    assert set(t["step"]) == {0, 1, 2}
    ixt = t[t.metric == "ixt"]
    assert ixt["value"].astype(float).between(0, np.log2(40) + 1e-9).all()
    # 1024 units keep 40 random images apart under every estimator: pinned at the ceiling
    assert np.allclose(ixt[ixt.layer == 1]["value"].astype(float), np.log2(40), atol=1e-6)


# ---------------------------------------------------------------- one source for each value


def test_the_schema_has_no_python_copy_of_the_protocol():
    """Every field of the experiment's schema is required: its value comes from conf/ alone."""
    import dataclasses

    from omegaconf import MISSING

    from repro.experiments import info_bottleneck as ib

    for f in dataclasses.fields(ib.Config):
        assert f.default is MISSING and f.default_factory is dataclasses.MISSING, f.name


@pytest.mark.parametrize("scale", ["smoke", "laptop", "paper"])
def test_configs_compose_from_conf_at_every_scale(scale):
    from repro.config import compose

    e = compose(["experiment=info_bottleneck", f"scale={scale}"]).experiment
    assert (e.epochs, e.estimators.kde_noise_var, e.mnist.enabled) == {
        "smoke": (4, 1e-3, False),
        "laptop": (8000, 1e-3, False),
        "paper": (8000, 1e-3, True),
    }[scale]
    assert e.mnist.estimators.kde_noise_var == 0.1
