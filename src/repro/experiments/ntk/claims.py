"""The NTK claims (issue 19): each check maps the aggregated tidy table (ntk_spec: columns part, width, alpha, angle,
seed, step, metric, value) to a verdict.

Thresholds are the constants below, fixed on 2026-12-04 before any result existed, each with its reason: from the
papers, or from a stated statistical rule. They are never tuned afterwards; a change is a `Revision`.

Every rate is measured the same way: per seed, the least-squares slope of log(metric) against log(width) (or
log(α)) over every width (α) in the table; the statistic is the median of the per-seed slopes with a 95% percentile
bootstrap interval over seeds (the same resampling as `repro.claims.paired_difference`, fixed seed, so the verdict is
deterministic). With 5 seeds that interval is, in effect, the range of the per-seed values: the bootstrap median of 5
draws is the smallest value with probability 0.058 > 0.025. A band test then reads: reproduced if the interval lies
inside the band, not reproduced if it lies entirely outside, inconclusive if it straddles an edge. Fewer than
MIN_SEEDS seeds, or fewer than MIN_POINTS widths (α), leave a part inconclusive.

The rules read the table, not the config: the widths, the α and the final step T (the largest step of train_loss)
come from the rows. The config is read only for what the table cannot hold: the float type and depth of the network,
which set the round-off floor of the empirical kernel (`roundoff_floor`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from repro.claims import (
    Claim,
    Holds,
    MissingData,
    Part,
    Precondition,
    Status,
    Verdict,
    combine,
    paired_difference,
    require,
    seed_stats,
)

# ---------------------------------------------------------------- thresholds (fixed 2026-12-04, before any result)

MIN_SEEDS = 5  # the issue asks for at least 5 seeds at laptop scale; fewer leave a part inconclusive
MIN_POINTS = 3  # a slope through 2 points always fits exactly; 3 widths (α) are the fewest that test a power law
LEVEL = 0.95  # every interval: the 95% percentile bootstrap of the median over seeds (repro.claims.PAIRED_LEVEL)

# NTK1: the empirical NTK at init is an average over the units of each layer of terms that are independent given the
# layer below, so its fluctuation around Θ∞ falls as width^(−1/2) (central limit theorem; Hanin & Nica 2019 prove
# Var ∝ depth/width for ReLU nets). The issue asks for "about width^(−1/2)". The band holds the slopes closer to −1/2
# than to the neighbouring simple rates 0 (no convergence) and −1 (a pure O(1/width) bias): [−0.75, −0.25]. Its upper
# edge −0.25 is also the slowest rate any of the papers guarantees: Arora et al. 2019 Thm 3.1 needs width ≥
# Ω(L⁶/ε⁴ log(L/δ)), an error ε = O(width^(−1/4)) up to logs.
NTK1_BAND = (-0.75, -0.25)

# NTK2: Lee et al. 2019 Thm 2.1 bound the kernel's motion, sup_t ‖Θ̂_t − Θ̂_0‖_F = O(n^(−1/2)). That is an upper
# bound: a kernel that moves as O(1/n) satisfies it too, and our recollection of their Fig. 1 is a measured change
# closer to O(1/n) (not verified here: the stored copies of the paper stop after its introduction). So the rule
# accepts every slope from the bound's −1/2 to −1, each with the same ±0.25 tolerance as NTK1 (halfway to the next
# simple rate): [−1.25, −0.25]. A slope above −0.25 is the kernel moving more slowly with width than the theorem
# allows (or not at all: 0); below −1.25 is faster than either rate. A band [−0.75, −0.25] around −1/2 alone would
# read the bound as an equality.
NTK2_BAND = (-1.25, -0.25)
NTK2_REFERENCES = (-0.5, -1.0)  # reported: which of the bound's rate and 1/n the slope is closer to

# NTK3/NTK4: "small" at the widest width. Lee et al. report "excellent agreement" without a number; we fix the bound at
# one tenth of the output scale (RMS of the test targets): an RMSE of 0.1 × target_rms means the network's predictions
# and the linearised (kernel) model's agree to R² ≥ 0.99 measured against the targets' spread, an order of magnitude
# below the output scale. The slope must be below 0 (falls with width): Thm 2.1 gives O(n^(−1/2)) as an upper bound
# only, and the kernel predictor also carries the initial kernel's O(n^(−1/2)) error (NTK1), so no exact rate is
# tested; the slope is reported.
SMALL_RMSE = 0.1
NTK_SLOPE_MAX = 0.0  # "falls with width": the slope's interval lies below 0

# NTK5 (Chizat, Oyallon & Bach 2019, §2): the parameters move by O(1/α). The band holds slopes closer to −1 than to
# the neighbouring simple rates 0 (no effect of α) and −2: [−1.5, −0.5].
NTK5_BAND = (-1.5, -0.5)
# NTK5(b): Chizat et al. Thm 2.3/2.4 bound the distance between the lazy and linearised paths by O(1/α): lin_dist
# (already divided by target_rms) must fall with α and be small at the largest α, with the same bound as NTK3.
NTK5_LIN_SMALL = SMALL_RMSE
# NTK5(c): the paired difference test_loss(α_max) − test_loss(α_min) over seeds: its interval above 0 = lazy worse.
# NTK5(a) and (b) fit over the largest half of the α grid (at least MIN_POINTS values): Chizat et al.'s bounds are
# asymptotic, for α → ∞. At small α the model is not lazy: the authors' 2-homogeneous student started at scale τ
# (α = τ²) grows to O(1) weights, so its relative change scales as 1/τ = α^(−1/2), not 1/α; a fit over the whole grid
# would mix the two regimes and test neither.
LAZY_FIT_SHARE = 0.5

# Preconditions. "Trained": a model's train_loss at step T is at most this fraction of its value at step 0, i.e. the
# loss fell by at least an order of magnitude (our rule, stated before any run): the kernel has had the whole of its
# useful training to move (NTK2), the two models compared have been trained the same way to the fit (NTK3/4), and
# Chizat et al. compare trained models (NTK5). Applied at every width (α) and in every seed.
TRAINED_FRACTION = 0.1
# Round-off: an empirical-kernel entry is a dot product over P parameters; its relative round-off is at most about
# ε·√P (random-walk accumulation of the unit round-off ε of the float type under naive summation; blocked BLAS sums
# do better, so the floor is pessimistic). A relative error (or change) must exceed ROUNDOFF_MARGIN times that in every
# seed at the widest width. Why 3: a floor r adding in quadrature to an error e ≥ 3r inflates it by at most
# √(1 + 1/9) − 1 = 5.4%; at the widest of 4 log-spaced widths 64–4096 that moves the least-squares slope by
# 0.053 × 1.5 / (5 × ln 4) ≈ 0.012, under a tenth of the rules' ±0.25 tolerance.
ROUNDOFF_MARGIN = 3.0
DEFAULT_DEPTH = 3  # when the config does not say: the largest depth (2–3 hidden layers), the larger P
DATE = "2026-12-04"

# ---------------------------------------------------------------- helpers


def part_rows(table: pd.DataFrame, part: str, metric: str) -> pd.DataFrame:
    """The rows of one part and metric; MissingData if there are none."""
    if "part" in table.columns:
        return require(table, part=part, metric=metric)
    return require(table, metric=metric)


def median_interval(per_seed: pd.Series) -> tuple[int, float, float, float]:
    """(n, median, lo, hi): the median over seeds of a per-seed value with its 95% percentile bootstrap interval —
    `paired_difference` against 0, i.e. the same fixed-seed resampling every paired verdict uses."""
    s = pd.Series(per_seed, dtype=float)
    s = s[np.isfinite(s.to_numpy())]
    d = paired_difference(s, pd.Series(0.0, index=s.index), level=LEVEL)
    return d.n, d.median, d.lo, d.hi


def fmt_interval(n: int, med: float, lo: float, hi: float, spec: str = ".3g") -> str:
    if n == 0:
        return "n/a (no seeds)"
    return f"{med:{spec}} [{LEVEL:.0%} CI {lo:{spec}}, {hi:{spec}}; median over {n} seeds]"


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x; NaN with fewer than 2 usable points or a non-positive value."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2 or ok.sum() < len(x):
        return float("nan")  # a seed with a missing, zero or diverged value has no slope (dropped, counted)
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def per_seed_values(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """seed × `by` (width or alpha) matrix of values (the last step per cell, NaN where absent)."""
    rows = rows.sort_values("step")
    return rows.pivot_table(index="seed", columns=by, values="value", aggfunc="last").sort_index(axis=1)


def per_seed_slopes(values: pd.DataFrame) -> pd.Series:
    xs = values.columns.to_numpy(dtype=float)
    return pd.Series({seed: loglog_slope(xs, row.to_numpy(dtype=float)) for seed, row in values.iterrows()})


def _xs(values: pd.DataFrame, by: str) -> str:
    xs = values.columns.to_numpy(dtype=float)
    return f"{len(xs)} {'α values' if by == 'alpha' else by + 's'} {xs.min():g}–{xs.max():g}"


def band_status(lo: float, hi: float, band: tuple[float, float]) -> Status:
    """Interval inside the band: reproduced; entirely outside: not reproduced; across an edge: inconclusive."""
    if band[0] <= lo and hi <= band[1]:
        return Status.REPRODUCED
    if hi < band[0] or lo > band[1]:
        return Status.NOT_REPRODUCED
    return Status.INCONCLUSIVE


def below_status(lo: float, hi: float, bound: float) -> Status:
    """Interval entirely below `bound`: reproduced; entirely at or above it: not reproduced; else inconclusive."""
    if hi < bound:
        return Status.REPRODUCED
    if lo >= bound:
        return Status.NOT_REPRODUCED
    return Status.INCONCLUSIVE


def _powered(n: int, points: int, name: str) -> str | None:
    if n < MIN_SEEDS:
        return f"fewer than {MIN_SEEDS} seeds with a slope ({n})"
    if points < MIN_POINTS:
        return f"fewer than {MIN_POINTS} {'α values' if name == 'alpha' else name + 's'} ({points})"
    return None


def slope_part(
    values: pd.DataFrame, label: str, band: tuple[float, float] | None, *, below: float | None = None, by="width"
) -> Part:
    """The per-seed log-log slope's median and interval, tested against a band (or an upper bound)."""
    slopes = per_seed_slopes(values)
    n, med, lo, hi = median_interval(slopes)
    dropped = int(slopes.isna().sum())
    text = f"{label}: slope {fmt_interval(n, med, lo, hi)} over {_xs(values, by)}"
    if dropped:
        text += f" ({dropped} seed(s) without a slope: a missing, zero or non-finite value)"
    why = _powered(n, values.shape[1], by)
    if why:
        return Part(Status.INCONCLUSIVE, False, f"{text} (inconclusive: {why})")
    status = band_status(lo, hi, band) if band is not None else below_status(lo, hi, below)
    target = f"in [{band[0]:g}, {band[1]:g}]" if band is not None else f"below {below:g}"
    return Part(status, False, f"{text}, {target}: {status.value}")


def ratio_part(ratio: pd.Series, label: str, bound: float) -> Part:
    """A per-seed ratio at one point must be at most `bound`: its interval entirely ≤ bound holds, entirely above
    fails, across it is inconclusive."""
    n, med, lo, hi = median_interval(ratio)
    text = f"{label} {fmt_interval(n, med, lo, hi)}"
    if n < MIN_SEEDS:
        return Part(Status.INCONCLUSIVE, False, f"{text} (inconclusive: fewer than {MIN_SEEDS} seeds)")
    status = Status.REPRODUCED if hi <= bound else Status.NOT_REPRODUCED if lo > bound else Status.INCONCLUSIVE
    return Part(status, False, f"{text}, at most {bound:g}: {status.value}")


def verdict(parts: list[Part], held: str, otherwise: str) -> Verdict:
    status = combine([p.status for p in parts])
    return Verdict(status, "; ".join(p.measured for p in parts), held if status is Status.REPRODUCED else otherwise)


# ---------------------------------------------------------------- preconditions


def trained(part: str, metrics: tuple[str, ...], by: str, select=None):
    """Precondition check: every model's loss at its last step T is at most TRAINED_FRACTION of its loss at step 0,
    at every width (α) and in every seed; `select(table)`, where given, names the widths (α) the rule reads, and
    only those are checked. A NaN (diverged) loss fails."""

    def check(table: pd.DataFrame, cfg) -> Holds:
        failed, worst, total = [], 0.0, 0
        for metric in metrics:
            rows = part_rows(table, part, metric)
            if select is not None:
                rows = rows[rows[by].isin(select(table))]
            for (x, seed), g in rows.groupby([by, "seed"]):
                g = g.sort_values("step")
                start, end = g["value"].iloc[0], g["value"].iloc[-1]
                if g["step"].iloc[0] != 0 or len(g) < 2:
                    raise MissingData(f"{metric} at step 0 and a later step ({by} {x:g}, seed {seed})")
                ratio = end / start if start > 0 else float("nan")
                total += 1
                if not np.isfinite(ratio) or ratio > TRAINED_FRACTION:
                    failed.append(f"{metric} {by} {x:g} seed {seed}: {ratio:.3g}")
                else:
                    worst = max(worst, ratio)
        if failed:
            shown = "; ".join(failed[:6]) + (f"; and {len(failed) - 6} more" if len(failed) > 6 else "")
            return Holds(False, f"loss(T)/loss(0) above {TRAINED_FRACTION:g} in {len(failed)}/{total} runs: {shown}")
        return Holds(True, f"loss(T)/loss(0) ≤ {worst:.3g} in all {total} runs ({', '.join(metrics)})")

    return check


def _cfg_widths(cfg):
    exp = getattr(cfg, "experiment", None)
    return getattr(exp, "widths", None) if exp is not None else None


def roundoff_floor(width: float, cfg) -> tuple[float, str]:
    """ROUNDOFF_MARGIN × ε·√P for a kernel entry summed over the P parameters of the widest net: P = d·w + (L−1)·w² + w
    for L hidden layers of width w on d inputs (the spec's bias-free net). L, d and the float type come from
    cfg.experiment.widths where it has them; otherwise L = DEFAULT_DEPTH, d = 0 (the w² term dominates) and float32."""
    c = _cfg_widths(cfg)
    depth = int(getattr(c, "depth", DEFAULT_DEPTH) or DEFAULT_DEPTH)
    d = int(getattr(c, "d", 0) or 0)
    dtype = str(getattr(c, "dtype", "float32") or "float32")
    eps = float(np.finfo(np.float64 if "64" in dtype else np.float32).eps)
    p = d * width + (depth - 1) * width**2 + width
    return ROUNDOFF_MARGIN * eps * math.sqrt(p), f"{ROUNDOFF_MARGIN:g} × ε({dtype})·√P, P ≈ {p:.3g} parameters"


def above_roundoff(metric: str):
    """Precondition check: at the widest width, the metric exceeds the round-off floor in every seed."""

    def check(table: pd.DataFrame, cfg) -> Holds:
        rows = part_rows(table, "widths", metric)
        w = float(rows["width"].max())
        v = rows[rows["width"] == w]["value"].to_numpy(dtype=float)
        floor, how = roundoff_floor(w, cfg)
        if v.size == 0 or not np.isfinite(v).all():
            return Holds(None, f"{metric} at width {w:g} missing or non-finite")
        ok = bool(v.min() > floor)
        return Holds(ok, f"smallest {metric} at width {w:g}: {v.min():.3g} vs floor {floor:.2g} ({how})")

    return check


# ---------------------------------------------------------------- NTK1, NTK2


def ntk1_parts(table: pd.DataFrame, cfg) -> list[Part]:
    values = per_seed_values(part_rows(table, "widths", "ntk_err"), "width")
    return [slope_part(values, "ntk_err", NTK1_BAND)]


def _at_widest(values: pd.DataFrame, label: str) -> str:
    w = values.columns.max()
    return f"{label} at width {w:g}: {seed_stats(values[w]).fmt()}"


def check_ntk1(table: pd.DataFrame, cfg) -> Verdict:
    values = per_seed_values(part_rows(table, "widths", "ntk_err"), "width")
    parts = ntk1_parts(table, cfg)
    v = verdict(
        parts,
        "In the error-curve figure's ntk_err panel, the seed band falls parallel to the dashed slope −1/2 line; the "
        "fitted slope in the legend lies in [−0.75, −0.25].",
        "The ntk_err panel of the error-curve figure: the legend's fitted slope against the dashed −1/2 line; the rule "
        "needs the per-seed slopes' interval inside [−0.75, −0.25].",
    )
    return Verdict(v.status, f"{v.measured}; {_at_widest(values, 'ntk_err')}", v.detail)


def ntk2_parts(table: pd.DataFrame, cfg) -> list[Part]:
    values = per_seed_values(part_rows(table, "widths", "ntk_change"), "width")
    return [slope_part(values, "ntk_change", NTK2_BAND)]


def check_ntk2(table: pd.DataFrame, cfg) -> Verdict:
    values = per_seed_values(part_rows(table, "widths", "ntk_change"), "width")
    parts = ntk2_parts(table, cfg)
    n, med, _, _ = median_interval(per_seed_slopes(values))
    closer = (
        f"; the median slope is closer to {min(NTK2_REFERENCES, key=lambda r: abs(med - r)):g} "
        f"(Lee et al.: bound −1/2, measured ≈ −1)"
        if n
        else ""
    )
    extra = ""
    try:
        wc = per_seed_values(part_rows(table, "widths", "weight_change"), "width")
        wn, wm, wl, wh = median_interval(per_seed_slopes(wc))
        extra = f"; for information, weight_change slope {fmt_interval(wn, wm, wl, wh)}"
    except MissingData:
        pass
    v = verdict(
        parts,
        "In the error-curve figure's ntk_change panel, the kernel's relative change over training falls with width "
        "between the dashed −1/2 and dotted −1 lines; the fitted slope in the legend lies in [−1.25, −0.25].",
        "The ntk_change panel of the error-curve figure: the legend's fitted slope against the −1/2 (dashed) and −1 "
        "(dotted) lines; the rule needs the per-seed slopes' interval inside [−1.25, −0.25].",
    )
    return Verdict(v.status, f"{v.measured}{closer}; {_at_widest(values, 'ntk_change')}{extra}", v.detail)


# ---------------------------------------------------------------- NTK3, NTK4


def relative_error_parts(table: pd.DataFrame, metric: str) -> list[Part]:
    """(a) the per-seed slope of log metric against log width lies below 0; (b) metric / target_rms at the widest
    width, per seed, is at most SMALL_RMSE."""
    values = per_seed_values(part_rows(table, "widths", metric), "width")
    scale = per_seed_values(part_rows(table, "widths", "target_rms"), "width")
    falls = slope_part(values, metric, None, below=NTK_SLOPE_MAX)
    w = values.columns.max()
    if w not in scale.columns:
        raise MissingData(f"target_rms at width {w:g}")
    ratio = (values[w] / scale[w]).dropna()
    small = ratio_part(ratio, f"{metric}/target_rms at width {w:g}:", SMALL_RMSE)
    return [falls, small]


def check_ntk3(table: pd.DataFrame, cfg) -> Verdict:
    parts = relative_error_parts(table, "lin_rmse")
    return verdict(
        parts,
        "In the error-curve figure's lin_rmse panel, the network–linearised RMSE (relative to the targets' RMS) falls "
        f"with width and ends below {SMALL_RMSE:g} at the widest width; the 1-D slice shows the two curves on top of "
        "each other there.",
        f"The lin_rmse/target_rms panel of the error-curve figure: the rule needs a falling curve (slope's interval "
        f"below 0) that ends at most {SMALL_RMSE:g} at the widest width (its interval over seeds).",
    )


def check_ntk4(table: pd.DataFrame, cfg) -> Verdict:
    parts = relative_error_parts(table, "ker_rmse")
    v = verdict(
        parts,
        "In the error-curve figure's ker_rmse panel, the network–kernel-regression RMSE (relative to the targets' "
        f"RMS) falls with width and ends below {SMALL_RMSE:g} at the widest width; the 1-D slice shows the network on "
        "the analytic-kernel predictor there.",
        f"The ker_rmse/target_rms panel of the error-curve figure: the rule needs a falling curve (slope's interval "
        f"below 0) that ends at most {SMALL_RMSE:g} at the widest width (its interval over seeds).",
    )
    extra = ""
    try:
        inf = per_seed_values(part_rows(table, "widths", "ker_rmse_inf"), "width")
        scale = per_seed_values(part_rows(table, "widths", "target_rms"), "width")
        w = inf.columns.max()
        r = (inf[w] / scale[w]).dropna()
        extra = f"; for information, T → ∞ predictor: ker_rmse_inf/target_rms at width {w:g} {seed_stats(r).fmt()}"
    except (MissingData, KeyError):
        pass
    return Verdict(v.status, v.measured + extra, v.detail)


# ---------------------------------------------------------------- NTK5


def lazy_fit_alphas(alphas) -> list[float]:
    """The α that NTK5(a) and (b) fit: the largest LAZY_FIT_SHARE of the grid, at least MIN_POINTS of them."""
    a = sorted({float(x) for x in alphas if np.isfinite(x)})
    return a[-max(math.ceil(LAZY_FIT_SHARE * len(a)), MIN_POINTS) :]


def ntk5_alphas(table: pd.DataFrame) -> list[float]:
    """Every α the rule reads: the fitted ones, and the smallest and largest (NTK5(c))."""
    a = sorted(part_rows(table, "lazy", "test_loss")["alpha"].dropna().unique())
    fit = lazy_fit_alphas(part_rows(table, "lazy", "weight_change")["alpha"])
    return sorted(set(fit) | ({float(a[0]), float(a[-1])} if a else set()))


def ntk5_parts(table: pd.DataFrame, cfg) -> list[Part]:
    """(a) weight_change against α: slope in NTK5_BAND; (b) lin_dist falls with α and is at most NTK5_LIN_SMALL at the
    largest α; both over `lazy_fit_alphas`; (c) the paired test_loss(α_max) − test_loss(α_min) over seeds lies above
    0."""
    wc = per_seed_values(part_rows(table, "lazy", "weight_change"), "alpha")
    ld = per_seed_values(part_rows(table, "lazy", "lin_dist"), "alpha")
    tl = per_seed_values(part_rows(table, "lazy", "test_loss"), "alpha")
    a = slope_part(wc[lazy_fit_alphas(wc.columns)], "(a) weight_change against α", NTK5_BAND, by="alpha")
    b_falls = slope_part(
        ld[lazy_fit_alphas(ld.columns)], "(b) lin_dist against α", None, below=NTK_SLOPE_MAX, by="alpha"
    )
    top = ld.columns.max()
    b_small = ratio_part(ld[top].dropna(), f"(b) lin_dist at α = {top:g}:", NTK5_LIN_SMALL)
    lo_a, hi_a = tl.columns.min(), tl.columns.max()
    d = paired_difference(tl[hi_a], tl[lo_a])
    text = f"(c) test_loss(α = {hi_a:g}) − test_loss(α = {lo_a:g}) {d.fmt()}"
    if d.n < MIN_SEEDS or lo_a == hi_a:
        c = Part(Status.INCONCLUSIVE, False, f"{text} (inconclusive: fewer than {MIN_SEEDS} paired seeds or one α)")
    else:
        status = Status.REPRODUCED if d.above_zero else Status.NOT_REPRODUCED if d.below_zero else Status.INCONCLUSIVE
        c = Part(status, False, f"{text}, above 0: {status.value}")
    return [a, b_falls, b_small, c]


def check_ntk5(table: pd.DataFrame, cfg) -> Verdict:
    parts = ntk5_parts(table, cfg)
    return verdict(
        parts,
        "In the α figure, the relative weight change falls parallel to the dashed 1/α line, the distance to the "
        "linearised model falls to below 0.1 at the largest α, and the test loss at the largest α lies above the "
        "smallest α's: the paired per-seed difference has its interval above 0.",
        "The α figure: the rule needs the weight change's slope in [−1.5, −0.5], lin_dist falling to at most 0.1 at "
        "the largest α, and the paired test-loss difference (largest − smallest α) above 0.",
    )


# ---------------------------------------------------------------- rules and claims

SLOPE_STAT = (
    f"“Slope” is the per-seed least-squares slope of the log of the metric against the log of the width (α) over "
    f"every width (α) in the table; the statistic is its median over seeds with the {LEVEL:.0%} percentile "
    f"bootstrap interval (scipy.stats.bootstrap, fixed resampling seed). A part with fewer than {MIN_SEEDS} seeds or "
    f"{MIN_POINTS} widths (α) is inconclusive."
)
NTK1_RULE = (
    f"Relative Frobenius error ntk_err = ‖Θ̂_0 − Θ∞‖_F / ‖Θ∞‖_F on the training inputs. Reproduced if the slope's "
    f"interval lies inside [{NTK1_BAND[0]}, {NTK1_BAND[1]}] (closer to −1/2 than to 0, no convergence, or −1); not "
    f"reproduced if it lies entirely outside; inconclusive otherwise. {SLOPE_STAT}"
)
NTK2_RULE = (
    f"Relative kernel change ntk_change = ‖Θ̂_T − Θ̂_0‖_F / ‖Θ̂_0‖_F on the training inputs after T full-batch GD "
    f"steps. Reproduced if the slope's interval lies inside [{NTK2_BAND[0]}, {NTK2_BAND[1]}]: from Lee et al.'s "
    f"upper bound −1/2 (Thm 2.1) to −1, each ±0.25; not reproduced if entirely outside; "
    f"inconclusive otherwise. Reported: which of −1/2 and −1 the median is closer to. {SLOPE_STAT}"
)
_REL_RULE = (
    "(a) the slope of log {m} against log width has its interval below 0 (falls with width); (b) at the widest width, "
    "the per-seed ratio {m} / target_rms (the test targets' RMS, the output scale) has its interval over seeds at "
    f"most {SMALL_RMSE:g} (an RMSE an order of magnitude below the output scale: R² ≥ 0.99 against the targets' "
    "spread). Reproduced if both hold; not reproduced if either is contradicted (slope interval ≥ 0, or the ratio's "
    f"interval above {SMALL_RMSE:g}); inconclusive otherwise. "
)
NTK3_RULE = (
    "lin_rmse = RMSE over the test points between the network and its linearisation (Θ̂_0, f_0, same steps) at "
    "step T. " + _REL_RULE.format(m="lin_rmse") + SLOPE_STAT
)
NTK4_RULE = (
    "ker_rmse = RMSE over the test points between the network and the kernel-regression predictor with the analytic "
    "NTK Θ∞ trained by the same GD steps from f_0, at step T. "
    + _REL_RULE.format(m="ker_rmse")
    + "The T → ∞ predictor (ker_rmse_inf) is reported, not in the rule. "
    + SLOPE_STAT
)
NTK5_RULE = (
    f"On the lazy part (one width, outputs scaled by α, loss by 1/α²), (a) and (b) over the largest "
    f"{LAZY_FIT_SHARE:.0%} of the α grid (at least {MIN_POINTS} values; the theory is for α → ∞): (a) the slope of "
    f"log weight_change "
    f"(‖θ_T − θ_0‖/‖θ_0‖) against log α has its interval inside [{NTK5_BAND[0]}, {NTK5_BAND[1]}] (closer to −1 than "
    f"to 0 or −2); (b) lin_dist (RMSE to the linearised model trained the same way, / target_rms) has its slope "
    f"against log α below 0 and its interval at the largest α at most {NTK5_LIN_SMALL:g}; (c) the paired per-seed "
    f"difference test_loss(largest α) − test_loss(smallest α) has its {LEVEL:.0%} bootstrap interval above 0 (the "
    f"lazy model generalises worse). Reproduced only if every part holds; not reproduced if any part is "
    f"contradicted (a band or bound missed entirely, or the difference's interval below 0); inconclusive otherwise. "
    + SLOPE_STAT
)

TRAINED_TEXT = (
    f"Training reached the regime: every network's train_loss at step T is at most {TRAINED_FRACTION:.0%} of its "
    f"value at step 0, at every width and in every seed"
)
TRAINED_REMEDY = (
    "More GD steps (experiment.widths.steps) or a learning rate closer to Lee et al.'s critical 2/(λ_max + λ_min) "
    "(experiment.widths.lr_scale), so that every width fits its training data; a diverged narrow width needs a "
    "smaller lr_scale."
)
ROUNDOFF_REMEDY = (
    "Compute the empirical kernel in float64 (experiment.widths.dtype), or stop the width sweep before the error "
    "reaches the round-off floor."
)

CLAIMS = [
    Claim(
        "NTK1",
        "“While the NTK is random at initialization and varies during training, in the infinite-width limit it "
        "converges to an explicit limiting kernel” (Jacot et al.); for the fully connected ReLU network in the NTK "
        "parameterisation, the empirical NTK's relative Frobenius error on fixed inputs falls about as "
        "width^(−1/2).",
        "Jacot, Gabriel & Hongler 2018 (arXiv 1806.07572), abstract, Theorem 1 and Fig. 1 (kernels at widths 500 and "
        "10000); analytic ReLU NTK: Arora et al. 2019 (arXiv 1904.11955) §3, eq. (4)–(5), Theorem 3.1",
        check_ntk1,
        paper_value="no rate in Jacot et al.; width^(−1/2) (central limit theorem, the issue); Arora et al. Thm 3.1 "
        "guarantees O(width^(−1/4)) up to logs",
        rule=NTK1_RULE,
        preconditions=(
            Precondition(
                "The error is measurable: at the widest width, ntk_err exceeds the round-off floor of the empirical "
                "kernel in every seed",
                above_roundoff("ntk_err"),
                ROUNDOFF_REMEDY,
            ),
        ),
    ),
    Claim(
        "NTK2",
        "Under full-batch gradient descent with a learning rate below the critical one, “sup_t ‖Θ̂_t − Θ̂_0‖_F = "
        "O(n^(−1/2))” (Lee et al. Thm 2.1); the NTK “stays constant during training” in the infinite-width limit "
        "(Jacot et al.); Lee et al.'s Fig. 1 plots the measured change against width.",
        "Lee et al. 2019 (arXiv 1902.06720), Theorem 2.1 (§2.4) and Fig. 1; Jacot et al. 2018 (arXiv 1806.07572), "
        "Theorem 2",
        check_ntk2,
        paper_value="upper bound n^(−1/2) (Lee Thm 2.1)",
        rule=NTK2_RULE,
        preconditions=(
            Precondition(TRAINED_TEXT, trained("widths", ("train_loss",), "width"), TRAINED_REMEDY),
            Precondition(
                "The change is measurable: at the widest width, ntk_change exceeds the round-off floor of the "
                "empirical kernel in every seed",
                above_roundoff("ntk_change"),
                ROUNDOFF_REMEDY,
            ),
        ),
    ),
    Claim(
        "NTK3",
        "“As the width becomes large, the neural network can be effectively replaced by its first-order Taylor "
        "expansion with respect to its parameters at initialization”; “sup_t ‖f_t^lin(x) − f_t(x)‖ = O(n^(−1/2))” "
        "under gradient descent below the critical learning rate; “we nevertheless find excellent agreement between "
        "the predictions of the original network and those of the linearized version even for finite "
        "practically-sized networks”.",
        "Lee et al. 2019 (arXiv 1902.06720), §1, Theorem 2.1 (§2.4), and their width sweeps of the RMSE between the "
        "network's and the linearised model's outputs (§3)",
        check_ntk3,
        paper_value="O(n^(−1/2)) bound (Thm 2.1); “excellent agreement” (no number)",
        rule=NTK3_RULE,
        preconditions=(
            Precondition(
                TRAINED_TEXT + ", and the same for the linearised model (train_loss_lin)",
                trained("widths", ("train_loss", "train_loss_lin"), "width"),
                TRAINED_REMEDY,
            ),
        ),
    ),
    Claim(
        "NTK4",
        "In the infinite-width limit the network function follows the kernel gradient descent of the limiting NTK, "
        "whose solution under the least-squares cost is kernel regression (Jacot et al. §5); for ReLU nets, the "
        "trained network's prediction is within ε of the kernel-regression predictor with the analytic NTK once the "
        "width is large enough (Arora et al. Thm 3.2).",
        "Jacot et al. 2018 (arXiv 1806.07572), Theorem 2 and §5 (least-squares regression); Arora et al. 2019 (arXiv "
        "1904.11955), Theorem 3.2; the predictor at finite T from f_0: Lee et al. 2019 (arXiv 1902.06720) §2.3",
        check_ntk4,
        paper_value="qualitative (equivalence in the limit; |f_nn − f_ntk| ≤ ε, Arora Thm 3.2)",
        rule=NTK4_RULE,
        preconditions=(Precondition(TRAINED_TEXT, trained("widths", ("train_loss",), "width"), TRAINED_REMEDY),),
    ),
    Claim(
        "NTK5",
        "“Lazy training” is “due to a choice of scaling, often implicit, that makes the model behave as its "
        "linearization around the initialization”: with the model scaled by α and the loss by 1/α², the parameters "
        "move by O(1/α) and the lazy and linearised paths stay within O(1/α); “the performance of commonly used "
        "non-linear deep convolutional neural networks in computer vision degrades when trained in the lazy regime”. "
        "Here: a two-layer teacher–student regression, as in the paper's shallow experiment, where the teacher's few "
        "directions (features) matter.",
        "Chizat, Oyallon & Bach 2019 (arXiv 1812.07956), abstract, §2 (Theorems 2.2–2.4: O(1/α) bounds), §3 "
        "numerical experiments (two-layer teacher–student; VGG on CIFAR-10 α sweep)",
        check_ntk5,
        paper_value="‖w − w_0‖ = O(1/α); lazy test performance worse (qualitative)",
        rule=NTK5_RULE,
        preconditions=(
            Precondition(
                f"The compared models fit their training data (Chizat et al. compare trained models): train_loss at "
                f"step T at most {TRAINED_FRACTION:.0%} of its value at step 0 for every α the rule reads (the "
                f"fitted α, the smallest and the largest) and every seed",
                trained("lazy", ("train_loss",), "alpha", ntk5_alphas),
                "More GD steps (experiment.lazy.teacher.steps; experiment.lazy.vgg.epochs at paper scale), so that the "
                "smallest (feature-learning) and the largest "
                "(lazy) α both fit the training data.",
            ),
        ),
    ),
]
