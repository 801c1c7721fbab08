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
                         "experiment.n_records=2", "experiment.kde_records=1"]))
    t = pd.read_csv(out / "table.csv", keep_default_na=False)
    assert {"bin100", "adaptive100", "kde"} <= set(t["estimator"]) and set(t["seed"]) == {0, 1}
