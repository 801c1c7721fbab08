"""The NTK figures: error curves against width with slope fits and seed bands (after Lee et al. 2019 Fig. 1), the
trained network against its linearisation and the analytic-kernel predictor on a 1-D slice of the sphere (after
Jacot et al. 2018 Fig. 2), and the lazy-training α sweep (after Chizat et al. 2019).

Every figure is built from the aggregated tidy table alone. A piece the table lacks (a part not run, a metric absent
at smoke scale) drops that panel or figure instead of failing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.experiments.ntk.claims import (
    NTK1_BAND,
    NTK2_BAND,
    NTK5_BAND,
    SMALL_RMSE,
    lazy_fit_alphas,
    median_interval,
    per_seed_slopes,
    per_seed_values,
)
from repro.report.figures import Figure, style

COLOURS = {
    "net": "#1b1b1b",
    "lin": "#2166ac",
    "ker": "#b2182b",
    "target": "#7f7f7f",
}
PANEL_COLOURS = ("#2166ac", "#762a83", "#1b7837", "#b2182b")


def figures(table: pd.DataFrame, cfg) -> list[Figure]:
    style()
    out = []
    for make in (width_curves, slice_figure, alpha_figure):
        f = make(table, cfg)
        if f is not None:
            out.append(f)
    return out


def _rows(table: pd.DataFrame, part: str, metric: str) -> pd.DataFrame:
    if "metric" not in table.columns:
        return table.iloc[0:0]
    t = table[table["metric"] == metric]
    if "part" in t.columns:
        t = t[t["part"] == part]
    return t


def _values(table: pd.DataFrame, part: str, metric: str, by: str, scale: str | None = None) -> pd.DataFrame | None:
    """seed × width (α) matrix of a metric, divided per seed and point by `scale` (a metric) where given."""
    rows = _rows(table, part, metric)
    if rows.empty or by not in rows.columns:
        return None
    v = per_seed_values(rows, by)
    if scale is not None:
        s = _rows(table, part, scale)
        if s.empty:
            return None
        v = v / per_seed_values(s, by).reindex(index=v.index, columns=v.columns)
    v = v.where(v > 0)
    return v if v.notna().any().any() else None


def _band(
    ax, v: pd.DataFrame, colour: str, label: str, ref: tuple[float, ...] = (-0.5,), base: int = 2, fit=None
) -> str:
    """Median over seeds (line) and min–max (band) on log-log axes; the fitted slope (over the columns `fit`, all by
    default) in the label; reference slopes through the median's first fitted point, over the fitted range."""
    x = v.columns.to_numpy(dtype=float)
    med, lo, hi = v.median().to_numpy(), v.min().to_numpy(), v.max().to_numpy()
    ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
    f = v if fit is None else v[list(fit)]
    n, m, a, b = median_interval(per_seed_slopes(f)) if f.shape[1] >= 2 else (0, np.nan, np.nan, np.nan)
    slope = f"slope {m:.2f} [{a:.2f}, {b:.2f}]" if n else "slope n/a"
    if fit is not None and f.shape[1] < v.shape[1]:
        slope += f" over α ≥ {f.columns.min():g}"
    ax.plot(x, med, color=colour, marker="o", ms=4, lw=1.8, label=f"{label}: {slope}", zorder=3)
    xf = f.columns.to_numpy(dtype=float)
    mf = f.median().to_numpy()
    for r, ls in zip(ref, ("--", ":")):
        ok = np.isfinite(mf)
        if ok.any():
            x0, y0 = xf[ok][0], mf[ok][0]
            ax.plot(xf, y0 * (xf / x0) ** r, color="black", ls=ls, lw=0.9, label=f"slope {r:g}", zorder=2)
    ax.set_xscale("log", base=base)
    ax.set_yscale("log")
    return slope


# ---------------------------------------------------------------- figure 1: error curves against width

WIDTH_PANELS = (
    ("ntk_err", None, "‖Θ̂₀ − Θ∞‖_F / ‖Θ∞‖_F", "NTK1: kernel at init", (-0.5,)),
    ("ntk_change", None, "‖Θ̂_T − Θ̂₀‖_F / ‖Θ̂₀‖_F", "NTK2: kernel change in training", (-0.5, -1.0)),
    ("lin_rmse", "target_rms", "RMSE(net, linearised) / target RMS", "NTK3: network vs linearisation", (-0.5,)),
    ("ker_rmse", "target_rms", "RMSE(net, kernel regression) / target RMS", "NTK4: network vs analytic NTK", (-0.5,)),
)


def width_curves(table: pd.DataFrame, cfg) -> Figure | None:
    panels = [(p, v) for p in WIDTH_PANELS if (v := _values(table, "widths", p[0], "width", p[1])) is not None]
    if not panels:
        return None
    ncol = min(2, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.3 * nrow), squeeze=False, constrained_layout=True)
    for ax, ((_, scale, ylabel, title, ref), v), colour in zip(axes.flat, panels, PANEL_COLOURS):
        _band(ax, v, colour, "median over seeds", ref)
        if scale is not None:
            ax.axhline(SMALL_RMSE, color="grey", ls="-.", lw=1, label=f"bound {SMALL_RMSE:g} (widest width)")
        ws = v.columns.to_numpy(dtype=float)
        ax.set_xticks(ws, [f"{int(w)}" for w in ws])
        ax.minorticks_off()
        ax.set_xlabel("width")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=7, frameon=True)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    n_seeds = int(max(v.shape[0] for _, v in panels))
    return Figure(
        "ntk_width_curves",
        fig,
        f"NTK1–NTK4, errors against width on log-log axes. Lines: median over {n_seeds} seed(s); bands: min to max "
        f"over seeds; the legend gives the median of the per-seed least-squares slopes with its 95% bootstrap "
        f"interval. Dashed: slope −1/2 through the first median point (the width^(−1/2) rate); dotted (kernel "
        f"change): slope −1, the rate Lee et al. measured. NTK1 needs the ntk_err slope in "
        f"[{NTK1_BAND[0]}, {NTK1_BAND[1]}], NTK2 the ntk_change slope in [{NTK2_BAND[0]}, {NTK2_BAND[1]}]; NTK3 and "
        f"NTK4 need falling curves that end below the dash-dotted bound {SMALL_RMSE:g} at the widest width.",
    )


# ---------------------------------------------------------------- figure 2: the 1-D slice


SLICE = (
    ("slice_target", "target", "target", "-", 2.4),
    ("slice_ker", "ker", "kernel regression (Θ∞)", "-", 1.6),
    ("slice_lin", "lin", "linearised network", "--", 1.6),
    ("slice_net", "net", "trained network", ":", 1.8),
)


def slice_figure(table: pd.DataFrame, cfg) -> Figure | None:
    rows = table[table["metric"].isin([m for m, *_ in SLICE])] if "metric" in table.columns else table.iloc[0:0]
    if "part" in rows.columns:
        rows = rows[rows["part"] == "widths"]
    if rows.empty or not {"angle", "width", "seed"} <= set(rows.columns):
        return None
    seed = rows["seed"].min()
    rows = rows[rows["seed"] == seed]
    widths = sorted(rows["width"].unique())
    shown = [widths[0], widths[-1]] if len(widths) > 1 else widths
    fig, axes = plt.subplots(
        1, len(shown), figsize=(4.6 * len(shown), 3.5), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, w in zip(axes.flat, shown):
        g = rows[rows["width"] == w]
        for metric, key, label, ls, lw in SLICE:
            m = g[g["metric"] == metric].sort_values("angle")
            if m.empty:
                continue
            alpha = 0.6 if key == "target" else 1.0
            ax.plot(m["angle"], m["value"], color=COLOURS[key], ls=ls, lw=lw, label=label, alpha=alpha)
        ax.set_title(f"width {int(w)}")
        ax.set_xlabel("angle γ on the great circle cos γ e₁ + sin γ e₂ (rad)")
    axes.flat[0].set_ylabel("prediction at step T")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False)
    return Figure(
        "ntk_slice",
        fig,
        f"NTK3 and NTK4 on a 1-D slice of the input sphere (seed {int(seed)}): the target (grey), the trained "
        f"network (black dotted), its linearisation trained by the same GD steps (blue dashed) and the kernel "
        f"regression with the analytic NTK from the same initial outputs (red), at the final step T, at the "
        f"narrowest and the widest width with slice rows. At the widest width the three predictors should lie on "
        f"top of each other; at the narrow width they may part.",
    )


# ---------------------------------------------------------------- figure 3: the α sweep


def alpha_figure(table: pd.DataFrame, cfg) -> Figure | None:
    wc = _values(table, "lazy", "weight_change", "alpha")
    ld = _values(table, "lazy", "lin_dist", "alpha")
    tl = _values(table, "lazy", "test_loss", "alpha")
    panels = [p for p in (("wc", wc), ("ld", ld), ("tl", tl)) if p[1] is not None]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.3), squeeze=False, constrained_layout=True)
    for ax, (kind, v) in zip(axes.flat, panels):
        x = v.columns.to_numpy(dtype=float)
        if kind == "wc":
            _band(ax, v, PANEL_COLOURS[0], "median over seeds", (-1.0,), base=10, fit=lazy_fit_alphas(v.columns))
            ax.set_ylabel("‖θ_T − θ₀‖ / ‖θ₀‖")
            ax.set_title("NTK5(a): relative weight change")
        elif kind == "ld":
            _band(ax, v, PANEL_COLOURS[1], "median over seeds", (-1.0,), base=10, fit=lazy_fit_alphas(v.columns))
            ax.axhline(SMALL_RMSE, color="grey", ls="-.", lw=1, label=f"bound {SMALL_RMSE:g} (largest α)")
            ax.set_ylabel("RMSE(α-model, linearised) / target RMS")
            ax.set_title("NTK5(b): distance to the linearisation")
        else:
            ax.fill_between(x, v.min().to_numpy(), v.max().to_numpy(), color=PANEL_COLOURS[3], alpha=0.2, lw=0)
            for _, s in v.iterrows():
                ax.plot(x, s.to_numpy(), color=PANEL_COLOURS[3], lw=0.6, alpha=0.5)
            ax.plot(x, v.median().to_numpy(), color=PANEL_COLOURS[3], marker="o", ms=4, lw=1.8, label="median")
            ax.plot([], [], color=PANEL_COLOURS[3], lw=0.6, alpha=0.5, label="single seeds")
            ax.set_xscale("log")
            ax.set_ylabel("test loss (MSE)")
            ax.set_title("NTK5(c): generalisation")
        ax.set_xticks(x, [f"{a:g}" for a in x])
        ax.minorticks_off()
        ax.set_xlabel("output scale α")
        ax.legend(loc="best", fontsize=7, frameon=True)
    n_seeds = int(max(v.shape[0] for _, v in panels))
    width = _rows(table, "lazy", "weight_change")["width"]
    at = f" at width {int(width.iloc[0])}" if len(width) and np.isfinite(width.iloc[0]) else ""
    return Figure(
        "ntk_lazy_alpha",
        fig,
        f"NTK5, lazy training{at}: the model's output scaled by α and the loss by 1/α² (Chizat, Oyallon & Bach "
        f"2019). Left: relative weight change at step T against α on log-log axes, median over {n_seeds} seed(s) "
        f"with a min–max band and the slope fitted over the largest half of the α grid (median of per-seed "
        f"slopes, 95% interval; the theory is for large α); dashed: slope −1, the O(1/α) of the theory (the rule "
        f"needs the slope in [{NTK5_BAND[0]}, {NTK5_BAND[1]}]). Middle: the distance to the model's linearisation "
        f"trained the same way, relative to the targets' RMS; over the same α it should fall, to at most "
        f"{SMALL_RMSE:g} at the largest α. Right: test loss against α (thin lines: single seeds); Chizat et al. "
        f"find the lazy (large-α) model generalises worse, so the right end should lie above the left in each seed.",
    )


all_figures = figures  # the name the experiment's __init__ calls (the contract's `figures` hook wraps it)
