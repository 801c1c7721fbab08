"""Claims as data, their verdicts, and the seed statistics the checks use.

A claim's check maps the aggregated tidy table (and the experiment's config) to a `Verdict`. Checks
and their thresholds are written before results are seen; the thresholds come from the papers or
from the statistical rules below, and are never tuned afterwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd


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
class Claim:
    id: str
    statement: str  # the claim as the paper states it
    source: str  # paper, arXiv id, figure or table
    check: Callable[[pd.DataFrame, object], Verdict]
    paper_value: str | None = None  # the paper's number, where there is one
    rule: str = ""  # the decision rule, in words, shown in the report

    def evaluate(self, table: pd.DataFrame, cfg) -> dict:
        """Run the check; missing data makes a claim inconclusive, never a crash or a pass."""
        try:
            verdict = self.check(table, cfg)
        except MissingData as e:
            verdict = Verdict(Status.INCONCLUSIVE, "n/a", f"missing data: {e}")
        out = {k: v for k, v in asdict(self).items() if k != "check"}
        out.update(verdict.to_dict())
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
        return (f"{self.median:{spec}}{unit} (median over {self.n} seeds; "
                f"range {self.lo:{spec}}–{self.hi:{spec}}{unit})")


def seed_stats(values: Iterable[float]) -> SeedStats:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        nan = float("nan")
        return SeedStats(0, nan, nan, nan, nan, nan)
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return SeedStats(int(v.size), float(med), float(q25), float(q75), float(v.min()), float(v.max()))


def bootstrap_ci(values: Sequence[float], stat=np.median, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `stat` over seeds (deterministic: fixed resampling seed)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = stat(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    a = (1 - level) / 2
    return float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


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
    return SeedVote(sum(o is True for o in outcomes), sum(o is False for o in outcomes),
                    sum(o is None for o in outcomes))


def majority_status(v: SeedVote, *, min_seeds: int, min_fraction: float) -> Status:
    """The one rule for per-seed properties, used by every claim that votes over seeds.

    reproduced: at least `min_seeds` seeds and at least `min_fraction` of them hold;
    not reproduced: more than 1 - `min_fraction` of the seeds fail (so it cannot reach the bar);
    inconclusive: too few seeds, or too many undecided seeds to tell either way.
    """
    if v.n < min_seeds:
        return Status.INCONCLUSIVE
    if v.holds >= min_fraction * v.n:
        return Status.REPRODUCED
    if v.fails > (1 - min_fraction) * v.n:
        return Status.NOT_REPRODUCED
    return Status.INCONCLUSIVE


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
