"""Unrolling (sparse recovery): ISTA/FISTA against another LASSO solver, ALISTA's weight, NMSE edge cases, the
unrolled nets at their ISTA initialisation, the config (every value from conf/), and the real shard at smoke scale
with its validation curve. The claims on hand-made tables: tests/test_claims_unrolling.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from repro.experiments.unrolling import claims as uc
from repro.experiments.unrolling import lasso
from repro.experiments.unrolling.lista import METHODS, Unrolled


def problem(m=20, n=40, count=5, seed=0):
    from repro.data.sparse import codes, dictionary

    rng = np.random.default_rng(seed)
    a = torch.tensor(dictionary(rng, m, n))
    x = torch.tensor(codes(rng, count, n, 0.1))
    return a, x, x @ a.T


def coordinate_descent(a: np.ndarray, y: np.ndarray, lam: float, sweeps: int = 5000) -> np.ndarray:
    """The LASSO 1/2 ||A x - y||^2 + lam ||x||_1 by cyclic coordinate descent (another method than ISTA's)."""
    x, r = np.zeros(a.shape[1]), y.copy()
    sq = (a * a).sum(0)
    for _ in range(sweeps):
        for j in range(a.shape[1]):
            r += a[:, j] * x[j]
            rho = a[:, j] @ r
            x[j] = np.sign(rho) * max(abs(rho) - lam, 0.0) / sq[j]
            r -= a[:, j] * x[j]
    return x


def test_ista_and_fista_solve_the_lasso_found_by_coordinate_descent():
    a, x, y = problem(count=3)
    lam = 0.05
    ref = np.stack([coordinate_descent(a.numpy(), yi, lam, 3000) for yi in y.numpy()])
    # the reference is optimal: the LASSO's KKT conditions hold
    corr = (y.numpy() - ref @ a.numpy().T) @ a.numpy()
    on = ref != 0
    assert np.allclose(corr[on], lam * np.sign(ref[on]), atol=1e-8) and (np.abs(corr[~on]) <= lam + 1e-8).all()
    for solver in (lasso.ista, lasso.fista):
        est = solver(a, y, [lam], 20_000)[0].numpy()
        assert np.abs(est - ref).max() < 1e-6, solver.__name__


def test_fista_is_faster_than_ista_early_on():
    a, x, y = problem(60, 120, 20)
    curves = {}
    for solver in (lasso.ista, lasso.fista):
        rec = {}
        solver(a, y, [0.01], 100, record=[100], on_record=lambda k, est, rec=rec: rec.setdefault(k, est[0]))
        curves[solver.__name__] = lasso.nmse_db(rec[100], x)
    assert curves["fista"] < curves["ista"] - 3


def test_alista_weight_satisfies_its_constraint_and_is_optimal():
    a, _, _ = problem(30, 60)
    w = lasso.alista_weight(a)
    assert torch.allclose((w * a).sum(0), torch.ones(60, dtype=a.dtype), atol=1e-10)  # diag(W^T A) = 1
    # optimality (KKT): (A A^T) w_i is parallel to a_i for every column
    g = a @ a.T @ w
    coef = (g * a).sum(0) / (a * a).sum(0)
    assert torch.allclose(g, a * coef, atol=1e-8)
    # and any feasible change (keeping w_i^T a_i = 1) increases ||W^T A||_F
    d = torch.randn_like(w)
    d = d - a * (d * a).sum(0) / (a * a).sum(0)
    assert torch.linalg.norm((w + 0.1 * d).T @ a) > torch.linalg.norm(w.T @ a)


def test_nmse_edge_cases():
    x = torch.randn(10, 5)
    assert lasso.nmse_db(x.clone(), x) == -math.inf
    assert lasso.nmse_db(torch.zeros_like(x), x) == pytest.approx(0.0)
    assert lasso.nmse_db(x * 1.1, x) == pytest.approx(-20.0)
    with pytest.raises(ValueError, match="all-zero"):
        lasso.nmse_db(x, torch.zeros_like(x))


def test_thresholds():
    v = torch.tensor([[3.0, -2.0, 0.5, -0.2]])
    assert torch.equal(lasso.soft_threshold(v, 1.0), torch.tensor([[2.0, -1.0, 0.0, 0.0]]))
    # the top 50% by magnitude (3 and -2) pass unchanged; the rest are thresholded
    assert torch.equal(lasso.support_selected_threshold(v, 1.0, 50.0), torch.tensor([[3.0, -2.0, 0.0, 0.0]]))


def test_measure_has_the_stated_snr_and_the_oracle_is_exact_without_noise():
    a, x, _ = problem(100, 200, 400)
    z = torch.randn(400, 100, dtype=a.dtype, generator=torch.Generator().manual_seed(1))
    y = lasso.measure(a, x, z, 40.0)
    clean = x @ a.T
    snr = 10 * math.log10(float((clean ** 2).sum() / ((y - clean) ** 2).sum()))
    assert snr == pytest.approx(40.0, abs=0.2)
    assert torch.equal(lasso.measure(a, x, z, None), clean)
    assert lasso.oracle_nmse_db(a, x, clean) < -200  # exact up to rounding
    assert -48 < lasso.oracle_nmse_db(a, x, y) < -40


@pytest.mark.parametrize("method", ["lista", "lista_cp"])
def test_untrained_nets_are_ista(method):
    """At initialisation LISTA and LISTA-CP compute ISTA's iterates with lam = their lam."""
    a, _, y = problem()
    net = Unrolled(method, a, 6, 0.3, 1.2, 13.0)
    rec = {}
    lasso.ista(a, y, [0.3], 6, record=range(1, 7), on_record=lambda k, est: rec.setdefault(k, est[0]))
    with torch.no_grad():
        for k, est in enumerate(net(y), start=1):
            assert torch.allclose(est, rec[k], atol=1e-10), k


def test_support_selection_grows_with_depth_and_only_where_it_belongs():
    a, _, _ = problem()
    cpss = Unrolled("lista_cpss", a, 16, 0.4, 1.2, 13.0)
    assert [cpss.support_percent(k) for k in (0, 1, 10, 15)] == pytest.approx([1.2, 2.4, 13.0, 13.0])
    assert Unrolled("lista_cp", a, 16, 0.4, 1.2, 13.0).support_percent(5) == 0.0
    assert [len(Unrolled(m, a, 3, 0.4, 1.2, 13.0).layer_params(1)) for m in METHODS] == [3, 2, 2, 2]


# ---------------------------------------------------------------- the shard and the data


def test_sparse_data_is_deterministic_and_checked(tmp_path):
    from repro.data import DataRef, build, load

    ref = DataRef("sparse", {"m": 20, "n": 40, "n_test": 8, "n_val": 4, "seed": 3})
    d = load(ref, tmp_path)
    assert d["A"].shape == (20, 40) and np.allclose(np.linalg.norm(d["A"], axis=0), 1, atol=1e-6)
    assert d["x_test"].shape == (8, 40) and d["z_val"].shape == (4, 20)
    again = load(DataRef("sparse", {"m": 20, "n": 40, "n_test": 8, "n_val": 4, "seed": 3}), tmp_path / "b")
    assert all(np.array_equal(d[k], again[k]) for k in d)
    with pytest.raises(ValueError, match=r"unknown sparse parameter.*'mm'.*valid: m, n"):
        build(DataRef("sparse", {"mm": 3}), tmp_path)
    with pytest.raises(ValueError, match=r"p .*must be in \(0, 1\]"):
        build(DataRef("sparse", {"p": 1.5}), tmp_path)


def test_config_rejects_bad_values():
    from repro.config import ConfigError, compose

    with pytest.raises(ConfigError, match="experiment.methods.*'lasso'.*valid choices: lista"):
        compose(["experiment=unrolling", "experiment.methods=[lasso]"])
    with pytest.raises(ConfigError, match="experiment.layers must be positive"):
        compose(["experiment=unrolling", "experiment.layers=0"])
    with pytest.raises(ConfigError, match="experiment.schedule"):
        compose(["experiment=unrolling", "experiment.schedule=greedy"])


def test_every_config_value_comes_from_conf():
    """No field of the schema carries a default of its own (conf/ is the one source): all are MISSING."""
    import dataclasses

    from omegaconf import MISSING

    from repro.config import compose
    from repro.experiments import unrolling
    from repro.experiments.unrolling.deblur import Deblur

    for cls, prefix in ((unrolling.Config, ""), (Deblur, "deblur.")):
        for f in dataclasses.fields(cls):
            assert f.default is MISSING and f.default_factory is dataclasses.MISSING, prefix + f.name
    for scale in ("smoke", "laptop", "paper"):
        exp = compose(["experiment=unrolling", f"scale={scale}"]).experiment
        assert isinstance(exp, unrolling.Config) and isinstance(exp.deblur, Deblur) and exp.deblur.steps > 0
        assert exp.snr_db[0] is None and exp.patience is None or exp.patience > 0


def test_smoke_shards_write_every_method(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    outs = run(compose(["experiment=unrolling", "scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}",
                        "shard=sparse-snr40"]))
    t = pd.read_csv(outs[0] / "table.csv")
    assert set(t["method"]) == {*METHODS, "ista", "fista", "oracle"} and set(t["noise"]) == {"snr40"}
    learned = t[t["method"].isin(METHODS) & (t["metric"] == "nmse_db")]
    assert set(learned["layer"]) == {1, 2, 3} and np.isfinite(learned["value"]).all()
    ista = t[(t["method"] == "ista") & (t["metric"] == "nmse_db")]
    assert ista["layer"].max() == 20 and set(ista["lam"]) == {0.05, 0.2}
    assert (t[t["metric"] == "gamma"]["method"] == "alista").all()
    # the baselines do not depend on a training seed; the learned nets have the scale's first seed
    assert set(t[t["method"].isin(["ista", "fista", "oracle"])]["seed"]) == {-1}
    assert set(t[t["method"].isin(METHODS)]["seed"]) == {100}
    # smoke is layer-wise without early stopping (3 layers, 3 phases of 2 steps): the validation curve covers the
    # last layer's stage, recorded at the fractions the shard declares, the window's start included
    from repro.experiments.unrolling.sparse_run import CURVE_FRACTIONS

    start, span = 2 * 3 * 2, 3 * 2
    expected = sorted({start + int(round(f * span)) for f in CURVE_FRACTIONS})
    assert start + int(round((1 - uc.CONVERGENCE_WINDOW) * span)) in expected
    for m in METHODS:
        curve = t[(t["method"] == m) & (t["metric"] == uc.CURVE)]
        assert sorted(curve["step"]) == expected and set(curve["layer"]) == {3}, m
        assert curve["step"].max() == learned[learned["method"] == m]["step"].max()  # ends where training ends
    assert not t.duplicated(subset=[c for c in t.columns if c != "value"]).any()


def test_layerwise_schedule_trains_each_layer_in_turn(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(compose(["experiment=unrolling", "scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}",
                         "shard=sparse-noiseless", "experiment.schedule=layerwise", "experiment.steps=3",
                         "experiment.patience=1", "experiment.eval_every=1"]))
    t = pd.read_csv(out / "table.csv")
    val = t[(t["metric"] == "val_nmse_db") & (t["method"] == "lista")].sort_values("layer")
    assert list(val["layer"]) == [1, 2, 3]
    assert val["step"].is_monotonic_increasing and val["step"].iloc[0] > 0  # recorded after each layer's phases
    # with early stopping the validation curve is the stopping rule's own validations of the last layer's stage
    # (every step here), from the stage's start to the end of training, each step once
    curve = t[(t["metric"] == uc.CURVE) & (t["method"] == "lista")].sort_values("step")
    stage_start, end = int(val["step"].iloc[1]), int(val["step"].iloc[2])
    assert list(curve["step"]) == list(range(stage_start, end + 1))
    last = t[(t["metric"] == "val_nmse_db") & (t["layer"] == 3) & t["method"].isin(METHODS)]
    last = last.set_index("method")["value"]
    at_end = t[(t["metric"] == uc.CURVE) & (t["step"] == end)].set_index("method")["value"]
    assert np.allclose(at_end[last.index], last)  # the curve's end is the final network's validation NMSE


def test_end_to_end_schedule_records_the_validation_curve_over_all_its_steps(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.experiments.unrolling.sparse_run import CURVE_FRACTIONS
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(compose(["experiment=unrolling", "scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}",
                         "shard=sparse-noiseless", "experiment.schedule=end_to_end", "experiment.steps=10"]))
    t = pd.read_csv(out / "table.csv")
    span = 3 * 10  # three phases (lr, x 0.2, x 0.02) of 10 steps, all training the full depth
    for m in METHODS:
        curve = t[(t["method"] == m) & (t["metric"] == uc.CURVE)]
        assert sorted(curve["step"]) == sorted({int(round(f * span)) for f in CURVE_FRACTIONS}) and 27 in set(
            curve["step"])
    claims = {c.id: c.evaluate(t, None) for c in uc.CLAIMS}
    assert claims["U1"]["preconditions"][0]["holds"] is not None  # decided from the recorded curve
    from repro.experiments.unrolling.plots import all_figures

    assert [f.name for f in all_figures(t.assign(noise="noiseless"), None)] == ["u_nmse", "u_params", "u_training"]


def test_paper_scale_sparse_path(tmp_path, monkeypatch):
    """The paper preset's code path (layer-wise, early stopping on validation, every method), tiny and on CPU."""
    from repro.config import compose
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    cfg = compose(["experiment=unrolling", "scale=paper", "scale.device=cpu", "tracking=disabled",
                   f"data_dir={tmp_path / 'data'}", "shard=sparse-noiseless", "experiment.m=20", "experiment.n=40",
                   "experiment.layers=2", "experiment.n_test=20", "experiment.n_val=20", "experiment.steps=4",
                   "experiment.eval_every=1", "experiment.classical_iterations=10"])
    e = cfg.experiment
    assert (e.schedule, e.patience, e.lr, e.batch_size) == ("layerwise", 8, 5e-4, 64)  # the papers' protocol
    [out] = run(cfg)
    t = pd.read_csv(out / "table.csv")
    assert set(t[t["metric"] == "nmse_db"]["method"]) == {*METHODS, "ista", "fista", "oracle"}


def test_a_killed_early_stopping_phase_resumes_with_its_own_stopping_state(tmp_path):
    """Layer-wise with early stopping, killed (SIGTERM) in the middle of a phase of the last layer's stage: the
    stopping rule's state (its step count, best validation NMSE, validations without improvement) is checkpointed
    with the phase, so the resumed run stops where an uninterrupted one does and records the same validation curve:
    the table is byte-identical."""
    import os
    import subprocess
    import sys

    def repro(out: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "repro", "experiment=unrolling", "shard=sparse-noiseless",
                               "scale=smoke", "tracking=disabled", "experiment.patience=2", "experiment.eval_every=1",
                               "experiment.steps=8", f"data_dir={tmp_path / 'data'}", f"out={tmp_path / out}"],
                              cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **(env or {})},
                              timeout=300)

    clean = repro("clean")
    assert clean.returncode == 0, clean.stderr
    killed = repro("run", {"REPRO_CHECKPOINT_S": "0", "REPRO_FAULT": "7:2:TERM"})  # stage 3, second phase, step 2
    assert killed.returncode == 143, killed.stderr
    resumed = repro("run")
    assert resumed.returncode == 0 and "[checkpoint] resuming training call 7 at step 2" in resumed.stdout
    assert (tmp_path / "run" / "table.csv").read_bytes() == (tmp_path / "clean" / "table.csv").read_bytes()
