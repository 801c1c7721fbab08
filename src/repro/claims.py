"""Claims as data, their verdicts, and the seed statistics the checks use.

A claim's check maps the aggregated tidy table (and the experiment's config) to a `Verdict`. Checks
and their thresholds are written before results are seen; the thresholds come from the papers or
from the statistical rules below, and are never tuned afterwards.

Three more parts make a verdict mean what it says:

- `Precondition`s: when the rule is a fair test of the paper (the regime was reached, the measurement
  is not censored by the budget, the estimator is informative). A failed or undecidable precondition
  makes the verdict inconclusive, with the reason and what would test the claim; the rule's own
  outcome is still shown, never reported as the verdict.
- `paired_difference`: arms that share seeds are compared per seed, with a bootstrap interval.
- `Revision`s: a rule changes only for a reason from the paper, its authors' code or the mathematics;
  each change is logged (date, old rule, old verdict, reason) and the new rule is judged on fresh seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats


class Status(StrEnum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    status: Status
    measured: str  # the measured value, with its spread over seeds
    detail: str  # one sentence a reader can verify in the figure

    def to_dict(self) -> dict:
        return {"status": self.status.value, "measured": self.measured, "detail": self.detail}


@dataclass(frozen=True)
class Holds:
    """A precondition's outcome: True holds, False fails, None cannot be decided from the data."""

    holds: bool | None
    measured: str  # what was measured, e.g. "train error 0.4% at width 256"


@dataclass(frozen=True)
class Precondition:
    """A condition under which a claim's rule is a fair test of the paper.

    `check(table, cfg) -> Holds`. When it fails (or cannot be decided), the verdict is inconclusive:
    "under-powered at this scale", with `remedy`, what would test the claim (which scale, which budget).
    """

    text: str  # the condition, e.g. "the largest width interpolates (train error ≤ 1%)"
    check: Callable[[pd.DataFrame, object], Holds]
    remedy: str  # what would make the rule a test: a scale, a budget, an estimator

    def evaluate(self, table: pd.DataFrame, cfg) -> dict:
        try:
            h = self.check(table, cfg)
        except MissingData as e:
            h = Holds(None, f"missing data: {e}")
        return {"text": self.text, "holds": h.holds, "measured": h.measured, "remedy": self.remedy}


@dataclass(frozen=True)
class Revision:
    """One change of a claim's rule or protocol after its results were seen (the claim's revision log)."""

    date: str  # ISO date of the change
    old_rule: str  # the rule as it was
    old_verdict: str  # the verdict it gave, with its measured value where there was one
    reason: str  # from the paper, the authors' code, or the mathematics; never our own numbers


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the claim as the paper states it
    source: str  # paper, arXiv id, figure or table
    check: Callable[[pd.DataFrame, object], Verdict]
    paper_value: str | None = None  # the paper's number, where there is one
    rule: str = ""  # the decision rule, in words, shown in the report
    preconditions: tuple[Precondition, ...] = ()
    history: tuple[Revision, ...] = ()  # oldest first; the claim's version is len(history) + 1

    @property
    def version(self) -> int:
        return len(self.history) + 1

    def describe(self) -> dict:
        """Everything about the claim but its outcome, JSON-ready."""
        return {
            "id": self.id,
            "statement": self.statement,
            "source": self.source,
            "paper_value": self.paper_value,
            "rule": self.rule,
            "version": self.version,
            "history": [vars(r) for r in self.history],
            "preconditions": [{"text": p.text, "remedy": p.remedy} for p in self.preconditions],
        }

    def evaluate(self, table: pd.DataFrame, cfg) -> dict:
        """Run the preconditions and the check. Missing data makes a claim inconclusive, never a crash or a
        pass; a failed or undecided precondition makes it inconclusive whatever the rule alone says."""
        try:
            verdict = self.check(table, cfg)
        except MissingData as e:
            verdict = Verdict(Status.INCONCLUSIVE, "n/a", f"missing data: {e}")
        pre = [p.evaluate(table, cfg) for p in self.preconditions]
        out = self.describe()
        out["preconditions"] = pre
        out.update(verdict.to_dict())
        out["rule_status"] = verdict.status.value  # what the rule alone says
        unmet = [p for p in pre if p["holds"] is not True]
        if unmet:
            out["status"] = Status.INCONCLUSIVE.value
            reasons = "; ".join(
                f"{p['text']}: {'fails' if p['holds'] is False else 'undecided'} ({p['measured']})" for p in unmet
            )
            out["inconclusive_because"] = f"under-powered at this scale: {reasons}"
            out["would_test_it"] = " ".join(dict.fromkeys(p["remedy"] for p in unmet))
            if verdict.status is not Status.INCONCLUSIVE:
                out["detail"] = (
                    f"The rule alone reads “{verdict.status.value}”, but it is not a test of the paper "
                    f"here. {verdict.detail}"
                )
        return out


class MissingData(LookupError):
    """Raised by a check when the table lacks what the claim needs."""


# ---------------------------------------------------------------- seed statistics


@dataclass(frozen=True)
class SeedStats:
    """Median and spread of one quantity over seeds."""

    n: int
    median: float
    q25: float
    q75: float
    lo: float  # min
    hi: float  # max

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    def fmt(self, spec: str = ".3g", unit: str = "") -> str:
        if self.n == 0:
            return "n/a (no seeds)"
        return f"{self.median:{spec}}{unit} (median over {self.n} seeds; range {self.lo:{spec}}–{self.hi:{spec}}{unit})"


def seed_stats(values: Iterable[float]) -> SeedStats:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        nan = float("nan")
        return SeedStats(0, nan, nan, nan, nan, nan)
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return SeedStats(int(v.size), float(med), float(q25), float(q75), float(v.min()), float(v.max()))


PAIRED_LEVEL = 0.95  # the confidence level of every paired interval in a verdict


@dataclass(frozen=True)
class PairedDifference:
    """The per-seed differences a − b of two arms that share seeds, their median and a bootstrap interval."""

    n: int
    median: float
    lo: float
    hi: float
    level: float

    @property
    def above_zero(self) -> bool:
        """a beats b beyond the interval."""
        return self.n > 0 and self.lo > 0

    @property
    def below_zero(self) -> bool:
        return self.n > 0 and self.hi < 0

    def fmt(self, spec: str = "+.3g", unit: str = "") -> str:
        if self.n == 0:
            return "n/a (no paired seeds)"
        return (
            f"{self.median:{spec}}{unit} [{self.level:.0%} CI {self.lo:{spec}}, {self.hi:{spec}}{unit}; "
            f"median of {self.n} paired seed differences]"
        )


def paired_difference(a: pd.Series | dict, b: pd.Series | dict, *, level: float = PAIRED_LEVEL) -> PairedDifference:
    """Per-seed a − b over the seeds both arms have (indexed by seed), with a percentile bootstrap interval of
    the median difference (scipy.stats.bootstrap; fixed resampling seed, so the verdict is deterministic).

    A single pair, or identical differences, give a degenerate interval at that value.
    """
    a, b = pd.Series(a, dtype=float), pd.Series(b, dtype=float)
    both = a.index.intersection(b.index)
    d = (a[both] - b[both]).to_numpy(dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        nan = float("nan")
        return PairedDifference(0, nan, nan, nan, level)
    med = float(np.median(d))
    if d.size == 1 or np.all(d == d[0]):
        return PairedDifference(int(d.size), med, med, med, level)
    res = scipy_stats.bootstrap(
        (d,),
        np.median,
        confidence_level=level,
        method="percentile",
        n_resamples=4999,
        random_state=np.random.default_rng(0),
    )
    ci = res.confidence_interval
    return PairedDifference(int(d.size), med, float(ci.low), float(ci.high), level)


@dataclass(frozen=True)
class SeedVote:
    """How many seeds support, contradict, or cannot decide a per-seed property."""

    holds: int
    fails: int
    undecided: int

    @property
    def n(self) -> int:
        return self.holds + self.fails + self.undecided

    def fmt(self) -> str:
        s = f"{self.holds}/{self.n} seeds"
        return s + (f" ({self.undecided} undecided)" if self.undecided else "")


def vote(outcomes: Iterable[bool | None]) -> SeedVote:
    """Tally per-seed outcomes: True holds, False fails, None undecided (e.g. not converged)."""
    outcomes = list(outcomes)
    return SeedVote(
        sum(o is True for o in outcomes), sum(o is False for o in outcomes), sum(o is None for o in outcomes)
    )


def majority_status(v: SeedVote, *, min_seeds: int, min_fraction: float) -> Status:
    """The one rule for per-seed properties, used by every claim that votes over seeds.

    reproduced: at least `min_seeds` seeds and at least `min_fraction` of them hold;
    not reproduced: so many seeds fail that the bar is out of reach even if every undecided seed held;
    inconclusive: too few seeds, or too many undecided seeds to tell either way.
    (Counted without 1 - min_fraction, which is 0.19999999999999996 for 0.8: one failing seed in five would
    read "more than 20%" and turn an undecided, censored seed into a failure.)
    """
    if v.n < min_seeds:
        return Status.INCONCLUSIVE
    if v.holds >= min_fraction * v.n:
        return Status.REPRODUCED
    if v.n - v.fails < min_fraction * v.n:
        return Status.NOT_REPRODUCED
    return Status.INCONCLUSIVE


@dataclass(frozen=True)
class Part:
    """One part of a claim's rule: its status, and whether undecided measurements (censored at the budget, pinned
    at a ceiling) leave it open: it would read otherwise had they been measured, one way or the other."""

    status: Status
    open: bool
    measured: str


def vote_part(outcomes: Iterable[bool | None], measured: str, *, min_seeds: int, min_fraction: float) -> Part:
    """The per-seed vote as a part (`{vote}` in `measured` becomes "k/n seeds"), open when the undecided seeds
    could make it pass and could make it fail."""
    v = vote(outcomes)
    rule = lambda w: majority_status(w, min_seeds=min_seeds, min_fraction=min_fraction)  # noqa: E731
    best, worst = rule(SeedVote(v.holds + v.undecided, v.fails, 0)), rule(SeedVote(v.holds, v.fails + v.undecided, 0))
    return Part(rule(v), best is not worst, measured.replace("{vote}", v.fmt()))


def settled(parts: Sequence[Part], measured: str) -> Holds:
    """The precondition "undecided measurements do not leave the verdict open": it holds when no part is open, or
    when the decided parts already make the rule fail (more measurement could not rescue it)."""
    open_parts = [p.measured for p in parts if p.open]
    if not open_parts:
        return Holds(True, measured)
    if combine([p.status for p in parts]) is Status.NOT_REPRODUCED:
        return Holds(
            True, f"{measured}; left open: {'; '.join(open_parts)}; but the decided parts already make the rule fail"
        )
    return Holds(False, f"{measured}; these could make the rule pass or fail: {'; '.join(open_parts)}")


def combine(statuses: Iterable[Status]) -> Status:
    """A claim made of parts: any part failing fails it; otherwise any inconclusive part makes it
    inconclusive; it is reproduced only when every part is."""
    statuses = list(statuses)
    if not statuses:
        return Status.INCONCLUSIVE
    if Status.NOT_REPRODUCED in statuses:
        return Status.NOT_REPRODUCED
    if Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.REPRODUCED


def require(table: pd.DataFrame, **equals) -> pd.DataFrame:
    """Rows of `table` matching column=value filters; MissingData if there are none."""
    mask = np.ones(len(table), dtype=bool)
    for col, val in equals.items():
        if col not in table.columns:
            raise MissingData(f"column {col!r} absent")
        mask &= (table[col] == val).to_numpy()
    rows = table[mask]
    if rows.empty:
        raise MissingData(", ".join(f"{k}={v}" for k, v in equals.items()))
    return rows
