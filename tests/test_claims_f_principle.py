"""The F-Principle claims revised on 2026-12-04 (issue 11): FP1's seed-mean check beside the per-seed vote, and the
preconditions that a time censored by the budget never makes a claim fail. Hand-made tables; every revised rule
gives all three verdicts, and a failed precondition makes the verdict inconclusive with its reason and remedy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_f_principle import COMBOS, KS, fp1_table, fp3_table

from repro.claims import Status
from repro.config import compose
from repro.experiments.f_principle import claims as fpc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
ORDERED = [100.0, 200.0, 300.0]


@pytest.fixture(scope="module")
def cfg():
    return compose(["experiment=f_principle", "scale=laptop", "tracking=disabled"])


def claim(claim_id: str):
    return next(c for c in fpc.CLAIMS if c.id == claim_id)


def all_combos(per_seed: list[list[float]], override: dict | None = None) -> dict:
    """The same per-seed steps for every (activation, target), but those in `override`."""
    return {c: per_seed for c in COMBOS} | (override or {})


# ---------------------------------------------------------------- FP1: the seed-mean check


def test_fp1_seed_mean_part_on_its_own():
    ordered = fp1_table(all_combos([ORDERED] * 5))
    part = fpc.fp1_seed_mean(ordered, "tanh", "rising")
    assert part.status is R and not part.open and "100 < 200 < 300" in part.measured
    reversed_ = fp1_table(all_combos([[300.0, 200.0, 100.0]] * 5))
    assert fpc.fp1_seed_mean(reversed_, "tanh", "rising").status is N
    # two peaks settle between the same two records (steps 110 and 120 both first show at record 150)
    tied = fp1_table(all_combos([[110.0, 120.0, 300.0]] * 5))
    part = fpc.fp1_seed_mean(tied, "tanh", "rising")
    assert part.status is U and not part.open and "not resolved" in part.measured
    # the mean of a peak never settles: censored, so open, never a failure
    never = fp1_table(all_combos([[100.0, 200.0, np.nan]] * 5))
    part = fpc.fp1_seed_mean(never, "tanh", "rising")
    assert part.status is U and part.open
    assert fpc.fp1_seed_mean(fp1_table(all_combos([ORDERED] * 3)), "tanh", "rising").status is U  # 3 < 5 seeds


def test_fp1_seed_mean_can_fail_where_the_per_seed_vote_passes(cfg):
    """Four seeds capture 2 < 5 < 8 early; the fifth captures its lowest peak last, with Δ_F = 5 until step 2000.
    The vote holds in 4/5 seeds (≥ 80%), but in the mean over seeds the lowest peak settles last."""
    outlier = [2000.0, 200.0, 300.0]
    table = fp1_table(all_combos([ORDERED] * 5, {("relu", "falling"): [ORDERED] * 4 + [outlier]}))
    table.loc[(table.metric == "delta_f") & (table.seed == 4) & (table.peak == 0) & (table.activation == "relu")
              & (table.target == "falling") & (table.value > 0.1), "value"] = 5.0
    seeds, mean = fpc.fp1_parts(table, cfg)[-2:]
    assert seeds.status is R and "4/5 seeds" in seeds.measured
    assert mean.status is N and "2000 < 200 < 300" in mean.measured
    out = claim("FP1").evaluate(table, cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


def test_fp1_three_verdicts_with_the_seed_mean(cfg):
    assert claim("FP1").evaluate(fp1_table(all_combos([ORDERED] * 5)), cfg)["status"] == "reproduced"
    # the lowest peak last in 3 of 5 seeds of one combination: the vote fails
    bad = fp1_table(all_combos([ORDERED] * 5, {("relu", "rising"): [[900.0, 200.0, 300.0]] * 3 + [ORDERED] * 2}))
    assert claim("FP1").evaluate(bad, cfg)["status"] == "not reproduced"
    assert claim("FP1").evaluate(fp1_table(all_combos([ORDERED] * 3)), cfg)["status"] == "inconclusive"


def test_fp1_censored_peaks_make_it_inconclusive_not_a_failure(cfg):
    """Two seeds never settle their highest peak within the budget: they could make the vote pass or fail, and the
    mean never settles either. Under-powered, with the remedy; the rule alone cannot decide either."""
    censored = fp1_table(all_combos([ORDERED] * 5, {("tanh", "rising"): [ORDERED] * 3 + [[100, 200, np.nan]] * 2}))
    out = claim("FP1").evaluate(censored, cfg)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    [pre] = out["preconditions"]
    assert pre["holds"] is False and "censored" in pre["measured"]
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert "experiment.fp1.steps" in out["would_test_it"]


def test_fp1_censored_but_measured_seeds_already_fail(cfg):
    """Censored seeds in one combination; another combination fails on measured seeds: not reproduced, and the
    precondition holds (the censoring is not what decides)."""
    table = fp1_table(all_combos([ORDERED] * 5, {("tanh", "rising"): [ORDERED] * 3 + [[100, 200, np.nan]] * 2,
                                                   ("relu", "rising"): [[900.0, 200.0, 300.0]] * 5}))
    out = claim("FP1").evaluate(table, cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


def test_fp1_one_censored_seed_that_cannot_change_the_vote(cfg):
    """One seed of five censored, four ordered: the vote holds whatever the censored seed would have shown; but the
    mean of its peak never settles, so the seed-mean part is open: inconclusive, under-powered."""
    table = fp1_table(all_combos([ORDERED] * 5, {("tanh", "rising"): [ORDERED] * 4 + [[100, 200, np.nan]]}))
    parts = fpc.fp1_parts(table, cfg)
    assert parts[0].status is R and not parts[0].open
    assert parts[1].status is U and parts[1].open
    assert claim("FP1").evaluate(table, cfg)["preconditions"][0]["holds"] is False


# ---------------------------------------------------------------- FP3: censored convergence times


def quadratic(seeds=range(5)) -> dict:
    return {k: [10.0 * k**2 * (1 + 0.01 * s) for s in seeds] for k in KS}


def test_fp3_censored_seeds_are_undecided_never_a_failure(cfg):
    never = {k: [np.nan] * 2 + [10.0 * k**3] * 3 if k == 8 else [10.0 * k**3] * 5 for k in KS}
    # 3 measured seeds with a cubic slope fail: not reproduced from measured times, the precondition holds
    out = claim("FP3").evaluate(fp3_table(never, {}), cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True
    # two censored seeds, three quadratic: the censored seeds decide; inconclusive, under-powered
    mixed = {k: [np.nan if (k == 8 and s < 2) else 10.0 * k**2 for s in range(5)] for k in KS}
    out = claim("FP3").evaluate(fp3_table(mixed, {}), cfg)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    assert out["preconditions"][0]["holds"] is False and "experiment.fp3.max_steps" in out["would_test_it"]
    # one censored seed, four quadratic: reproduced whatever it would have shown
    one = {k: [np.nan if (k == 8 and s == 0) else 10.0 * k**2 for s in range(5)] for k in KS}
    out = claim("FP3").evaluate(fp3_table(one, {}), cfg)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True


def test_fp3_three_verdicts(cfg):
    assert claim("FP3").evaluate(fp3_table(quadratic(), {}), cfg)["status"] == "reproduced"
    assert claim("FP3").evaluate(fp3_table({k: [10.0 * k**3] * 5 for k in KS}, {}), cfg)["status"] == "not reproduced"
    everything = {k: [np.nan] * 5 if k == 8 else [10.0 * k**2] * 5 for k in KS}
    out = claim("FP3").evaluate(fp3_table(everything, {}), cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    assert claim("FP3").evaluate(fp3_table(quadratic(range(3)), {}), cfg)["status"] == "inconclusive"  # 3 seeds


# ---------------------------------------------------------------- revision log


def test_revised_claims_carry_their_history():
    revised = {c.id: c for c in fpc.CLAIMS if c.history}
    assert set(revised) == {"FP1", "FP3"}
    for c in revised.values():
        assert c.version == 2 and c.preconditions
        [r] = c.history
        assert r.date == "2026-12-04" and r.reason and r.old_rule
        assert r.old_verdict.split(":")[0] in {s.value for s in Status}, r.old_verdict
    assert revised["FP1"].history[0].old_rule != revised["FP1"].rule  # the seed-mean check is new
    assert "seed-mean" in revised["FP1"].rule
    assert revised["FP3"].history[0].old_rule == revised["FP3"].rule  # only the precondition is new
    assert {c.id for c in fpc.CLAIMS if not c.history} == {"FP2", "FP3-control"}


def test_every_claim_without_data_is_inconclusive(cfg):
    empty = pd.DataFrame(columns=["activation", "target", "seed", "step", "peak", "freq", "metric", "value"])
    for c in fpc.CLAIMS:
        assert c.evaluate(empty, cfg)["status"] == "inconclusive", c.id
