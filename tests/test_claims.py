"""Seed statistics, paired intervals, preconditions and revision logs: the machinery behind every claim."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from repro.claims import (
    Claim,
    Holds,
    MissingData,
    Part,
    Precondition,
    Revision,
    Status,
    Verdict,
    combine,
    majority_status,
    paired_difference,
    require,
    seed_stats,
    settled,
    vote,
    vote_part,
)

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE


def test_seed_stats_median_quartiles_and_nan():
    s = seed_stats([1, 2, 3, 4, 100, float("nan"), None])
    assert (s.n, s.median, s.lo, s.hi) == (5, 3.0, 1.0, 100.0)
    assert s.q25 == 2.0 and s.q75 == 4.0 and s.iqr == 2.0
    assert seed_stats([]).n == 0 and math.isnan(seed_stats([]).median)
    assert "median over 5 seeds" in s.fmt()


def test_paired_difference_pairs_by_seed_and_brackets_the_median():
    # arm a beats arm b by 1 in every seed, although the seeds' levels spread far more than that: a paired
    # comparison sees it, a comparison of the two groups' medians and IQRs would not
    level = {0: 10.0, 1: 50.0, 2: 90.0, 3: 30.0, 4: 70.0, 5: 20.0}
    a = pd.Series({s: v + 1.0 + 0.1 * s for s, v in level.items()})
    b = pd.Series(level)
    d = paired_difference(a, b)
    assert d.n == 6 and d.median == pytest.approx(1.25)
    assert 1.0 <= d.lo <= d.median <= d.hi <= 1.5
    assert d.above_zero and not d.below_zero
    assert d == paired_difference(a, b)  # deterministic
    assert "95% CI" in d.fmt() and "6 paired seed differences" in d.fmt()


def test_paired_difference_uses_only_shared_seeds_and_handles_degenerate_cases():
    d = paired_difference({0: 3.0, 1: 5.0, 7: 100.0}, {0: 1.0, 1: 3.0, 2: -100.0})
    assert (d.n, d.median, d.lo, d.hi) == (2, 2.0, 2.0, 2.0)  # identical differences: a point interval
    one = paired_difference({0: 1.0}, {0: 3.0})
    assert (one.n, one.median, one.lo, one.hi) == (1, -2.0, -2.0, -2.0) and one.below_zero
    none = paired_difference({0: 1.0}, {1: 1.0})
    assert none.n == 0 and not none.above_zero and not none.below_zero and math.isnan(none.median)


def test_paired_interval_straddling_zero_is_neither_above_nor_below():
    d = paired_difference(pd.Series([1.0, -1.0, 2.0, -2.0, 0.5]), pd.Series([0.0] * 5))
    assert d.lo < 0 < d.hi and not d.above_zero and not d.below_zero


@pytest.mark.parametrize(
    "outcomes,status",
    [
        ([True] * 5, R),
        ([True] * 4 + [False], R),  # 80% hold
        ([True] * 3 + [False] * 2, N),  # 40% fail > 20%
        ([True] * 3 + [None] * 2, U),  # neither
        ([True] * 3 + [False, None], U),  # the undecided seed could still make it 4 of 5
        ([True] * 2 + [False] * 2 + [None], N),  # 3 of 5 at most
        ([True] * 4, U),  # too few seeds
        ([None] * 5, U),
    ],
)
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


def _claim(status: Status, *preconditions: Precondition, history=()) -> Claim:
    return Claim(
        "X1", "s", "src", lambda t, c: Verdict(status, "m", "d"), rule="r", preconditions=preconditions, history=history
    )


def _pre(holds, measured="x") -> Precondition:
    return Precondition("the regime was reached", lambda t, c: Holds(holds, measured), "run the paper scale")


TABLE = pd.DataFrame({"metric": ["loss"], "value": [1.0]})


@pytest.mark.parametrize("rule", [R, N])
def test_a_failed_precondition_makes_any_rule_outcome_inconclusive(rule):
    out = _claim(rule, _pre(True), _pre(False, "train error 5%")).evaluate(TABLE, None)
    assert out["status"] == "inconclusive" and out["rule_status"] == rule.value
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert "train error 5%" in out["inconclusive_because"] and out["would_test_it"] == "run the paper scale"
    assert f"The rule alone reads “{rule.value}”" in out["detail"]
    assert [p["holds"] for p in out["preconditions"]] == [True, False]


def test_an_undecidable_precondition_is_inconclusive_too():
    def missing(table, cfg):
        raise MissingData("no train_err rows")

    out = _claim(R, Precondition("interpolates", missing, "more epochs")).evaluate(TABLE, None)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is None
    assert "no train_err rows" in out["inconclusive_because"]


@pytest.mark.parametrize("rule", [R, N, U])
def test_preconditions_that_hold_leave_the_rule_outcome(rule):
    out = _claim(rule, _pre(True)).evaluate(TABLE, None)
    assert out["status"] == rule.value and "inconclusive_because" not in out


def test_revision_history_gives_the_version_and_is_reported():
    rev = Revision("2026-12-04", "old rule", "not reproduced: 3 of 5 seeds", "the paper's Fig. 2 reads the median")
    claim = _claim(R, history=(rev,))
    out = claim.evaluate(TABLE, None)
    assert claim.version == 2 and out["version"] == 2
    assert out["history"] == [
        {
            "date": "2026-12-04",
            "old_rule": "old rule",
            "old_verdict": "not reproduced: 3 of 5 seeds",
            "reason": "the paper's Fig. 2 reads the median",
        }
    ]
    assert _claim(R).version == 1 and _claim(R).evaluate(TABLE, None)["history"] == []


def test_a_vote_is_open_only_when_its_undecided_seeds_could_swing_it():
    kw = {"min_seeds": 5, "min_fraction": 0.8}
    swing = vote_part([True] * 3 + [None] * 2, "ordered in {vote}", **kw)
    assert swing.status is U and swing.open and swing.measured == "ordered in 3/5 seeds (2 undecided)"
    lost = vote_part([True, False, False, None, None], "x", **kw)  # 3 of 5 at most
    assert lost.status is N and not lost.open
    assert not vote_part([True] * 5, "x", **kw).open


def test_settled_holds_unless_an_open_part_could_change_the_verdict():
    open_part, fails = Part(U, True, "relu censored"), Part(N, False, "tanh reversed")
    assert settled([Part(R, False, "a")], "m").holds is True
    assert settled([open_part, Part(R, False, "a")], "m") == Holds(
        False, "m; these could make the rule pass or fail: relu censored"
    )
    rescued = settled([open_part, fails], "m")  # another part already fails: more measurement cannot rescue it
    assert rescued.holds is True and "already make the rule fail" in rescued.measured
