"""Unrolling (sparse recovery): ISTA/FISTA against another LASSO solver, ALISTA's weight, NMSE edge cases, the
unrolled nets at their ISTA initialisation, the claim checks' three verdicts, and the real shard at smoke scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from repro.claims import Status
from repro.experiments.unrolling import claims as uc
from repro.experiments.unrolling import lasso
from repro.experiments.unrolling.lista import METHODS, Unrolled

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE


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


# ---------------------------------------------------------------- claims on hand-made tables


def verdict(cid: str, table: pd.DataFrame) -> Status:
    """The claim's status as the report gets it (missing data makes it inconclusive)."""
    return Status(next(c for c in uc.CLAIMS if c.id == cid).evaluate(table, None)["status"])


def sparse_table(curves: dict, noise="noiseless", seeds=(0,), classical=None, oracle=-46.0) -> pd.DataFrame:
    """curves[method] = NMSE per layer 1..16; classical[(method, lam)] = {iteration: NMSE} plus val at 16."""
    rows = []
    for m, c in curves.items():
        for s in seeds:
            for k, v in enumerate(c, start=1):
                rows.append(dict(noise=noise, method=m, seed=s, lam=np.nan, layer=k, step=100, metric="nmse_db",
                                 value=v))
    for (m, lam), c in (classical or {}).items():
        for k, v in c.items():
            rows.append(dict(noise=noise, method=m, seed=0, lam=lam, layer=k, step=0, metric="nmse_db", value=v))
        rows.append(dict(noise=noise, method=m, seed=0, lam=lam, layer=16, step=0, metric="val_nmse_db",
                         value=c[16]))
    rows.append(dict(noise=noise, method="oracle", seed=0, lam=np.nan, layer=0, step=0, metric="nmse_db",
                     value=oracle))
    return pd.DataFrame(rows)


def ista_like(at16: float, at_end: float, end: int = 2000) -> dict[int, float]:
    """Sublinear: fast at first, then slow; NMSE at 16 iterations `at16`."""
    pts = {0: 0.0, **{k: at16 * (1 - (1 - k / 16) ** 3) for k in range(1, 17)}}
    pts.update({100: (at16 + at_end) / 2, end: at_end})
    return pts


LINEAR = [-4.0 * k for k in range(1, 17)]  # -64 dB at 16, a straight line
CLASSICAL = {("ista", 0.1): ista_like(-8.0, -30.0), ("ista", 0.01): ista_like(-5.0, -45.0),
             ("fista", 0.1): ista_like(-12.0, -30.0)}


def test_u1_u2_three_verdicts():
    good = sparse_table({"lista": [-2.0 * k for k in range(1, 17)]}, classical=CLASSICAL)  # -32 dB at 16
    assert uc.check_u1(good, None).status is R  # 20 dB below FISTA's best (-12)
    assert uc.check_u2(good, None).status is R  # ISTA reaches -32 only between 100 and 2000 iterations
    weak = sparse_table({"lista": [-1.0 * k for k in range(1, 17)]}, classical=CLASSICAL)  # -16 dB
    assert uc.check_u1(weak, None).status is N
    fast_ista = dict(CLASSICAL) | {("ista", 0.01): ista_like(-5.0, -45.0) | {100: -40.0, 20: -33.0}}
    assert uc.check_u2(sparse_table({"lista": [-2.0 * k for k in range(1, 17)]}, classical=fast_ista),
                       None).status is N  # matched at iteration 20 < 160
    assert verdict("U1", sparse_table({"lista": LINEAR})) is U  # no classical rows: inconclusive


def test_u3_three_verdicts():
    lista = [-2.0 * k for k in range(1, 17)]
    ok = sparse_table({"lista": lista, "lista_cpss": LINEAR, "alista": [v - 10 for v in LINEAR]},
                      classical=CLASSICAL)
    assert uc.check_u3(ok, None).status is R
    bent = [-30 * (1 - math.exp(-k / 3)) for k in range(1, 17)]  # saturates: not linear
    assert uc.check_u3(sparse_table({"lista": lista, "lista_cpss": bent, "alista": LINEAR}, classical=CLASSICAL),
                       None).status is N
    above = sparse_table({"lista": [v - 30 for v in LINEAR], "lista_cpss": LINEAR, "alista": LINEAR},
                         classical=CLASSICAL)
    assert uc.check_u3(above, None).status is N  # CPSS and ALISTA not below LISTA
    assert verdict("U3", sparse_table({"lista": lista, "lista_cpss": LINEAR}, classical=CLASSICAL)) is U


def test_u4_three_verdicts():
    floor = [max(-3.2 * k, -37.0) for k in range(1, 17)]  # levels off at -37 from layer 12
    t = sparse_table({m: floor for m in uc.LEARNED}, noise="snr40")
    assert uc.check_u4(t, None).status is R
    still_falling = sparse_table({m: [-2.2 * k for k in range(1, 17)] for m in uc.LEARNED}, noise="snr40")
    assert uc.check_u4(still_falling, None).status is N  # gains 8.8 dB over the last 4 layers
    too_high = sparse_table({m: [max(-2.0 * k, -25.0) for k in range(1, 17)] for m in uc.LEARNED}, noise="snr40")
    assert uc.check_u4(too_high, None).status is N
    assert verdict("U4", sparse_table({"lista": floor})) is U  # no noisy shard


def deblur_table(psnr: dict[str, float], seeds=(0, 1, 2)) -> pd.DataFrame:
    rows = []
    for s in seeds:
        for m, v in psnr.items():
            rows.append(dict(method=m, seed=s, image="shepp_logan", step=400 if m == "unrolled" else 0,
                             metric="psnr", value=v))
        rows.append(dict(method="unrolled", seed=s, image="shepp_logan", step=10, metric="psnr", value=0.0))
    return pd.DataFrame(rows)


def test_u5_three_verdicts():
    assert uc.check_u5(deblur_table({"tikhonov": 24.0, "tv": 26.0, "unrolled": 29.5}), None).status is R
    assert uc.check_u5(deblur_table({"tikhonov": 24.0, "tv": 26.0, "unrolled": 28.0}), None).status is N
    assert verdict("U5", deblur_table({"tikhonov": 24.0, "unrolled": 29.5})) is U  # TV missing


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
