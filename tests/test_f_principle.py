"""F-Principle: Δ_F and peaks on analytic cases, the filter, and every claim's three verdicts on hand-made tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from repro.claims import Status
from repro.config import compose
from repro.experiments import f_principle as fp
from repro.experiments.f_principle import claims as fpc

SEEDS = list(range(5))


@pytest.fixture(scope="module")
def cfg():
    return compose(["experiment=f_principle", "scale=laptop", "tracking=disabled"])


# ---------------------------------------------------------------- Δ_F and peaks


def test_delta_f_analytic():
    """h = (1 - ε) y gives Δ_F(k) = ε at every bin; a pure phase shift φ gives |1 - e^{iφ}| = 2 sin(φ/2)."""
    n = 64
    x = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    y = torch.sin(3 * x) + 0.5 * torch.sin(7 * x)
    d = fp.relative_spectral_error(0.8 * y, y)
    assert torch.allclose(d[[3, 7]], torch.tensor([0.2, 0.2], dtype=torch.float64))
    phi = 0.3
    d = fp.relative_spectral_error(torch.sin(3 * x + phi), torch.sin(3 * x))
    assert d[3].item() == pytest.approx(2 * math.sin(phi / 2), rel=1e-9)
    # the complex difference, not the difference of moduli: a phase error is an error
    assert d[3].item() > 0.29


def test_delta_f_batches_over_models():
    y = torch.randn(2, 50, dtype=torch.float64)
    h = y.clone()
    h[1] *= 0.5
    d = fp.relative_spectral_error(h, y)
    assert d.shape == (2, 26)
    assert torch.allclose(d[0], torch.zeros(26, dtype=torch.float64))
    assert torch.allclose(d[1], torch.full((26,), 0.5, dtype=torch.float64))


def test_spectral_peaks_on_the_issue_grid():
    """sin x + 2 sin 3x + 3 sin 5x on 101 points of [-5, 5]: bins 1.6, 4.8, 8.0 -> peaks at 2, 5, 8."""
    cfg = compose(["experiment=f_principle", "scale=paper"]).experiment.fp1  # the protocol's grid, from conf/
    _, ys = fp.fp1_targets(cfg)
    for name in ("rising", "falling"):
        mag = torch.fft.rfft(ys[name]).abs().numpy()
        assert fp.spectral_peaks(mag) == [2, 5, 8], name


def test_spectral_peaks_floor_and_side_lobe_guard():
    mag = np.zeros(40)
    mag[10], mag[20], mag[30] = 10.0, 0.5, 3.0  # 0.5 < 10% of 10: below the floor
    assert fp.spectral_peaks(mag) == [10, 30]
    # a small local maximum two bins from a big peak sits under its leakage envelope (10 / 4)
    side = np.array([0, 1, 10, 1, 2.0, 0.5, 0, 0, 0, 0])
    assert fp.spectral_peaks(side) == [2]
    # the same bump far away is a genuine peak
    far = np.zeros(40)
    far[2], far[3], far[30] = 1, 10, 2.0
    assert fp.spectral_peaks(far) == [3, 30]


def test_gaussian_filter_limits():
    x = torch.randn(30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.nn.functional.one_hot(torch.arange(30) % 3, 3).double()
    tiny = fp.gaussian_filter(x, 1e-6)  # no smoothing: the identity
    assert torch.allclose(tiny @ y, y, atol=1e-9)
    huge = fp.gaussian_filter(x, 1e9)  # everything averaged: the mean
    assert torch.allclose(huge @ y, y.mean(0).expand_as(y), atol=1e-6)
    assert torch.allclose(fp.gaussian_filter(x, 1.0).sum(1), torch.ones(30, dtype=torch.float64))
    e_low, e_high = fp.split_errors(fp.gaussian_filter(x, 1.0), y.unsqueeze(0), y)
    assert e_low.item() == 0 and e_high.item() == 0


def test_kernel_eigenvalues_match_basri():
    """Eq. 13 of Basri et al. against the empirical kernel of a wide net at initialisation."""
    n, m = 64, 20000
    th = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    x = torch.stack([th.cos(), th.sin()], 1)
    act = (x @ torch.randn(2, m, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) > 0).double()
    kernel = (act @ act.T) / m * (x @ x.T + 1)
    for k in (1, 2, 3, 4, 5):
        v = torch.sin(k * th)
        assert (v @ kernel @ v / (v @ v) / n).item() == pytest.approx(fpc.kernel_eigenvalue(k), rel=0.05)


# ---------------------------------------------------------------- hand-made tables


FP1_RECORDS = range(0, 3001, 50)


def fp1_table(steps_by_peak: dict[tuple[str, str], list[list[float]]], high: float = 1.0) -> pd.DataFrame:
    """converged_step rows: steps_by_peak[(act, target)][seed] = [step of peak 0, 1, 2] (NaN: never), and the
    matching Δ_F records: `high` before that step, 0.01 from it on."""
    rows = []
    for (act, tgt), per_seed in steps_by_peak.items():
        for seed, steps in enumerate(per_seed):
            for j, s in enumerate(steps):
                base = dict(activation=act, target=tgt, seed=seed, peak=j, freq=[2, 5, 8][j])
                rows.append(base | dict(step=3000, metric="converged_step", value=s))
                rows += [base | dict(step=t, metric="delta_f", value=0.01 if t >= s else high) for t in FP1_RECORDS]
    return pd.DataFrame(rows)


COMBOS = [(a, t) for a in ("tanh", "relu") for t in ("rising", "falling")]


def test_fp1_three_verdicts(cfg):
    ordered = [[100, 200, 300]] * 5
    assert fpc.check_fp1(fp1_table({c: ordered for c in COMBOS}), cfg).status is Status.REPRODUCED
    # relu/rising: the lowest peak last in 3 of 5 seeds
    bad = {c: ordered for c in COMBOS} | {("relu", "rising"): [[900, 200, 300]] * 3 + ordered[:2]}
    assert fpc.check_fp1(fp1_table(bad), cfg).status is Status.NOT_REPRODUCED
    # ties are not a strict increase
    tied = {c: ordered for c in COMBOS} | {("tanh", "falling"): [[100, 100, 300]] * 5}
    assert fpc.check_fp1(fp1_table(tied), cfg).status is Status.NOT_REPRODUCED
    # two seeds never converged: neither 80% holding nor >20% failing
    undecided = {c: ordered for c in COMBOS} | {("tanh", "rising"): ordered[:3] + [[100, 200, np.nan]] * 2}
    assert fpc.check_fp1(fp1_table(undecided), cfg).status is Status.INCONCLUSIVE
    # too few seeds
    assert fpc.check_fp1(fp1_table({c: ordered[:3] for c in COMBOS}), cfg).status is Status.INCONCLUSIVE
    # a missing combination is missing data, which the Claim wrapper turns into inconclusive
    claim = next(c for c in fpc.CLAIMS if c.id == "FP1")
    partial = fp1_table({c: ordered for c in COMBOS[:3]})
    assert claim.evaluate(partial, cfg)["status"] == Status.INCONCLUSIVE.value


def fp2_table(low_curves: list[list[float]], high_curves: list[list[float]], share: float = 0.5) -> pd.DataFrame:
    steps = [0, 10, 100, 1000]
    rows = []
    for seed, (lo, hi) in enumerate(zip(low_curves, high_curves)):
        rows.append(dict(seed=seed, step=0, delta=0.1, metric="low_energy_share", value=share))
        for st, a, b in zip(steps, lo, hi):
            rows.append(dict(seed=seed, step=st, delta=0.1, metric="e_low", value=a))
            rows.append(dict(seed=seed, step=st, delta=0.1, metric="e_high", value=b))
    return pd.DataFrame(rows)


def test_fp2_three_verdicts(cfg):
    high = [[1.0, 0.9, 0.6, 0.3]] * 5
    early = [[1.1, 0.5, 0.2, 0.05]] * 5  # below from step 10 on
    assert fpc.check_fp2(fp2_table(early, high), cfg).status is Status.REPRODUCED
    late = [[1.1, 1.0, 0.7, 0.05]] * 5  # below only at the last record (step 1000 > half of training)
    assert fpc.check_fp2(fp2_table(late, high), cfg).status is Status.NOT_REPRODUCED
    # below early, above again at step 100, below at the end: the crossing that counts is at step 1000,
    # past half of training
    recrossed = [[0.5, 0.5, 0.7, 0.1]] * 5
    assert fpc.check_fp2(fp2_table(recrossed, high), cfg).status is Status.NOT_REPRODUCED
    # no δ in the energy band
    assert fpc.check_fp2(fp2_table(early, high, share=0.95), cfg).status is Status.INCONCLUSIVE
    # too few seeds
    assert fpc.check_fp2(fp2_table(early[:2], high[:2]), cfg).status is Status.INCONCLUSIVE


def fp3_table(iters_bias: dict[int, list[float]], iters_nobias: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for bias, table in ((True, iters_bias), (False, iters_nobias)):
        for k, per_seed in table.items():
            for seed, v in enumerate(per_seed):
                rows.append(dict(bias=bias, k=k, seed=seed, step=1500, metric="iterations", value=v))
    return pd.DataFrame(rows)


KS = range(1, 9)


def test_fp3_three_verdicts(cfg):
    nobias = {k: [np.nan] * 5 if k >= 3 and k % 2 else [10.0 * k * k] * 5 for k in KS}
    quadratic = {k: [10.0 * k**2 * (1 + 0.01 * s) for s in SEEDS] for k in KS}
    assert fpc.check_fp3(fp3_table(quadratic, nobias), cfg).status is Status.REPRODUCED
    cubic = {k: [10.0 * k**3] * 5 for k in KS}
    verdict = fpc.check_fp3(fp3_table(cubic, nobias), cfg)
    assert verdict.status is Status.NOT_REPRODUCED and "3.00" in verdict.measured
    linear = {k: [10.0 * k] * 5 for k in KS}
    assert fpc.check_fp3(fp3_table(linear, nobias), cfg).status is Status.NOT_REPRODUCED
    unconverged = {k: [np.nan] * 5 if k == 8 else [10.0 * k**2] * 5 for k in KS}
    assert fpc.check_fp3(fp3_table(unconverged, nobias), cfg).status is Status.INCONCLUSIVE


def test_fp3_slope_ignores_k1():
    """k = 1 is outside the fit: a fast k = 1 must not change the slope."""
    quad = {k: [10.0 * k**2] * 5 for k in KS}
    fast_k1 = quad | {1: [1.0] * 5}
    a = fpc.check_fp3(fp3_table(quad, {}), None).measured
    b = fpc.check_fp3(fp3_table(fast_k1, {}), None).measured
    assert a.split(";")[0] == b.split(";")[0]


def test_fp3_control_three_verdicts(cfg):
    quad = {k: [10.0 * k**2] * 5 for k in KS}
    good = {k: [np.nan] * 5 if k >= 3 and k % 2 else [10.0 * k * k] * 5 for k in KS}
    assert fpc.check_fp3_control(fp3_table(quad, good), cfg).status is Status.REPRODUCED
    learned = {k: [500.0] * 5 for k in KS}  # odd k learned too
    assert fpc.check_fp3_control(fp3_table(quad, learned), cfg).status is Status.NOT_REPRODUCED
    # nothing converged at all: the budget cannot tell "unlearnable" from "too slow"
    nothing = {k: [np.nan] * 5 for k in KS}
    assert fpc.check_fp3_control(fp3_table(quad, nothing), cfg).status is Status.INCONCLUSIVE


# ---------------------------------------------------------------- shards on real code paths


def run_shard(tmp_path, monkeypatch, shard, overrides):
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    [out] = run(compose(["experiment=f_principle", "tracking=disabled", f"shard={shard}",
                         f"data_dir={tmp_path / 'data'}", *overrides]))
    return pd.read_csv(out / "table.csv")


def test_fp3_shard_learns_k1_and_not_odd_k_without_bias(tmp_path, monkeypatch):
    """A small real run: with width 400 and 150 GD steps, k = 1 converges and k = 3 without bias does not."""
    t = run_shard(tmp_path, monkeypatch, "fp3", ["scale=smoke", "seed=0", "experiment.fp3.ks=[1,3]",
                                                 "experiment.fp3.width=400", "experiment.fp3.init_std=3.0",
                                                 "experiment.fp3.max_steps=150"])
    it = t[t.metric == "iterations"].set_index(["bias", "k"])["value"]
    assert it[(True, 1)] < 20 and it[(False, 1)] < 20
    assert np.isnan(it[(False, 3)])
    ratio = t[(t.metric == "loss_ratio") & (t.bias == False) & (t.k == 3)]["value"]  # noqa: E712
    assert ratio.min() > 0.9  # the odd frequency does not move at all


@pytest.mark.parametrize("shard,overrides", [
    ("fp1", ["experiment.fp1.steps=1"]),
    ("fp2", ["experiment.fp2.steps=1", "experiment.fp2.n_train=200", "experiment.fp2.data.num_samples=300"]),
    ("fp3", ["experiment.fp3.max_steps=1", "experiment.fp3.ks=[1,12]"]),
])
def test_paper_scale_paths_run_one_step_on_cpu(tmp_path, monkeypatch, shard, overrides):
    """The paper preset's models and data path, with a tiny override (one step, few samples, CPU)."""
    t = run_shard(tmp_path, monkeypatch, shard, ["scale=paper", "scale.device=cpu", "scale.seeds=1", *overrides])
    assert set(t["seed"]) == set(compose(["experiment=f_principle", "scale=paper", "scale.seeds=1"]).seeds)
    assert np.isfinite(t[t.metric.isin(["loss", "loss_ratio", "delta_f", "e_low"])]["value"]).all()
    frozen = (tmp_path / "results" / "paper" / "f_principle" / shard / "config.yaml").read_text()
    if shard == "fp1":
        assert "- 200" in frozen and "glorot_uniform" in frozen  # the paper's architecture really ran
    if shard == "fp3":
        assert "width: 16000" in frozen


# ---------------------------------------------------------------- one source for each value


def test_the_schema_has_no_python_copy_of_the_protocol():
    """Every field of the experiment's schema is required: its value comes from conf/ alone."""
    import dataclasses

    from omegaconf import MISSING

    for cls in (fp.Config, fp.FP1Config, fp.FP2Config, fp.FP3Config):
        for f in dataclasses.fields(cls):
            assert f.default is MISSING and f.default_factory is dataclasses.MISSING, f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize("scale", ["smoke", "laptop", "paper"])
def test_configs_compose_from_conf_at_every_scale(scale):
    e = compose(["experiment=f_principle", f"scale={scale}"]).experiment
    assert e.fp3.width == {"smoke": 64, "laptop": 4000, "paper": 16000}[scale]  # the protocol's 16000 at paper
