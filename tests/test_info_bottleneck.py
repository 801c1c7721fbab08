"""Information bottleneck: the claim checks' three verdicts on hand-made tables, and the real shard at smoke scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repro.claims import Status
from repro.experiments.info_bottleneck import claims as ibc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
STEPS = [0, 10, 100, 1000, 3000, 8000]


def table(curves: dict, seeds=5, sat: dict | None = None) -> pd.DataFrame:
    """curves[(activation, estimator, layer)] = (ixt per step, ity per step), the same for every seed."""
    rows = []
    for (act, est, layer), (ixt, ity) in curves.items():
        for s in range(seeds):
            for st, a, b in zip(STEPS, ixt, ity):
                rows.append(dict(activation=act, seed=s, layer=layer, estimator=est, step=st, metric="ixt", value=a))
                rows.append(dict(activation=act, seed=s, layer=layer, estimator=est, step=st, metric="ity", value=b))
    for (act, layer), values in (sat or {}).items():
        for s in range(seeds):
            for st, v in zip(STEPS, values):
                rows.append(dict(activation=act, seed=s, layer=layer, estimator="", step=st, metric="saturation",
                                 value=v))
    return pd.DataFrame(rows)


PINNED = ([12.0] * 6, [0.99] * 6)
COMPRESS = ([3.0, 5.0, 6.0, 5.5, 5.0, 4.5], [0.3, 0.8, 0.95, 0.96, 0.97, 0.97])  # fit, then drop 1.5 bits
FLAT = ([3.0, 5.0, 6.0, 6.0, 6.0, 5.9], [0.3, 0.8, 0.95, 0.96, 0.97, 0.97])  # no compression
EARLY = ([3.0, 6.0, 5.0, 4.5, 4.2, 4.0], [0.1, 0.2, 0.5, 0.9, 0.95, 0.97])  # drops before I(T;Y) is learned


def layers(act, est, deep):
    return {(act, est, 1): PINNED, (act, est, 2): PINNED, (act, est, 3): deep, (act, est, 4): deep}


def test_deepest_informative_skips_pinned_layers():
    s = ibc._by_seed(ibc.series(table(layers("tanh", "bin30", COMPRESS)), "tanh", "bin30"))
    assert ibc.deepest_informative(s[0]) == [3, 4]
    assert ibc.compression(s[0][3])[0] == pytest.approx(1.5)


def test_ib1_three_verdicts():
    assert ibc.check_ib1(table(layers("tanh", "bin30", COMPRESS)), None).status is R
    assert ibc.check_ib1(table(layers("tanh", "bin30", FLAT)), None).status is N
    assert ibc.check_ib1(table(layers("tanh", "bin30", EARLY)), None).status is N  # compression before fitting
    assert ibc.check_ib1(table(layers("tanh", "bin30", COMPRESS), seeds=3), None).status is U
    claim = next(c for c in ibc.CLAIMS if c.id == "IB1-bins10")
    assert claim.evaluate(table(layers("tanh", "bin30", COMPRESS)), None)["status"] == "inconclusive"  # no bin10


def test_ib2_and_ib4_three_verdicts():
    relu_ok = table({**layers("relu", "adaptive30", FLAT), **layers("relu", "kde", FLAT),
                     **layers("relu", "bin30", COMPRESS)})
    assert ibc.check_ib2(relu_ok, None).status is R
    assert ibc.check_ib4(relu_ok, None).status is R  # compression under [-1, 1] bins only: an artefact
    relu_kde_compresses = table({**layers("relu", "adaptive30", FLAT), **layers("relu", "kde", COMPRESS)})
    assert ibc.check_ib2(relu_kde_compresses, None).status is N
    no_fixed_artefact = table({**layers("relu", "adaptive30", FLAT), **layers("relu", "bin30", FLAT)})
    assert ibc.check_ib4(no_fixed_artefact, None).status is N
    assert ibc.check_ib2(table({**layers("relu", "adaptive30", FLAT), **layers("relu", "kde", FLAT)}, seeds=2),
                         None).status is U


def test_ib3_three_verdicts():
    tracks = {("tanh", 3): [0.0, 0.1, 0.2, 0.5, 0.7, 0.9], ("tanh", 4): [0.0, 0.1, 0.2, 0.5, 0.7, 0.9]}
    assert ibc.check_ib3(table(layers("tanh", "bin30", COMPRESS), sat=tracks), None).status is R
    anti = {("tanh", 3): [0.9, 0.7, 0.5, 0.2, 0.4, 0.1], ("tanh", 4): [0.9, 0.7, 0.5, 0.2, 0.4, 0.1]}
    assert ibc.check_ib3(table(layers("tanh", "bin30", COMPRESS), sat=anti), None).status is N
    assert ibc.check_ib3(table(layers("tanh", "bin30", FLAT), sat=tracks), None).status is U  # nothing compressed


def test_smoke_shard_writes_every_estimator(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(compose(["experiment=info_bottleneck", "scale=smoke", "tracking=disabled",
                         f"data_dir={tmp_path / 'data'}"]))
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    assert {"bin10", "bin30", "adaptive10", "adaptive30", "kde"} <= set(t["estimator"])
    ixt = t[t.metric == "ixt"]["value"].astype(float)
    assert ixt.between(0, 12 + 1e-9).all()
    assert set(t["layer"]) == {0, 1, 2, 3, 4, 5} and set(t["activation"]) == {"tanh", "relu"}
    kde_epochs = set(t[t.estimator == "kde"]["step"])
    assert len(kde_epochs) >= 2 and max(kde_epochs) == t["step"].max()  # KDE at several epochs, the last included
    assert np.isfinite(t["value"].astype(float)).all()


def test_paper_scale_has_the_papers_50_seeds_for_this_experiment_only():
    from repro.config import compose

    assert len(compose(["experiment=info_bottleneck", "scale=paper"]).seeds) == 50
    assert len(compose(["experiment=info_bottleneck", "scale=laptop"]).seeds) == 5
    assert len(compose(["experiment=f_principle", "scale=paper"]).seeds) == 5


def test_paper_scale_path_one_epoch(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(compose(["experiment=info_bottleneck", "scale=paper", "scale.device=cpu", "scale.seeds=2",
                         "tracking=disabled", f"data_dir={tmp_path / 'data'}", "experiment.epochs=1",
                         "experiment.n_records=2", "experiment.kde_records=1", "shard=ib"]))
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    first = compose(["experiment=info_bottleneck", "scale=paper"]).experiment.first_seed
    assert {"bin100", "adaptive100", "kde"} <= set(t["estimator"]) and set(t["seed"]) == {first, first + 1}


def _fake_mnist(data_dir, n: int) -> None:
    from repro.data import DataRef

    g = np.random.default_rng(0)
    path = DataRef("mnist", {"subset": n}).path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=g.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), y=np.arange(n) % 10,
             x_test=g.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8), y_test=np.arange(40) % 10)


def test_paper_mnist_network_one_epoch(tmp_path, monkeypatch):
    """Saxe et al.'s 784-1024-20-20-20-10 network, as at paper scale, on 24 fake images for two epochs."""
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    _fake_mnist(tmp_path / "data", 24)
    cfg = compose(["experiment=info_bottleneck", "scale=paper", "scale.device=cpu", "tracking=disabled",
                   f"data_dir={tmp_path / 'data'}", "experiment.mnist.subset=24", "experiment.mnist.n_test=40",
                   "experiment.mnist.epochs=2", "experiment.mnist.seeds=2", "experiment.mnist.n_records=2",
                   "experiment.mnist.kde_records=1", "shard=mnist"])
    assert cfg.experiment.mnist.hidden == [1024, 20, 20, 20] and cfg.experiment.mnist.lr == 1e-3
    [out] = run(cfg)
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    first = cfg.experiment.first_seed  # the first 2 of the scale's 50 seeds
    assert set(t["seed"]) == {first, first + 1} and set(t["activation"]) == {"tanh", "relu"}
    assert set(t["layer"]) == {0, 1, 2, 3, 4} and {"bin30", "adaptive30", "kde"} <= set(t["estimator"])
    assert set(t["step"]) == {0, 1, 2}
    ixt = t[t.metric == "ixt"]
    assert ixt["value"].astype(float).between(0, np.log2(40) + 1e-9).all()
    # 1024 units keep 40 random images apart under every estimator: pinned at the ceiling
    assert np.allclose(ixt[ixt.layer == 1]["value"].astype(float), np.log2(40), atol=1e-6)


def test_mnist_shard_only_where_enabled():
    from repro.config import compose
    from repro.experiments import info_bottleneck as ib

    paper = compose(["experiment=info_bottleneck", "scale=paper"]).experiment
    laptop = compose(["experiment=info_bottleneck", "scale=laptop"]).experiment
    assert list(ib.shards(paper)) == ["ib", "mnist"] and list(ib.shards(laptop)) == ["ib"]
    assert ib.datasets(paper, "mnist")[0].family == "mnist"
    # the ib shard reads the same keys at both scales (the paper's values of epochs and kde_records differ)
    assert ib.shards(paper)["ib"] == ib.shards(laptop)["ib"]
    keys = set(ib.shards(laptop)["ib"].keys)
    assert {"epochs", "kde_records"} <= keys and "mnist" not in keys
    assert (paper.epochs, paper.kde_records, laptop.epochs, laptop.kde_records) == (8000, 40, 4000, 20)


def mnist_table(drops: dict[str, float], seeds=5) -> pd.DataFrame:
    """KDE curves of the MNIST network: layer 1 pinned at log2(10000), layers 2-4 rise then drop by drops[act]."""
    rows, steps = [], [0, 10, 100, 1000, 10000]
    ceiling = np.log2(10_000)
    for act, drop in drops.items():
        for s in range(seeds):
            for layer in (1, 2, 3, 4):
                ixt = [ceiling] * 5 if layer == 1 else [6.0, 8.0, 9.0, 9.0 - drop / 2, 9.0 - drop]
                for st, v in zip(steps, ixt):
                    for metric, val in (("ixt", v), ("ity", 2.0)):
                        rows.append(dict(shard="mnist", activation=act, seed=s, layer=layer, estimator="kde",
                                         step=st, metric=metric, value=val))
    return pd.DataFrame(rows)


def test_ib5_three_verdicts_and_networks_kept_apart():
    from repro.config import compose

    cfg = compose(["experiment=info_bottleneck", "scale=paper"])  # n_test = 10000: the ceiling of mnist_table
    assert ibc.check_ib5(mnist_table({"tanh": 1.5, "relu": 0.1}), cfg).status is R
    assert ibc.check_ib5(mnist_table({"tanh": 0.2, "relu": 0.1}), cfg).status is N  # tanh does not compress
    assert ibc.check_ib5(mnist_table({"tanh": 1.5, "relu": 1.0}), cfg).status is N  # relu compresses
    assert ibc.check_ib5(mnist_table({"tanh": 1.5, "relu": 0.1}, seeds=3), cfg).status is U
    laptop = table(layers("tanh", "bin30", COMPRESS)).assign(shard="ib")
    claim = next(c for c in ibc.CLAIMS if c.id == "IB5")
    assert claim.evaluate(laptop, cfg)["status"] == "inconclusive"  # no MNIST network below paper scale
    # the 12-bit claims never read the MNIST rows, whatever those show
    both = pd.concat([laptop, mnist_table({"tanh": 0.0, "relu": 0.0}).assign(estimator="bin30")])
    assert ibc.check_ib1(both, None).status is R


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
    assert (e.epochs, e.kde_noise_var, e.mnist.enabled) == {"smoke": (4, 1e-3, False), "laptop": (4000, 1e-3, False),
                                                            "paper": (8000, 1e-3, True)}[scale]
