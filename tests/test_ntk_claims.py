"""The NTK claims (issue 19) on hand-made tables: every rule gives all three verdicts, and a failed precondition
(training not reaching the regime, an error at the round-off floor) makes the verdict inconclusive with its reason and
remedy, whatever the rule alone says.

The tables follow ntk_spec's schema. Per-seed values follow exact power laws whose per-seed exponents are spread
evenly around a centre, so each seed's fitted slope is known; with 5 seeds the 95% bootstrap interval of the median is
the range of the per-seed values (the resampled median is the smallest value with probability 0.058 > 0.025)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from repro.claims import Status
from repro.experiments.ntk import claims as nc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
WIDTHS = (64, 256, 1024, 4096)
ALPHAS = (1.0, 10.0, 100.0, 1000.0)
T = 1000
STEPS = (0, 10, 100, T)
CFG = SimpleNamespace(
    experiment=SimpleNamespace(
        widths=SimpleNamespace(widths=list(WIDTHS), depth=2, d=8, dtype="float32"),
        lazy=SimpleNamespace(width=512, alphas=list(ALPHAS)),
    )
)

# the default laws: every claim reproduced
WIDTH_LAWS = dict(
    ntk_err=(0.03, -0.5),  # (value at the widest width, slope)
    ntk_change=(0.004, -0.9),
    weight_change=(0.002, -0.5),
    lin_rmse=(0.02, -0.8),
    ker_rmse=(0.05, -0.5),
    ker_rmse_inf=(0.06, -0.5),
    test_rmse=(0.3, 0.0),
)
LAZY_LAWS = dict(weight_change=(0.3, -1.0), lin_dist=(0.3, -1.0))  # (value at α = 1, slope)


def spread(n: int, half: float) -> np.ndarray:
    return np.linspace(-half, half, n) if n > 1 else np.zeros(1)


def widths_rows(
    n_seeds: int = 5,
    laws: dict | None = None,
    slope_spread: float = 0.05,
    loss_end: float | dict = 0.01,
    lin_loss_end: float = 0.01,
    target_rms: float = 1.0,
    slice_seeds: int = 1,
) -> list[dict]:
    laws = {**WIDTH_LAWS, **(laws or {})}
    rows = []
    base = dict(part="widths", alpha=np.nan, angle=np.nan)
    for i, seed in enumerate(range(n_seeds)):
        for width in WIDTHS:

            def r(metric, value, step, width=width, seed=seed, **kw):
                rows.append(base | dict(width=width, seed=seed, step=step, metric=metric, value=value) | kw)

            for metric, (end, slope) in laws.items():
                s = slope + spread(n_seeds, slope_spread)[i]
                step = 0 if metric == "ntk_err" else T
                r(metric, end * (width / WIDTHS[-1]) ** s, step)
            r("target_rms", target_rms, 0)
            r("f0_rms", 1.0, 0)
            end = loss_end.get(width, 0.01) if isinstance(loss_end, dict) else loss_end
            for step in STEPS:
                frac = step / T
                r("train_loss", 0.5 * end**frac, step)
                r("train_loss_lin", 0.5 * lin_loss_end**frac, step)
            if seed < slice_seeds and width in (WIDTHS[0], WIDTHS[-1]):
                for g in np.linspace(0, 2 * math.pi, 33):
                    y = math.sin(3 * g)
                    eps = 0.3 / math.sqrt(width)
                    for metric, v in (
                        ("slice_target", y),
                        ("slice_net", y + eps),
                        ("slice_lin", y + eps / 2),
                        ("slice_ker", y - eps),
                    ):
                        r(metric, v, T, angle=float(g))
    return rows


def lazy_rows(
    n_seeds: int = 5,
    laws: dict | None = None,
    slope_spread: float = 0.05,
    gaps=None,
    loss_end: float | dict = 0.01,
    alphas=ALPHAS,
    small_alpha_slope: float | None = None,
) -> list[dict]:
    """`gaps`: per seed, test_loss(α_max) − test_loss(α_min) (linear in log α in between). `small_alpha_slope`: below
    α = 1 the laws follow this slope instead (continuous at α = 1): the non-lazy regime."""
    laws = {**LAZY_LAWS, **(laws or {})}
    gaps = np.full(n_seeds, 0.2) if gaps is None else np.asarray(gaps, float)
    rows = []
    for i, seed in enumerate(range(n_seeds)):
        for a in alphas:

            def r(metric, value, step, a=a, seed=seed):
                rows.append(
                    dict(
                        part="lazy", width=512, alpha=a, angle=np.nan, seed=seed, step=step, metric=metric, value=value
                    )
                )

            for metric, (start, slope) in laws.items():
                if small_alpha_slope is not None and a < 1:
                    slope = small_alpha_slope
                r(metric, start * a ** (slope + spread(n_seeds, slope_spread)[i]), T)
            frac = (math.log(a) - math.log(alphas[0])) / (math.log(alphas[-1]) - math.log(alphas[0]))
            r("test_loss", 0.5 + gaps[i] * frac, T)
            r("target_rms", 1.0, 0)
            end = loss_end.get(a, 0.01) if isinstance(loss_end, dict) else loss_end
            for step in STEPS:
                r("train_loss", 0.5 * end ** (step / T), step)
    return rows


def table(widths: list[dict] | None = None, lazy: list[dict] | None = None) -> pd.DataFrame:
    rows = (widths_rows() if widths is None else widths) + (lazy_rows() if lazy is None else lazy)
    t = pd.DataFrame(rows)
    t["shard"] = np.where(t["part"] == "lazy", "lazy", "widths-seed" + t["seed"].astype(str))
    return t


def claim(claim_id: str):
    return next(c for c in nc.CLAIMS if c.id == claim_id)


def evaluate(claim_id: str, t: pd.DataFrame) -> dict:
    return claim(claim_id).evaluate(t, CFG)


# ---------------------------------------------------------------- the claims as data


def test_claims_are_ntk1_to_ntk5_first_versions_with_sources():
    assert [c.id for c in nc.CLAIMS] == ["NTK1", "NTK2", "NTK3", "NTK4", "NTK5"]
    for c in nc.CLAIMS:
        assert c.version == 1 and c.history == ()
        assert "arXiv" in c.source and c.rule and c.statement and c.paper_value
        assert c.preconditions and all(p.remedy for p in c.preconditions)
        d = c.describe()
        assert d["rule"] == c.rule and d["history"] == []
    assert "1806.07572" in claim("NTK1").source and "1902.06720" in claim("NTK3").source
    assert "1904.11955" in claim("NTK4").source and "1812.07956" in claim("NTK5").source


def test_the_default_table_reproduces_every_claim():
    t = table()
    for c in nc.CLAIMS:
        out = c.evaluate(t, CFG)
        assert out["status"] == "reproduced", (c.id, out["measured"], out.get("inconclusive_because"))
        assert all(p["holds"] is True for p in out["preconditions"])
        assert "CI" in out["measured"] and out["detail"]


def test_median_interval_with_five_seeds_is_the_range():
    n, med, lo, hi = nc.median_interval(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (n, med, lo, hi) == (5, 3.0, 1.0, 5.0)
    assert nc.median_interval(pd.Series([2.0, np.nan]))[:2] == (1, 2.0)


def test_loglog_slope_is_exact_on_a_power_law_and_refuses_bad_values():
    x = np.array([64, 256, 1024, 4096.0])
    assert nc.loglog_slope(x, 3 * x**-0.5) == pytest.approx(-0.5)
    assert math.isnan(nc.loglog_slope(x, np.array([1, 0.5, 0.0, 0.1])))
    assert math.isnan(nc.loglog_slope(x, np.array([1, 0.5, np.nan, 0.1])))


# ---------------------------------------------------------------- NTK1


@pytest.mark.parametrize(
    "slope, half, expected",
    [
        (-0.5, 0.05, R),  # on the CLT rate
        (-1.0, 0.05, N),  # interval [−1.05, −0.95]: entirely below −0.75
        (0.0, 0.05, N),  # no convergence
        (-0.7, 0.1, U),  # interval [−0.8, −0.6] straddles −0.75
        (-0.3, 0.1, U),  # straddles −0.25
    ],
)
def test_ntk1_three_verdicts(slope, half, expected):
    out = evaluate("NTK1", table(widths_rows(laws={"ntk_err": (0.03, slope)}, slope_spread=half)))
    assert out["status"] == expected.value and out["rule_status"] == expected.value
    assert "ntk_err: slope" in out["measured"] and "ntk_err at width 4096" in out["measured"]


def test_ntk1_needs_five_seeds_and_three_widths():
    out = evaluate("NTK1", table(widths_rows(n_seeds=3)))
    assert out["status"] == "inconclusive" and "fewer than 5 seeds" in out["measured"]
    t = table()
    t = t[~((t["part"] == "widths") & t["width"].isin([64, 256]))]
    out = evaluate("NTK1", t)
    assert out["status"] == "inconclusive" and "fewer than 3 widths" in out["measured"]


def test_ntk1_at_the_roundoff_floor_is_inconclusive():
    """An error of 1e-5 at width 4096 is below 3 × ε32·√P (P ≈ 1.7e7: ≈ 1.5e-3): the fit would see the floor."""
    out = evaluate("NTK1", table(widths_rows(laws={"ntk_err": (1e-5, -0.5)})))
    assert out["rule_status"] == "reproduced" and out["status"] == "inconclusive"
    [pre] = out["preconditions"]
    assert pre["holds"] is False and "float32" in pre["measured"]
    assert "float64" in out["would_test_it"]
    assert out["detail"].startswith("The rule alone reads “reproduced”")


def test_roundoff_floor_from_the_config_and_without_it():
    floor32, how = nc.roundoff_floor(4096, CFG)
    p = 8 * 4096 + 4096**2 + 4096
    assert floor32 == pytest.approx(3 * np.finfo(np.float32).eps * math.sqrt(p)) and "float32" in how
    cfg64 = SimpleNamespace(experiment=SimpleNamespace(widths=SimpleNamespace(depth=2, d=8, dtype="float64")))
    assert nc.roundoff_floor(4096, cfg64)[0] < 1e-8
    default, _ = nc.roundoff_floor(4096, None)  # no config: depth 3, float32 (the larger floor)
    assert default > floor32


def test_a_missing_part_is_inconclusive_not_a_crash():
    t = table(widths=[], lazy=None)
    for cid in ("NTK1", "NTK2", "NTK3", "NTK4"):
        out = evaluate(cid, t)
        assert out["status"] == "inconclusive" and "missing data" in out["detail"]
    out = evaluate("NTK5", table(widths=None, lazy=[]))
    assert out["status"] == "inconclusive" and "missing data" in out["detail"]


# ---------------------------------------------------------------- NTK2


@pytest.mark.parametrize(
    "slope, half, expected",
    [
        (-0.5, 0.05, R),  # Lee et al.'s bound
        (-1.0, 0.05, R),  # Lee et al.'s measurement (Fig. 1)
        (0.0, 0.05, N),  # the kernel does not settle with width
        (-1.6, 0.05, N),  # faster than any reported rate
        (-0.25, 0.1, U),  # straddles −0.25
    ],
)
def test_ntk2_three_verdicts(slope, half, expected):
    out = evaluate("NTK2", table(widths_rows(laws={"ntk_change": (0.004, slope)}, slope_spread=half)))
    assert out["status"] == expected.value, out["measured"]
    assert "closer to" in out["measured"] and "weight_change slope" in out["measured"]


def test_ntk2_reports_which_reference_rate_is_closer():
    out = evaluate("NTK2", table(widths_rows(laws={"ntk_change": (0.004, -0.95)})))
    assert "closer to -1 " in out["measured"]
    out = evaluate("NTK2", table(widths_rows(laws={"ntk_change": (0.004, -0.55)})))
    assert "closer to -0.5 " in out["measured"]


def test_ntk2_untrained_is_inconclusive_with_the_remedy():
    """The narrowest width's loss only halves: the kernel had no time to move there."""
    out = evaluate("NTK2", table(widths_rows(loss_end={64: 0.5})))
    assert out["rule_status"] == "reproduced" and out["status"] == "inconclusive"
    pre = out["preconditions"][0]
    assert pre["holds"] is False and "width 64" in pre["measured"] and "5/20 runs" in pre["measured"]
    assert "experiment.widths.steps" in out["would_test_it"]
    assert out["inconclusive_because"].startswith("under-powered at this scale")


def test_ntk2_a_diverged_width_fails_the_precondition():
    rows = widths_rows()
    for r in rows:
        if r["metric"] == "train_loss" and r["width"] == 64 and r["step"] == T and r["seed"] == 0:
            r["value"] = float("nan")
    out = evaluate("NTK2", table(rows))
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False


def test_ntk2_change_at_the_roundoff_floor_is_inconclusive():
    out = evaluate("NTK2", table(widths_rows(laws={"ntk_change": (1e-6, -0.9)})))
    assert out["status"] == "inconclusive" and out["preconditions"][1]["holds"] is False


# ---------------------------------------------------------------- NTK3 and NTK4


@pytest.mark.parametrize("metric, cid", [("lin_rmse", "NTK3"), ("ker_rmse", "NTK4")])
@pytest.mark.parametrize(
    "law, half, expected, why",
    [
        ((0.02, -0.7), 0.05, R, "falls, small"),
        ((0.02, 0.3), 0.05, N, "rises with width"),
        ((0.5, -0.7), 0.05, N, "falls, but half the output scale at the widest width"),
        ((0.02, -0.02), 0.1, U, "slope interval straddles 0"),
    ],
)
def test_relative_error_three_verdicts(metric, cid, law, half, expected, why):
    out = evaluate(cid, table(widths_rows(laws={metric: law}, slope_spread=half)))
    assert out["status"] == expected.value, (why, out["measured"])
    assert f"{metric}/target_rms at width 4096" in out["measured"]


@pytest.mark.parametrize("metric, cid", [("lin_rmse", "NTK3"), ("ker_rmse", "NTK4")])
def test_relative_error_straddling_the_bound_is_inconclusive(metric, cid):
    """Per-seed ratios 0.08…0.12 at the widest width: the interval crosses 0.1."""
    rows = widths_rows()
    seeds_end = dict(zip(range(5), np.linspace(0.08, 0.12, 5)))
    for r in rows:
        if r["metric"] == metric:
            r["value"] = seeds_end[r["seed"]] * (r["width"] / 4096) ** -0.7
    out = evaluate(cid, table(rows))
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    assert "at most 0.1: inconclusive" in out["measured"]


def test_the_ratio_uses_the_target_scale():
    """lin_rmse 0.2 against targets of RMS 4: ratio 0.05, small."""
    out = evaluate("NTK3", table(widths_rows(laws={"lin_rmse": (0.2, -0.7)}, target_rms=4.0)))
    assert out["status"] == "reproduced" and "0.05" in out["measured"]


def test_ntk3_needs_the_linearised_model_trained_too():
    out = evaluate("NTK3", table(widths_rows(lin_loss_end=0.3)))
    assert out["rule_status"] == "reproduced" and out["status"] == "inconclusive"
    assert "train_loss_lin" in out["preconditions"][0]["measured"]
    out4 = evaluate("NTK4", table(widths_rows(lin_loss_end=0.3)))  # NTK4 does not use the linearised model
    assert out4["status"] == "reproduced"


def test_ntk4_reports_the_infinite_time_predictor():
    out = evaluate("NTK4", table())
    assert "ker_rmse_inf/target_rms at width 4096" in out["measured"]
    t = table()
    out = evaluate("NTK4", t[t["metric"] != "ker_rmse_inf"])  # ill-conditioned kernel: no T → ∞ rows
    assert out["status"] == "reproduced" and "ker_rmse_inf" not in out["measured"]


# ---------------------------------------------------------------- NTK5


def test_ntk5_reproduced_and_its_parts():
    out = evaluate("NTK5", table())
    assert out["status"] == "reproduced"
    for tag in ("(a) weight_change", "(b) lin_dist against α", "(b) lin_dist at α = 1000", "(c) test_loss"):
        assert tag in out["measured"]


@pytest.mark.parametrize(
    "laws, gaps, expected, why",
    [
        ({"weight_change": (0.3, -2.5)}, None, N, "(a) weights move as 1/α^2.5"),
        ({"weight_change": (0.3, 0.0)}, None, N, "(a) α has no effect on the weights"),
        ({"weight_change": (0.3, -0.5)}, None, U, "(a) interval [−0.55, −0.45] straddles −0.5"),
        ({"lin_dist": (0.3, 0.2)}, None, N, "(b) the distance to the linearisation grows with α"),
        ({"lin_dist": (30.0, -0.5)}, None, N, "(b) falls, but 0.95 at the largest α"),
        ({}, [-0.3, -0.2, -0.2, -0.1, -0.1], N, "(c) the lazy model generalises better in every seed"),
        ({}, [-0.2, -0.1, 0.1, 0.2, 0.3], U, "(c) seeds disagree"),
    ],
)
def test_ntk5_three_verdicts(laws, gaps, expected, why):
    out = evaluate("NTK5", table(lazy=lazy_rows(laws=laws, gaps=gaps)))
    assert out["status"] == expected.value, (why, out["measured"])


def test_ntk5_needs_both_compared_models_trained():
    """The feature-learning model (α = 1) stops at 40% of its initial loss: the comparison is of unfinished models."""
    out = evaluate("NTK5", table(lazy=lazy_rows(loss_end={1.0: 0.4})))
    assert out["rule_status"] == "reproduced" and out["status"] == "inconclusive"
    pre = out["preconditions"][0]
    assert pre["holds"] is False and "alpha 1 " in pre["measured"]
    assert "experiment.lazy.teacher.steps" in out["would_test_it"]


def test_ntk5_needs_five_paired_seeds():
    out = evaluate("NTK5", table(lazy=lazy_rows(n_seeds=4)))
    assert out["status"] == "inconclusive" and "fewer than 5" in out["measured"]


def test_ntk5_fits_the_lazy_end_of_the_grid():
    """Below α = 1 the weights move O(1) whatever α (slope 0, the non-lazy regime): the rule fits the largest half of
    the grid, where Chizat et al.'s O(1/α) applies; over the whole grid the slope would straddle −0.5."""
    alphas = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    assert nc.lazy_fit_alphas(alphas) == [1.0, 10.0, 100.0]
    assert nc.lazy_fit_alphas((1.0, 10.0, 100.0, 1000.0)) == [10.0, 100.0, 1000.0]  # at least 3
    out = evaluate("NTK5", table(lazy=lazy_rows(alphas=alphas, small_alpha_slope=0.0)))
    assert out["status"] == "reproduced", out["measured"]
    assert "(a) weight_change against α: slope -1 " in out["measured"] and "3 α values 1–100" in out["measured"]
    assert "test_loss(α = 100) − test_loss(α = 0.001)" in out["measured"]


def test_ntk5_checks_training_only_at_the_alphas_it_reads():
    alphas = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    out = evaluate("NTK5", table(lazy=lazy_rows(alphas=alphas, loss_end={0.01: 0.5})))  # α = 0.01 is not read
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True
    out = evaluate("NTK5", table(lazy=lazy_rows(alphas=alphas, loss_end={0.001: 0.5})))  # the smallest α is
    assert out["status"] == "inconclusive" and "alpha 0.001 " in out["preconditions"][0]["measured"]
