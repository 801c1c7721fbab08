"""Double descent: label noise, random features against closed forms, the batched width sweep against
one model at a time, every claim's verdicts on hand-made tables, and the paper-scale image path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import MISSING

from repro.claims import Status
from repro.config import ConfigError, compose
from repro.data import DataRef
from repro.experiments import double_descent as dd
from repro.experiments.double_descent import claims as ddc
from repro.experiments.double_descent.sweep import mlp_params, noisy_labels, random_features, train_width_sweep

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE


@pytest.fixture(scope="module")
def cfg():
    return compose(["experiment=double_descent", "scale=laptop", "tracking=disabled"])


# ---------------------------------------------------------------- computations


def test_noisy_labels_are_wrong_classes_sampled_once():
    y = torch.arange(10).repeat(2000)
    noisy = noisy_labels(y, 0.15, seed=3)
    changed = noisy != y
    assert abs(changed.double().mean().item() - 0.15) < 0.01
    assert torch.equal(noisy, noisy_labels(y, 0.15, seed=3))  # a pure function of the seed
    # the new class is uniform over the 9 wrong ones
    shift = ((noisy - y) % 10)[changed]
    counts = torch.bincount(shift, minlength=10)
    assert counts[0] == 0 and (counts[1:].double() / counts.sum()).sub(1 / 9).abs().max() < 0.02
    assert torch.equal(noisy_labels(y, 0.0, seed=3), y)


def test_random_features_match_pinv_min_norm():
    """Least squares for N < n, interpolation for N ≥ n, and the min-norm solution (= pinv) throughout."""
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(30, 5, generator=g), torch.randn(40, 5, generator=g)
    y, yt = torch.randint(0, 10, (30,), generator=g), torch.randint(0, 10, (40,), generator=g)
    rows = random_features(x, y, xt, yt, [10, 30, 60], seed=1)
    w = torch.randn(5, 60, generator=torch.Generator().manual_seed(1), dtype=torch.float64) / 5**0.5
    for N in (10, 30, 60):
        phi, phit = torch.relu(x.double() @ w[:, :N]), torch.relu(xt.double() @ w[:, :N])
        beta = torch.linalg.pinv(phi) @ torch.nn.functional.one_hot(y, 10).double()
        want = ((phit @ beta - torch.nn.functional.one_hot(yt, 10).double()) ** 2).sum(1).mean().item()
        got = {r["metric"]: r["value"] for r in rows if r["n_features"] == N}
        assert got["test_mse"] == pytest.approx(want, rel=1e-6)
        if N >= 30:
            assert got["train_mse"] < 1e-16 * 1e6  # interpolates
        else:
            assert got["train_mse"] > 0.1


def test_the_solver_near_n_matches_a_float64_svd_least_squares():
    """At N = n the feature matrix is square and ill conditioned: the normal equations would square its condition
    number. The solver works from the features there (gelsy), and away from N = n a Cholesky factor only when the
    Gram matrix is well conditioned; both agree with float64 lstsq (gelsd, min-norm) on the predictions."""
    from repro.experiments.double_descent.sweep import min_norm_lstsq

    g = torch.Generator().manual_seed(3)
    n = 200
    x = torch.randn(n, 40, generator=g, dtype=torch.float64)
    w = torch.randn(40, 400, generator=g, dtype=torch.float64) / 40**0.5
    phi = torch.relu(x @ w)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (n,), generator=g), 10).double()
    for N, direct in ((100, False), (200, True), (400, False)):
        p = phi[:, :N]
        want = torch.linalg.lstsq(p, y, driver="gelsd").solution
        got = min_norm_lstsq(p, y, from_features=direct)
        assert torch.allclose(p @ got, p @ want, atol=1e-6) and torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    square = phi[:, :n].clone()
    square[:, 0] *= 1e-5  # a nearly redundant feature, as near the threshold
    assert torch.linalg.cond(square) ** 2 > 1e8  # its Gram matrix is too ill conditioned for the normal equations
    via_gram = min_norm_lstsq(square, y)  # the condition check falls back to the features by itself
    assert torch.allclose(via_gram, torch.linalg.lstsq(square, y, driver="gelsd").solution, rtol=1e-6, atol=1e-8)
    # a repeated feature makes the Gram matrix singular: the minimum-norm solution splits the weight equally
    dup = torch.cat([phi[:, :50], phi[:, :1]], 1)
    beta = min_norm_lstsq(dup, y)
    assert torch.allclose(beta[0], beta[50], atol=1e-8)


def test_the_reference_initialisation_is_he_uniform_with_zero_biases():
    """greydanus/mnist1d's double-descent notebook: nn.init.kaiming_uniform_ (bound sqrt(6 / fan_in)), zero biases."""
    from repro.config import compose
    from repro.nn.batched import WidthSweepMLP

    mlp = compose(["experiment=double_descent", "scale=laptop"]).experiment.mlp
    assert (mlp.lr, mlp.momentum, mlp.batch_size, mlp.init) == (0.01, 0.9, 100, "kaiming_uniform")
    assert {20, 56, 80} <= set(mlp.widths) and mlp.epochs >= 300
    m = WidthSweepMLP([0, 1], 40, [64], 10, init="kaiming_uniform")
    bound = (6 / 40) ** 0.5
    assert m.w1.abs().max() <= bound and m.w1.abs().max() > 0.95 * bound
    assert m.w2[0].abs().max() <= (6 / 64) ** 0.5 and float(m.b1.abs().max()) == 0.0 == float(m.b3[0].abs().max())


def test_mlp_params():
    m = torch.nn.Sequential(torch.nn.Linear(40, 7), torch.nn.Linear(7, 7), torch.nn.Linear(7, 10))
    assert mlp_params(40, 7) == sum(p.numel() for p in m.parameters())


def _sweep_data():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(60, 6, generator=g), torch.randn(30, 6, generator=g)
    y, yt = torch.randint(0, 10, (60,), generator=g), torch.randint(0, 10, (30,), generator=g)
    return x, y, xt, yt


def test_batched_width_sweep_equals_one_model_at_a_time():
    """Every (width, seed) trained together gives the same per-model results as trained alone."""
    x, y, xt, yt = _sweep_data()
    kw = dict(
        epochs=4, batch_size=20, lr=0.05, momentum=0.9, record_epochs=[0, 2, 4], ensemble=False, progress_every_s=None
    )
    together = pd.DataFrame(train_width_sweep(x, y, xt, yt, widths=[4, 16], seeds=[0, 1, 2], **kw))
    alone = pd.concat(
        [pd.DataFrame(train_width_sweep(x, y, xt, yt, widths=[h], seeds=[s], **kw)) for h in (4, 16) for s in (0, 1, 2)]
    )
    key = ["width", "seed", "step", "metric"]
    a = together.sort_values(key).reset_index(drop=True)
    b = alone.sort_values(key).reset_index(drop=True)
    assert len(a) == 3 * 2 * 3 * 3 and a[key].equals(b[key])
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-4, atol=1e-5)
    # and training did something: the loss fell for the wide model
    loss = a[(a.metric == "test_loss") & (a.width == 16)].groupby("step")["value"].median()
    errors = a[(a.metric == "train_error") & (a.width == 16)].groupby("step")["value"].median()
    assert errors.iloc[-1] < errors.iloc[0] and np.isfinite(loss).all()


def test_ensemble_rows():
    x, y, xt, yt = _sweep_data()
    rows = pd.DataFrame(
        train_width_sweep(
            x,
            y,
            xt,
            yt,
            widths=[8],
            seeds=[0, 1],
            epochs=1,
            batch_size=30,
            lr=0.05,
            momentum=0.0,
            record_epochs=[1],
            progress_every_s=None,
        )
    )
    ens = rows[rows.metric == "ensemble_test_error"]
    assert len(ens) == 1 and ens.iloc[0]["seed"] == -1 and 0 <= ens.iloc[0]["value"] <= 1
    boot = rows[rows.metric == "ensemble_test_error_boot"]
    assert len(boot) == 200 and set(boot["seed"]) == {-1} and sorted(boot["boot"]) == list(range(200))
    # a draw of both seeds once each is the full ensemble; draws of one seed twice are that seed's own predictions
    assert boot["value"].between(0, 1).all() and ens.iloc[0]["value"] in set(boot["value"])


def test_prominence():
    assert ddc.prominence(np.array([5, 4, 3, 2.0]))[0] == 0
    size, top, base = ddc.prominence(np.array([0.5, 0.45, 0.55, 0.5, 0.4]))
    assert size == pytest.approx(0.10) and (top, base) == (2, 1)


def test_shards_and_data(cfg):
    names = list(dd.shards(cfg.experiment))
    assert names == ["rf", "mlp-n4000-noise0", "mlp-n4000-noise0.15", "mlp-n4000-noise0.2", "mlp-n2000-noise0.15"]
    paper = compose(["experiment=double_descent", "scale=paper"]).experiment
    img = [s for s in dd.shards(paper) if s.startswith("img-")]
    assert paper.image.seeds == paper.image.seeds_per_job == 5
    assert len(img) == 2 * 7 * 4  # arch × width group × noise: one job each, holding the 5 seeds
    s0 = paper.first_seed  # fresh seeds, as the MLP sweeps
    assert f"img-resnet18-k1_2_3_4-noise0.15-seeds{s0}-{s0 + 4}" in img
    assert dd.shard_seeds(paper, img[0], []) == list(range(s0, s0 + 5))
    two = compose(["experiment=double_descent", "scale=paper", "experiment.image.seeds_per_job=2"]).experiment
    blocks = [n for n in dd.shards(two) if n.startswith("img-cnn5-k64-noise0-")]
    assert blocks == [
        f"img-cnn5-k64-noise0-seeds{s0}-{s0 + 1}",
        f"img-cnn5-k64-noise0-seeds{s0 + 2}-{s0 + 3}",
        f"img-cnn5-k64-noise0-seed{s0 + 4}",
    ]
    # a job's counted FLOPs are its models': one per seed of its block
    flops = {n: dd.shards(two)[n].flops for n in blocks}
    assert flops[blocks[0]] == pytest.approx(2 * flops[blocks[2]])
    assert dd.datasets(paper, img[0])[0].family == "cifar10"


# ---------------------------------------------------------------- hand-made tables


WIDTHS = [4, 8, 16, 32, 64, 128]


def mlp_table(
    curves: dict[tuple[int, float], list],
    train: list[float] | None = None,
    seeds=5,
    jitter=0.002,
    epochs=(0, 300),
    ensemble: dict | None = None,
    train_by: dict[tuple[int, float], list[float]] | None = None,
    boot: dict | None = None,
) -> pd.DataFrame:
    """Final-epoch test errors per width for each (n, noise), the same curve for every seed plus a per-seed
    offset `jitter * (seed - 2)`; a curve given as a list of per-seed lists gives each seed its own curve.
    `train_by` overrides the final train errors of one (n, noise). The ensemble's bootstrap over seeds: 20 draws of
    `boot[(n, p)]` (a list of curves, cycled), else of the ensemble curve, each with a tiny offset."""
    train = train or [0.5, 0.3, 0.1, 0.01, 0.0, 0.0]
    rows = []
    for (n, p), test in curves.items():
        for s in range(seeds):
            mine = test[s] if isinstance(test[0], list) else test
            for h, te, tr in zip(WIDTHS, mine, (train_by or {}).get((n, p), train)):
                for step in epochs:
                    late = step == epochs[-1]
                    point = dict(
                        shard=f"mlp-n{n}-noise{p:g}",
                        n_train=n,
                        noise=p,
                        width=h,
                        params=mlp_params(40, h),
                        seed=s,
                        step=step,
                    )
                    rows.append(point | dict(metric="test_error", value=(te + jitter * (s - 2)) if late else 0.9))
                    rows.append(point | dict(metric="train_error", value=tr if late else 0.9))
        for h, v in zip(WIDTHS, (ensemble or {}).get((n, p), test if not isinstance(test[0], list) else test[0])):
            rows.append(
                dict(
                    shard=f"mlp-n{n}-noise{p:g}",
                    n_train=n,
                    noise=p,
                    width=h,
                    params=mlp_params(40, h),
                    seed=-1,
                    step=epochs[-1],
                    metric="ensemble_test_error",
                    value=v,
                )
            )
        ens = (ensemble or {}).get((n, p), test if not isinstance(test[0], list) else test[0])
        draws = (boot or {}).get((n, p), [ens])
        for k in range(20):
            for h, v in zip(WIDTHS, draws[k % len(draws)]):
                rows.append(
                    dict(
                        shard=f"mlp-n{n}-noise{p:g}",
                        n_train=n,
                        noise=p,
                        width=h,
                        params=mlp_params(40, h),
                        seed=-1,
                        boot=k,
                        step=epochs[-1],
                        metric="ensemble_test_error_boot",
                        value=v + 0.0005 * (k % 3),
                    )
                )
    return pd.DataFrame(rows)


PEAKED = [0.50, 0.48, 0.52, 0.56, 0.50, 0.45]  # peak at h = 32, where train error is 0.01
FLAT = [0.50, 0.48, 0.46, 0.45, 0.44, 0.43]


@pytest.fixture
def small(cfg):
    """A config whose MLP sweep is at n = 4000 with noise 0/0.15/0.2 and sample-wise n = 2000."""
    return cfg


def test_dd2_three_verdicts(small):
    assert ddc.check_dd2(mlp_table({(4000, 0.15): PEAKED}), small).status is R
    assert ddc.check_dd2(mlp_table({(4000, 0.15): FLAT}), small).status is N
    # the peak sits at h = 32 but train error first reaches ~0 only at h = 128: not near
    far = mlp_table({(4000, 0.15): PEAKED}, train=[0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    assert ddc.check_dd2(far, small).status is N
    # one seed of five has no rise (its h = 32 lies below its h = 8): the paired interval of peak − minimum before
    # it is [−0.01, +0.08], not above 0
    one_off = [PEAKED] * 4 + [[0.50, 0.48, 0.52, 0.47, 0.46, 0.45]]
    v = ddc.check_dd2(mlp_table({(4000, 0.15): one_off}), small)
    assert v.status is N and "Failed: rise" in v.detail and "95% CI -0.010" in v.measured
    # never interpolated, or too few seeds
    assert ddc.check_dd2(mlp_table({(4000, 0.15): PEAKED}, train=[0.5] * 6), small).status is U
    assert ddc.check_dd2(mlp_table({(4000, 0.15): PEAKED}, seeds=3), small).status is U


def test_dd2_pairs_the_widths_by_seed(small):
    """Seeds offset the whole curve by up to ±0.1, more than the rise (0.08): the medians' IQR (rule version 2)
    would hide the peak, but every seed's own curve rises and falls, so the paired intervals lie above 0."""
    shifted = mlp_table({(4000, 0.15): PEAKED}, jitter=0.05)
    v = ddc.check_dd2(shifted, small)
    assert v.status is R
    assert "+0.080 [95% CI +0.080, +0.080; median of 5 paired seed differences]" in v.measured
    test, _ = ddc.model_wise(shifted, 4000, 0.15)
    i, j = ddc.peak_index(test.median)
    assert test.median[i] - test.median[j] < max(test.iqr[i], test.iqr[j])  # what the old rule compared


def test_dd2_precondition_the_largest_width_interpolates(small):
    claim = next(c for c in ddc.CLAIMS if c.id == "DD2")
    ok = claim.evaluate(mlp_table({(4000, 0.15): PEAKED}), small)
    assert ok["status"] == "reproduced" and ok["preconditions"][0]["holds"] is True
    # the largest width ends at 5% train error: the rule alone passes, the verdict is inconclusive
    at5 = mlp_table({(4000, 0.15): PEAKED}, train=[0.5, 0.3, 0.1, 0.01, 0.0, 0.05])
    out = claim.evaluate(at5, small)
    assert out["status"] == "inconclusive" and out["rule_status"] == "reproduced"
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert "5.0%" in out["inconclusive_because"] and "epochs" in out["would_test_it"]
    # and where the rule alone fails, it is still inconclusive, never "not reproduced"
    out = claim.evaluate(mlp_table({(4000, 0.15): FLAT}, train=[0.5, 0.3, 0.1, 0.01, 0.0, 0.05]), small)
    assert out["status"] == "inconclusive" and out["rule_status"] == "not reproduced"
    # every seed must interpolate: one seed at 2% fails it
    table = mlp_table({(4000, 0.15): PEAKED})
    last = (table.metric == "train_error") & (table.width == 128) & (table.seed == 4) & (table.step == 300)
    table.loc[last, "value"] = 0.02
    pre = claim.evaluate(table, small)["preconditions"][0]
    assert pre["holds"] is False and "1 of 5 seeds above 1%" in pre["measured"]


def test_revised_claims_log_their_history():
    old = {c.id: c for c in ddc.CLAIMS}
    for cid in ("DD2", "DD4", "DD7"):  # issue 11's revision: paired intervals, the interpolation precondition
        c = old[cid]
        r = c.history[1 if cid != "DD7" else 0]
        assert r.date == "2026-12-04" and r.old_rule == ddc.OLD_RULE[cid]
        assert r.old_verdict.split(":")[0] in ("reproduced", "not reproduced", "inconclusive")
        assert "paired interval" in c.rule or "paired intervals" in c.rule
    for cid in ("DD1", "DD2", "DD3", "DD4", "DD5", "DD6"):  # issue 15's: the reference protocol, the solver, DD5
        last = old[cid].history[-1]
        assert last.old_rule == ddc.RULE_BEFORE_15[cid] and last.old_verdict == ddc.VERDICT_BEFORE_15[cid]
        assert "issue 15" in last.reason and "300" in last.reason
    assert "0.01" in old["DD2"].history[-1].reason and "gelsy" in old["DD1"].history[-1].reason
    assert "bootstrap" in old["DD5"].rule and "bootstrap" not in old["DD5"].history[-1].old_rule
    for cid in ("DD2", "DD4"):  # the peak's definition, corrected after the first laptop run, logged late
        first = old[cid].history[0]
        assert first.date == "2026-11-22" and "global maximum" in first.old_rule
        assert "largest rise" in old[cid].rule or "as in DD2" in old[cid].rule
    assert [c.version for c in ddc.CLAIMS] == [2, 4, 2, 4, 2, 2, 3]


def test_dd3_three_verdicts(small):
    noisy = {(4000, 0.15): PEAKED, (4000, 0.2): [0.55, 0.52, 0.57, 0.62, 0.55, 0.5]}
    assert ddc.check_dd3(mlp_table({(4000, 0.0): FLAT, **noisy}), small).status is R
    assert ddc.check_dd3(mlp_table({(4000, 0.0): PEAKED, **noisy}), small).status is N
    assert ddc.check_dd3(mlp_table({(4000, 0.0): FLAT, (4000, 0.15): FLAT, (4000, 0.2): FLAT}), small).status is U


def test_dd4_network_and_rf(small):
    good_rf = rf_table({1000: 1.0, 2000: 2.0})
    small_n = [0.55, 0.58, 0.52, 0.50, 0.48, 0.46]  # n = 2000 peaks at h = 8 (~500 params)
    large_n = PEAKED  # n = 4000 peaks at h = 32 (~2.7k params): ratio ~5.5, outside [4/3, 3]
    assert (
        ddc.check_dd4(pd.concat([good_rf, mlp_table({(2000, 0.15): small_n, (4000, 0.15): large_n})]), small).status
        is N
    )
    moved = [0.55, 0.53, 0.57, 0.50, 0.47, 0.45]  # n = 2000 peaks at h = 16 (~1.1k params): ratio ~2.5
    assert (
        ddc.check_dd4(pd.concat([good_rf, mlp_table({(2000, 0.15): moved, (4000, 0.15): large_n})]), small).status is R
    )
    bad_rf = rf_table({1000: 1.0, 2000: 1.0})  # the peak does not move with n
    assert (
        ddc.check_dd4(pd.concat([bad_rf, mlp_table({(2000, 0.15): moved, (4000, 0.15): large_n})]), small).status is N
    )
    # the peak moves by ~2.5× but more data never hurts: the smaller set's curve lies above everywhere
    above = [0.60, 0.60, 0.65, 0.58, 0.55, 0.50]
    v = ddc.check_dd4(pd.concat([good_rf, mlp_table({(2000, 0.15): above, (4000, 0.15): large_n})]), small)
    assert v.status is N and "95% CI" in v.measured
    assert (
        ddc.check_dd4(
            pd.concat(
                [rf_table({1000: 1.0, 2000: 2.0}, seeds=2), mlp_table({(2000, 0.15): moved, (4000, 0.15): large_n})]
            ),
            small,
        ).status
        is U
    )


def test_dd4_mlp_half_needs_the_largest_width_to_interpolate(small):
    moved = [0.55, 0.53, 0.57, 0.50, 0.47, 0.45]
    at5 = {(4000, 0.15): [0.5, 0.3, 0.1, 0.01, 0.0, 0.05]}  # the larger n's largest width ends at 5%
    mlp = mlp_table({(2000, 0.15): moved, (4000, 0.15): PEAKED}, train_by=at5)
    # the MLP half alone would pass; under-powered, it makes the claim inconclusive
    v = ddc.check_dd4(pd.concat([rf_table({1000: 1.0, 2000: 2.0}), mlp]), small)
    assert v.status is U and "under-powered at this scale" in v.measured and "would read “reproduced”" in v.measured
    # but a random-feature half that fails (a valid test: least squares interpolates for N ≥ n) still fails it
    assert ddc.check_dd4(pd.concat([rf_table({1000: 1.0, 2000: 1.0}), mlp]), small).status is N


def test_dd4_rf_more_data_hurts_per_seed(small):
    """At the 2n peak, each seed's MSE with 2n must exceed its own MSE with n (the same random features)."""
    t = rf_table({1000: 1.0, 2000: 2.0})
    # seed 4 with n = 1000 is worse at N = 2000 than with n = 2000: the paired interval reaches below 0
    hit = (t.n_train == 1000) & (t.n_features == 2000) & (t.seed == 4) & (t.metric == "test_mse")
    t.loc[hit, "value"] = 9.0
    both = pd.concat([t, mlp_table({(2000, 0.15): [0.55, 0.53, 0.57, 0.50, 0.47, 0.45], (4000, 0.15): PEAKED})])
    v = ddc.check_dd4(both, small)
    assert v.status is N and "more data does not hurt" in v.measured


def test_dd5_three_verdicts(small):
    flat_es = mlp_table({(4000, 0.15): PEAKED}, ensemble={(4000, 0.15): FLAT}, epochs=(0, 100, 300))
    # early stopping: at epoch 100 the errors are the flat curve
    t = flat_es.copy()
    mid = (t.step == 100) & (t.metric == "test_error")
    t.loc[mid, "value"] = t.loc[mid, "width"].map(dict(zip(WIDTHS, FLAT)))
    assert ddc.check_dd5(t, small).status is R
    assert ddc.check_dd5(mlp_table({(4000, 0.15): PEAKED}, ensemble={(4000, 0.15): PEAKED}), small).status is N
    assert ddc.check_dd5(mlp_table({(4000, 0.15): FLAT}), small).status is U
    # the ensemble's bootstrap over seeds straddles the bar (half the draws flat, half peaked): that remedy cannot
    # be told, so the claim is inconclusive even though the ensemble of all seeds is flat
    t2 = mlp_table(
        {(4000, 0.15): PEAKED}, ensemble={(4000, 0.15): FLAT}, epochs=(0, 100, 300), boot={(4000, 0.15): [FLAT, PEAKED]}
    )
    mid = (t2.step == 100) & (t2.metric == "test_error")
    t2.loc[mid, "value"] = t2.loc[mid, "width"].map(dict(zip(WIDTHS, FLAT)))
    v = ddc.check_dd5(t2, small)
    assert v.status is U and "ensemble of 5 0.000" in v.measured and "bootstrap over seeds" in v.measured


def epoch_table(curve: list[float], seeds=5) -> pd.DataFrame:
    rows = []
    for s in range(seeds):
        for e, v in zip([0, 1, 3, 10, 30, 100, 300], curve):
            rows.append(
                dict(
                    shard="mlp-n4000-noise0.2",
                    n_train=4000,
                    noise=0.2,
                    width=128,
                    params=1,
                    seed=s,
                    step=e,
                    metric="test_error",
                    value=v + 0.001 * s,
                )
            )
    return pd.DataFrame(rows)


def test_dd6_three_verdicts(small):
    assert ddc.check_dd6(epoch_table([0.9, 0.6, 0.5, 0.55, 0.6, 0.5, 0.45]), small).status is R
    assert ddc.check_dd6(epoch_table([0.9, 0.6, 0.5, 0.55, 0.6, 0.62, 0.63]), small).status is N  # no 2nd descent
    assert ddc.check_dd6(epoch_table([0.9, 0.6, 0.5, 0.55, 0.6, 0.5, 0.45], seeds=2), small).status is U


def rf_table(peaks: dict[int, float], seeds=5) -> pd.DataFrame:
    """Test MSE against N/n_base with a spike at ratio `peaks[n]` for each n."""
    ratios = [0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 4.0]
    rows = []
    for n, at in peaks.items():
        for s in range(seeds):
            for r in ratios:
                mse = 0.8 + (5.0 if r == at else 0.0) - 0.02 * r
                err = 0.5 + (0.2 if r == at else 0.0) - 0.01 * r
                for metric, v in (("test_mse", mse), ("test_error", err)):
                    rows.append(
                        dict(
                            shard="rf",
                            n_train=n,
                            n_features=int(r * 1000),
                            ratio=r,
                            seed=s,
                            step=0,
                            metric=metric,
                            value=v + 0.001 * s,
                        )
                    )
    return pd.DataFrame(rows)


def test_dd1_three_verdicts(small):
    assert ddc.check_dd1(rf_table({1000: 1.0}), small).status is R
    assert ddc.check_dd1(rf_table({1000: 1.5}), small).status is N  # peak outside [0.8n, 1.25n]
    assert ddc.check_dd1(rf_table({1000: 1.0}, seeds=3), small).status is U
    claim = next(c for c in ddc.CLAIMS if c.id == "DD1")
    assert claim.evaluate(rf_table({2000: 2.0}), small)["status"] == "inconclusive"  # n = 1000 missing


def test_dd7_is_inconclusive_without_cifar_runs(small):
    claim = next(c for c in ddc.CLAIMS if c.id == "DD7")
    out = claim.evaluate(mlp_table({(4000, 0.15): PEAKED}), small)
    assert out["status"] == "inconclusive" and "paper scale only" in out["detail"]


def image_table(test: list[float], train: list[float], seeds=5) -> pd.DataFrame:
    rows = []
    for s in range(seeds):
        for k, te, tr in zip(WIDTHS, test, train):
            for metric, v in (("test_error", te + 0.002 * s), ("train_error", tr)):
                rows.append(dict(arch="resnet18", k=k, noise=0.15, seed=s, step=4000, metric=metric, value=v))
    return pd.DataFrame(rows)


def test_dd7_as_dd2_on_resnet_rows(small):
    claim = next(c for c in ddc.CLAIMS if c.id == "DD7")
    interp = [0.5, 0.3, 0.1, 0.01, 0.0, 0.0]
    assert claim.evaluate(image_table(PEAKED, interp), small)["status"] == "reproduced"
    assert claim.evaluate(image_table(FLAT, interp), small)["status"] == "not reproduced"
    out = claim.evaluate(image_table(PEAKED, [0.5, 0.3, 0.1, 0.01, 0.0, 0.05]), small)
    assert out["status"] == "inconclusive" and out["rule_status"] == "reproduced"
    assert "k = 128" in out["inconclusive_because"]


# ---------------------------------------------------------------- one source for each value


def test_every_config_value_comes_from_conf():
    """No field of the schema carries a default of its own (conf/ is the one source): all are MISSING."""
    import typing

    hints = typing.get_type_hints(dd.Config)
    names = []
    for cls, prefix in ((dd.Config, ""), (dd.RFConfig, "rf."), (dd.MLPConfig, "mlp."), (dd.ImageConfig, "image.")):
        for f in dataclasses.fields(cls):
            names.append(prefix + f.name)
            assert f.default is MISSING and f.default_factory is dataclasses.MISSING, prefix + f.name
    assert hints["mlp"] is dd.MLPConfig and len(names) > 30
    for scale in ("smoke", "laptop", "paper"):
        exp = compose(["experiment=double_descent", f"scale={scale}"]).experiment
        assert isinstance(exp.mlp, dd.MLPConfig) and exp.mlp.epochs > 0


def test_paper_scale_image_path_one_step_on_cpu(tmp_path, monkeypatch):
    """ResNet18 (k = 1 and the paper's k = 64) on a CIFAR-10 file of 8 images, two seeds stacked in one job: one
    Adam step each, records per seed."""
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    g = np.random.default_rng(0)
    path = DataRef("cifar10", {"subset": 8}).path(tmp_path / "data")
    path.parent.mkdir(parents=True)
    np.savez(
        path,
        x=g.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8),
        y=np.arange(8) % 10,
        x_test=g.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8),
        y_test=np.arange(4),
    )
    s0 = compose(["experiment=double_descent"]).experiment.first_seed
    shard = f"img-resnet18-k1_64-noise0.15-seeds{s0}-{s0 + 1}"
    [out] = run(
        compose(
            [
                "experiment=double_descent",
                "scale=paper",
                "scale.device=cpu",
                "tracking=disabled",
                f"data_dir={tmp_path / 'data'}",
                "experiment.image.subset=8",
                "experiment.image.max_steps=1",
                "experiment.image.batch_size=4",
                "experiment.image.k_groups=[[1,64]]",
                "experiment.image.archs=[resnet18]",
                "experiment.image.noise=[0.15]",
                "experiment.image.seeds=2",
                "experiment.image.seeds_per_job=2",
                f"shard={shard}",
            ]
        )
    )
    t = pd.read_csv(out / "table.csv")
    assert set(t["k"]) == {1, 64} and set(t["metric"]) == {"train_error", "test_error"}
    assert set(t["seed"]) == {s0, s0 + 1} and len(t) == 2 * 2 * 2 * 2  # k × seed × (step 0, 1) × metric
    assert t["value"].between(0, 1).all()


def test_sgd_schedule_is_nakkirans_inverse_square_root():
    """lr / sqrt(1 + floor(t / 512)): 0.1 for the first 512 updates, then 0.1/sqrt(2), ... 0.1/sqrt(977) at 500K."""
    s = dd.SGDSchedule(lr=0.1, decay_every=512, steps=500_000)
    assert s.lr_at(0) == s.lr_at(511) == 0.1
    assert s.lr_at(512) == pytest.approx(0.1 / 2**0.5) and s.lr_at(3 * 512) == pytest.approx(0.05)
    assert s.lr_at(499_999) == pytest.approx(0.1 / (1 + 499_999 // 512) ** 0.5)
    with pytest.raises(ConfigError, match="decay_every"):
        dd.SGDSchedule(lr=0.1, decay_every=0, steps=10)


def test_paper_scale_cnn5_trains_with_the_sgd_schedule(tmp_path, monkeypatch):
    """The CNN5 path on 8 images: plain SGD (no momentum), whose rate follows the schedule step by step."""
    from repro.experiments.double_descent import images
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    made, rates = [], []
    real_sgd = images.sgd

    def spy(lr, **kw):
        def factory(params):
            made.append((lr, kw, real_sgd(lr, **kw)(params)))
            opt = made[-1][2]
            step = opt.step

            def logged_step(*a, **k):
                rates.append(opt.param_groups[0]["lr"])
                return step(*a, **k)

            opt.step = logged_step
            return opt

        return factory

    monkeypatch.setattr(images, "sgd", spy)
    g = np.random.default_rng(0)
    path = DataRef("cifar10", {"subset": 8}).path(tmp_path / "data")
    path.parent.mkdir(parents=True)
    np.savez(
        path,
        x=g.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8),
        y=np.arange(8) % 10,
        x_test=g.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8),
        y_test=np.arange(4),
    )
    exp = compose(["experiment=double_descent", "scale=paper"]).experiment
    shard = f"img-cnn5-k2-noise0-seed{exp.first_seed}"
    [out] = run(
        compose(
            [
                "experiment=double_descent",
                "scale=paper",
                "scale.device=cpu",
                "tracking=disabled",
                f"data_dir={tmp_path / 'data'}",
                "experiment.image.subset=8",
                "experiment.image.batch_size=4",
                "experiment.image.k_groups=[[2]]",
                "experiment.image.archs=[cnn5]",
                "experiment.image.noise=[0.0]",
                "experiment.image.seeds=1",
                "experiment.image.sgd={lr: 0.1, decay_every: 2, steps: 5}",
                f"shard={shard}",
            ]
        )
    )
    [(lr, kw, _opt)] = made
    assert lr == 0.1 and not kw.get("momentum") and not kw.get("weight_decay")
    assert rates == pytest.approx([0.1, 0.1, 0.1 / 2**0.5, 0.1 / 2**0.5, 0.1 / 3**0.5])
    t = pd.read_csv(out / "table.csv")
    assert t["step"].max() == 3  # 5 steps at 2 per epoch: the last record is epoch ceil(5 / 2)


def test_paper_scale_cnn_path_and_missing_data_message(tmp_path, monkeypatch):
    from repro.config import ConfigError  # noqa: F401  (the CLI maps DataMissing to exit 2)
    from repro.data import DataMissing
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataMissing) as e:
        run(
            compose(
                [
                    "experiment=double_descent",
                    "scale=paper",
                    "scale.device=cpu",
                    "tracking=disabled",
                    f"data_dir={tmp_path / 'data'}",
                    "experiment.image.archs=[cnn5]",
                    "experiment.image.k_groups=[[64]]",
                    "experiment.image.noise=[0.0]",
                    "experiment.image.seeds=1",
                    f"shard=img-cnn5-k64-noise0-seed{compose(['experiment=double_descent']).experiment.first_seed}",
                ]
            )
        )
    assert "cifar10" in str(e.value)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("shard", ["rf", "mlp-n2000-noise0.15"])
def test_paper_scale_mnist1d_paths_tiny(tmp_path, monkeypatch, shard):
    """The paper preset's RF and MLP shards with tiny overrides (a few samples, one epoch, CPU)."""
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(
        compose(
            [
                "experiment=double_descent",
                "scale=paper",
                "scale.device=cpu",
                "scale.seeds=1",
                "tracking=disabled",
                f"data_dir={tmp_path / 'data'}",
                "experiment.data={num_samples: 1000, train_split: 0.4, seed: 42}",
                "experiment.rf.n_train=[50,100]",
                "experiment.rf.n_test=100",
                "experiment.mlp.n_test=100",
                "experiment.mlp.n_train=200",
                "experiment.mlp.sample_wise_n=100",
                "experiment.mlp.epochs=1",
                "experiment.mlp.widths=[4,256]",
                f"shard={shard.replace('n2000', 'n100')}",
            ]
        )
    )
    t = pd.read_csv(out / "table.csv")
    assert np.isfinite(t["value"]).all() and len(t) > 0
