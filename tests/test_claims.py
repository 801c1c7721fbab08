"""Seed statistics and the shared voting rule behind every per-seed claim."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from repro.claims import (
    Claim,
    MissingData,
    Status,
    Verdict,
    bootstrap_ci,
    combine,
    majority_status,
    require,
    seed_stats,
    vote,
)

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE


def test_seed_stats_median_quartiles_and_nan():
    s = seed_stats([1, 2, 3, 4, 100, float("nan"), None])
    assert (s.n, s.median, s.lo, s.hi) == (5, 3.0, 1.0, 100.0)
    assert s.q25 == 2.0 and s.q75 == 4.0 and s.iqr == 2.0
    assert seed_stats([]).n == 0 and math.isnan(seed_stats([]).median)
    assert "median over 5 seeds" in s.fmt()


def test_bootstrap_ci_brackets_the_median_and_is_deterministic():
    v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    lo, hi = bootstrap_ci(v)
    assert lo <= 4.0 <= hi and (lo, hi) == bootstrap_ci(v)
    assert bootstrap_ci([2.0] * 5) == (2.0, 2.0)


@pytest.mark.parametrize("outcomes,status", [
    ([True] * 5, R),
    ([True] * 4 + [False], R),  # 80% hold
    ([True] * 3 + [False] * 2, N),  # 40% fail > 20%
    ([True] * 3 + [None] * 2, U),  # neither
    ([True] * 4, U),  # too few seeds
    ([None] * 5, U),
])
def test_majority_status(outcomes, status):
    assert majority_status(vote(outcomes), min_seeds=5, min_fraction=0.8) is status


def test_combine():
    assert combine([R, R]) is R
    assert combine([R, U]) is U
    assert combine([U, N, R]) is N
    assert combine([]) is U


def test_missing_data_is_inconclusive_not_a_crash():
    def check(table, cfg):
        require(table, metric="absent")
        return Verdict(R, "x", "y")

    out = Claim("X1", "s", "src", check).evaluate(pd.DataFrame({"metric": ["loss"], "value": [1.0]}), None)
    assert out["status"] == "inconclusive" and "missing data" in out["detail"]
    with pytest.raises(MissingData):
        require(pd.DataFrame({"a": [1]}), b=2)
