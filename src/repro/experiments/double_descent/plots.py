"""The double-descent figures, after the papers': model-wise curves with the interpolation threshold
(Nakkiran et al. 2019, Fig. 1/4), random features against N/n (Belkin et al. 2019, Fig. 1/2), sample-wise
non-monotonicity (Nakkiran Fig. 11/12), the remedies (early stopping, ensembles), epoch-wise double
descent (Nakkiran Fig. 9/10), and the image-scale width sweeps (paper scale only).

Every figure is built from the aggregated tidy table. A piece the table lacks (few widths, epochs or seeds
at smoke scale, no image shards below paper scale) drops that panel or figure instead of failing.
Lines are medians over seeds (seed >= 0); shaded bands run from the smallest to the largest seed.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from repro.experiments.double_descent.claims import INTERPOLATED as INTERP_TRAIN_ERROR  # one definition
from repro.experiments.double_descent.claims import peak_index, prominence
from repro.report.figures import Figure, style

SAMPLEWISE_NOISE = 0.15  # the label noise of the sample-wise comparison when both n were run at it
N_COLOURS = ("#1b9e77", "#d95f02")  # the two training-set sizes: n (smaller), 2n (larger)


def all_figures(table: pd.DataFrame, cfg) -> list[Figure]:
    style()
    figs = []
    for make in (dd_modelwise, dd_rf, dd_samplewise, dd_remedies, dd_epochwise, dd_paper):
        f = make(table, cfg)
        if f is not None:
            figs.append(f)
    return figs


# ---------------------------------------------------------------- table access


def _cfg(cfg, path: str, default=None):
    """cfg.experiment.<path>, or `default` when the config lacks it."""
    node = getattr(cfg, "experiment", None)
    for part in path.split("."):
        if node is None:
            return default
        try:
            node = getattr(node, part)
        except AttributeError:
            return default
    return default if node is None else node


def _part(table: pd.DataFrame, prefix: str, column: str) -> pd.DataFrame:
    """Rows of the shards whose name starts with `prefix` (or, without a shard column, the rows that have
    `column`), with the columns that are all NaN there dropped."""
    if table.empty or not {"metric", "value"} <= set(table.columns):
        return table.iloc[0:0]
    if "shard" in table.columns:
        t = table[table["shard"].astype(str).str.startswith(prefix)]
    elif column in table.columns:
        t = table[table[column].notna()]
    else:
        return table.iloc[0:0]
    return t.dropna(axis=1, how="all")


def _mlp(table: pd.DataFrame) -> pd.DataFrame:
    t = _part(table, "mlp", "width")
    return t if {"n_train", "noise", "width", "seed", "step"} <= set(t.columns) else t.iloc[0:0]


def _final(t: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """The rows at the last recorded step of each group (a shard, or a sweep curve)."""
    if t.empty:
        return t
    last = t.groupby(group, dropna=False)["step"].transform("max")
    return t[t["step"] == last]


def _seeds(t: pd.DataFrame) -> pd.DataFrame:
    return t[t["seed"] >= 0] if "seed" in t.columns else t


def _band(t: pd.DataFrame, x: str) -> pd.DataFrame:
    """Median, min and max over seeds of `value` at each x (x sorted), index = x."""
    s = _seeds(t).groupby(x)["value"]
    return pd.DataFrame({"median": s.median(), "lo": s.min(), "hi": s.max()}).sort_index()


def _draw(
    ax,
    b: pd.DataFrame,
    colour,
    label: str | None,
    ls: str = "-",
    marker: str | None = "o",
    band: bool = True,
    lw: float = 1.6,
):
    x = b.index.to_numpy(dtype=float)
    if band and len(b) > 1:
        ax.fill_between(x, b["lo"].to_numpy(dtype=float), b["hi"].to_numpy(dtype=float), color=colour, alpha=0.18, lw=0)
    (line,) = ax.plot(
        x, b["median"].to_numpy(dtype=float), color=colour, ls=ls, lw=lw, marker=marker, ms=3.5, label=label
    )
    return line


def interpolation_threshold(train: pd.DataFrame, x: str) -> float | None:
    """The smallest x whose median final train error is at most INTERP_TRAIN_ERROR (None: never reached)."""
    if train.empty:
        return None
    med = _band(train, x)["median"]
    hit = med[med <= INTERP_TRAIN_ERROR]
    return float(hit.index[0]) if len(hit) else None


def peak_of(curve: pd.Series) -> float | None:
    """The x of the peak as the claims define it: the top of the largest rise above a preceding minimum
    (None when the curve never rises)."""
    v = curve.to_numpy(dtype=float)
    if v.size < 2 or prominence(v)[0] <= 0:
        return None
    return float(curve.index[peak_index(v)[0]])


def _noise_colours(noises) -> dict:
    """No label noise in dark blue up to the most noise in yellow-green (viridis)."""
    noises = sorted(noises)
    pal = sns.color_palette("viridis", n_colors=max(len(noises), 2))
    return dict(zip(noises, pal))


def _pct(p: float) -> str:
    return f"{p:.0%}" if p * 100 == round(p * 100) else f"{p:.1%}"


def _model_n(mlp: pd.DataFrame, cfg) -> int | None:
    """The n of the model-wise sweeps: mlp.n_train if the table has it, else the largest n present."""
    ns = sorted(mlp["n_train"].dropna().unique())
    if not ns:
        return None
    n = _cfg(cfg, "mlp.n_train")
    return n if n is not None and n in ns else ns[-1]


def _log_axis(axis, values=None) -> None:
    """Log scale with plain numbers: ticks at the sweep's values when there are few, else at powers of ten
    without the crowded minor labels."""
    if axis is axis.axes.xaxis:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    xs = np.sort(np.unique(np.asarray(values, dtype=float))) if values is not None else np.array([])
    xs = xs[np.isfinite(xs) & (xs > 0)]
    if 1 < len(xs) <= 12:
        axis.set_ticks(xs, [f"{x:g}" for x in xs])
        axis.set_minor_locator(NullLocator())
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _log_width_axis(ax, xs, label: str) -> None:
    _log_axis(ax.xaxis, xs)
    ax.set_xlabel(label)


def _step_axis(ax, steps) -> None:
    if np.nanmin(np.asarray(steps, dtype=float)) <= 0:
        ax.set_xscale("symlog", linthresh=1, linscale=0.4)
        ax.set_xlim(left=0)
    else:
        _log_axis(ax.xaxis, steps)
    ax.set_xlabel("epoch")


# ---------------------------------------------------------------- model-wise (MLP widths)


def dd_modelwise(table: pd.DataFrame, cfg) -> Figure | None:
    mlp = _mlp(table)
    if mlp.empty:
        return None
    n = _model_n(mlp, cfg)
    t = _final(mlp[mlp["n_train"] == n], ["noise"])
    test, train = t[t.metric == "test_error"], t[t.metric == "train_error"]
    if test.empty:
        return None
    noises = sorted(test["noise"].unique())
    colours = _noise_colours(noises)
    fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
    notes = []
    for p in noises:
        c = colours[p]
        b = _band(test[test.noise == p], "width")
        _draw(ax, b, c, f"test, noise {_pct(p)}")
        tr = train[train.noise == p]
        if not tr.empty:
            _draw(ax, _band(tr, "width"), c, f"train, noise {_pct(p)}", ls="--", marker=None, lw=1.2)
        thr = interpolation_threshold(tr, "width")
        if thr is not None:
            ax.axvline(thr, color=c, ls=":", lw=1.4)
        peak = peak_of(b["median"])
        if peak is not None:
            ax.scatter(
                [peak],
                [b["median"][peak]],
                s=90,
                marker="*",
                color=c,
                edgecolors="black",
                linewidths=0.6,
                zorder=4,
                gid="peak",
            )
        notes.append(
            f"noise {_pct(p)}: threshold h = {'none' if thr is None else f'{thr:g}'}, "
            f"peak h = {'none' if peak is None else f'{peak:g}'}"
        )
    _log_width_axis(ax, test["width"], "hidden width h (MLP 40-h-h-10)")
    ax.set_ylabel("error (final epoch)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=7, ncol=2 if len(noises) > 2 else 1, frameon=True)
    ax.set_title(f"model-wise double descent, MNIST-1D, n = {int(n)}")
    n_seeds = _seeds(test)["seed"].nunique()
    return Figure(
        "dd_modelwise",
        fig,
        f"Model-wise double descent (after Nakkiran et al. 2019, Fig. 1). Test error (solid) and train error "
        f"(dashed) of the MLP 40-h-h-10 at the final epoch against its hidden width h (log scale), "
        f"trained on n = {int(n)} MNIST-1D examples, one colour per label-noise level. Lines: median over "
        f"{n_seeds} seed(s); bands: min to max. The dotted vertical line of each colour is the interpolation "
        f"threshold: the smallest width whose median train error is at most {INTERP_TRAIN_ERROR:.0%}. "
        f"Stars mark the peak as the claims define it: the top of the largest rise of the median test "
        f"error (none when the curve has no bump). Double descent predicts the peak at or near the "
        f"threshold, higher with more label noise. " + "; ".join(notes) + ".",
    )


# ---------------------------------------------------------------- random features


def _rf(table: pd.DataFrame) -> pd.DataFrame:
    t = _part(table, "rf", "n_features")
    if t.empty or not {"n_train", "n_features"} <= set(t.columns):
        return t.iloc[0:0]
    t = t.copy()
    if "ratio" not in t.columns or t["ratio"].isna().any():
        t["ratio"] = t["n_features"] / t["n_train"].min()
    return t


def dd_rf(table: pd.DataFrame, cfg) -> Figure | None:
    rf = _rf(table)
    if rf.empty or not rf.metric.isin(["test_mse", "test_error"]).any():
        return None
    ns = sorted(rf["n_train"].unique())
    n0 = ns[0]
    colours = dict(zip(ns, N_COLOURS if len(ns) <= 2 else sns.color_palette("colorblind", len(ns))))
    panels = [
        (m, lab, log)
        for m, lab, log in (("test_mse", "test MSE", True), ("test_error", "test error", False))
        if (rf.metric == m).any()
    ]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels) + 0.4, 3.6), squeeze=False, constrained_layout=True
    )
    for ax, (metric, label, log) in zip(axes.flat, panels):
        g = rf[rf.metric == metric]
        for n in ns:
            b = _band(g[g.n_train == n], "ratio")
            if b.empty:
                continue
            if log:
                b = b.clip(lower=1e-12)
            _draw(ax, b, colours[n], f"n = {int(n)}", marker=None)
            ax.axvline(n / n0, color=colours[n], ls=":", lw=1.4)
        _log_axis(ax.xaxis, g["ratio"])
        if log:
            _log_axis(ax.yaxis)
        else:
            ax.set_ylim(bottom=0)
        ax.set_xlabel(f"N / {int(n0)}  (random features per smallest n)")
        ax.set_ylabel(label)
        ax.set_title(label)
    axes.flat[0].legend(loc="best", fontsize=7, frameon=True)
    n_seeds = _seeds(rf)["seed"].nunique()
    return Figure(
        "dd_rf",
        fig,
        f"Random-feature double descent (after Belkin et al. 2019, Fig. 2). Minimum-norm least-squares fit "
        f"on N random features, against N divided by the smaller training-set size n = {int(n0)} (log "
        f"scale), one colour per training-set size. Left: test MSE (log scale); right: test classification "
        f"error. Lines: median over {n_seeds} seed(s); bands: min to max. Dotted lines mark the "
        f"interpolation threshold N = n of each size. Double descent predicts a peak at N = n and a "
        f"second descent beyond it.",
    )


# ---------------------------------------------------------------- sample-wise


def _shared_noise(mlp: pd.DataFrame, ns: list) -> float | None:
    """SAMPLEWISE_NOISE if every n in `ns` was run at it; else the largest noise shared by all of them."""
    shared = None
    for n in ns:
        got = set(mlp[(mlp.n_train == n) & (mlp.metric == "test_error")]["noise"].unique())
        shared = got if shared is None else shared & got
    if not shared:
        return None
    return SAMPLEWISE_NOISE if SAMPLEWISE_NOISE in shared else max(shared)


def _samplewise_ns(mlp: pd.DataFrame, cfg) -> list:
    present = sorted(mlp["n_train"].dropna().unique())
    want = [_cfg(cfg, "mlp.sample_wise_n"), _cfg(cfg, "mlp.n_train")]
    ns = sorted({n for n in want if n is not None and n in present})
    return ns if len(ns) == 2 else present


def dd_samplewise(table: pd.DataFrame, cfg) -> Figure | None:
    mlp, rf = _mlp(table), _rf(table)
    panels = []
    noise = None
    if not mlp.empty:
        ns = _samplewise_ns(mlp, cfg)
        noise = _shared_noise(mlp, ns) if len(ns) >= 2 else None
        if noise is not None:
            panels.append("mlp")
    rf_test = rf[rf.metric == "test_mse"] if not rf.empty else rf
    if not rf_test.empty and rf_test["n_train"].nunique() >= 2:
        panels.append("rf")
    if not panels:
        return None
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels) + 0.4, 3.6), squeeze=False, constrained_layout=True
    )
    notes = []
    for ax, panel in zip(axes.flat, panels):
        if panel == "mlp":
            x = "params" if "params" in mlp.columns else "width"
            t = _final(mlp[(mlp.noise == noise) & mlp.n_train.isin(ns)], ["n_train"])
            t = t[t.metric == "test_error"]
            for n, c in zip(ns, N_COLOURS if len(ns) <= 2 else sns.color_palette("colorblind", len(ns))):
                b = _band(t[t.n_train == n], x)
                _draw(ax, b, c, f"n = {int(n)}")
                peak = peak_of(b["median"])
                if peak is not None:
                    ax.scatter(
                        [peak],
                        [b["median"][peak]],
                        s=90,
                        marker="*",
                        color=c,
                        edgecolors="black",
                        linewidths=0.6,
                        zorder=4,
                        gid="peak",
                    )
                    ax.axvline(peak, color=c, ls=":", lw=1.0)
                notes.append(f"MLP n = {int(n)}: peak at {'none' if peak is None else f'{peak:g}'} {x}")
            _log_axis(ax.xaxis)
            ax.set_xlabel("parameters" if x == "params" else "hidden width h")
            ax.set_ylabel("test error (final epoch)")
            ax.set_ylim(bottom=0)
            ax.set_title(f"MLP, label noise {_pct(noise)}")
        else:
            rns = sorted(rf_test["n_train"].unique())
            for n, c in zip(rns, N_COLOURS if len(rns) <= 2 else sns.color_palette("colorblind", len(rns))):
                b = _band(rf_test[rf_test.n_train == n], "n_features").clip(lower=1e-12)
                _draw(ax, b, c, f"n = {int(n)}", marker=None)
                ax.axvline(n, color=c, ls=":", lw=1.4)
            _log_axis(ax.xaxis, rf_test["n_features"])
            _log_axis(ax.yaxis)
            ax.set_xlabel("random features N")
            ax.set_ylabel("test MSE")
            ax.set_title("random features")
        ax.legend(loc="best", fontsize=7, frameon=True)
    parts = []
    if "mlp" in panels:
        parts.append(
            f"{'Left' if len(panels) > 1 else 'The panel'}: test error of the MLP at the final epoch "
            f"against its parameter count (log scale), label noise {_pct(noise)}, for the two training-set "
            f"sizes; stars and dotted lines mark each curve's peak (the top of its largest rise)."
        )
    if "rf" in panels:
        parts.append(
            f"{'Right' if len(panels) > 1 else 'The panel'}: random-feature test MSE against the number of "
            f"features N (not the ratio; log-log), dotted lines at N = n."
        )
    return Figure(
        "dd_samplewise",
        fig,
        "Sample-wise non-monotonicity (after Nakkiran et al. 2019, Fig. 11). "
        + " ".join(parts)
        + " Lines: medians over seeds; bands: min to max. More data moves the peak to larger models, so in a "
        "window of sizes more data gives a higher test error. " + "; ".join(notes) + ("." if notes else ""),
    )


# ---------------------------------------------------------------- remedies: early stopping and ensembles


def dd_remedies(table: pd.DataFrame, cfg) -> Figure | None:
    mlp = _mlp(table)
    if mlp.empty:
        return None
    n = _model_n(mlp, cfg)
    ns = _samplewise_ns(mlp, cfg)
    noise = _shared_noise(mlp, ns) if len(ns) >= 2 else None
    at_n = mlp[mlp.n_train == n]
    present = set(at_n[at_n.metric == "test_error"]["noise"].unique())
    if noise is None or noise not in present:
        noise = SAMPLEWISE_NOISE if SAMPLEWISE_NOISE in present else (max(present) if present else None)
    if noise is None:
        return None
    g = at_n[at_n.noise == noise]
    test = _seeds(g[g.metric == "test_error"])
    final = _final(test, ["noise"])
    early = test.groupby(["width", "seed"], as_index=False)["value"].min()
    ens = g[(g.metric == "ensemble_test_error") | ((g.metric == "test_error") & (g.seed < 0))]
    ens = _final(ens, ["noise"])
    fig, ax = plt.subplots(figsize=(5.6, 3.8), constrained_layout=True)
    colours = sns.color_palette("colorblind", 3)
    _draw(ax, _band(final, "width"), colours[0], "final epoch (plain)")
    if test["step"].nunique() > 1:
        _draw(ax, _band(early, "width"), colours[1], "early stopped (best epoch per seed)", marker="s")
    if not ens.empty:
        e = ens.groupby("width")["value"].median().sort_index()
        ax.plot(
            e.index.to_numpy(dtype=float),
            e.to_numpy(dtype=float),
            color=colours[2],
            lw=1.6,
            marker="^",
            ms=4,
            label=f"ensemble of {_seeds(test)['seed'].nunique()} seeds",
        )
        boot = _final(g[g.metric == "ensemble_test_error_boot"], ["noise"])
        if not boot.empty:  # the ensemble's spread: 5th to 95th percentile over bootstrap draws of the seeds
            q = boot.groupby("width")["value"].quantile([0.05, 0.95]).unstack().sort_index()
            ax.fill_between(
                q.index.to_numpy(dtype=float),
                q[0.05].to_numpy(dtype=float),
                q[0.95].to_numpy(dtype=float),
                color=colours[2],
                alpha=0.15,
                lw=0,
            )
    _log_width_axis(ax, final["width"], "hidden width h (MLP 40-h-h-10)")
    ax.set_ylabel("test error")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=7, frameon=True)
    ax.set_title(f"remedies, n = {int(n)}, label noise {_pct(noise)}")
    return Figure(
        "dd_remedies",
        fig,
        f"What removes the peak (after Nakkiran et al. 2019, §5 and Fig. 10/28). Test error against hidden "
        f"width h (log scale) at n = {int(n)} with {_pct(noise)} label noise: the plain model at the final "
        f"epoch; the same runs stopped early (each seed's lowest test error over the recorded epochs, "
        f"then the median: an oracle, an optimistic bound); and the ensemble that averages the predictions "
        f"of all seeds at the final epoch (its band: 5th to 95th percentile of the ensembles of seeds "
        f"drawn with replacement). Other lines and bands: median and min to max over seeds. Early "
        f"stopping and ensembling should flatten the peak near the interpolation threshold.",
    )


# ---------------------------------------------------------------- epoch-wise


def dd_epochwise(table: pd.DataFrame, cfg) -> Figure | None:
    mlp = _mlp(table)
    if mlp.empty:
        return None
    n = _model_n(mlp, cfg)
    test = _seeds(mlp[(mlp.n_train == n) & (mlp.metric == "test_error")])
    noises = sorted(p for p in test["noise"].unique() if p > 0)
    if not noises or test["step"].nunique() < 2:
        return None
    widths = np.sort(test["width"].unique())
    largest, middle = widths[-1], widths[(len(widths) - 1) // 2]
    chosen = [middle, largest] if middle != largest else [largest]
    colours = dict(zip(chosen, ["#7570b3", "#e7298a"][-len(chosen) :]))
    fig, axes = plt.subplots(
        1, len(noises), figsize=(3.8 * len(noises) + 0.4, 3.4), squeeze=False, sharey=True, constrained_layout=True
    )
    for ax, p in zip(axes.flat, noises):
        g = test[test.noise == p]
        for w in chosen:
            b = _band(g[g.width == w], "step")
            if not b.empty:
                _draw(ax, b, colours[w], f"h = {w:g}", marker=None)
        _step_axis(ax, g["step"])
        ax.set_title(f"label noise {_pct(p)}")
    axes.flat[0].set_ylabel("test error")
    axes.flat[0].set_ylim(bottom=0)
    axes.flat[0].legend(loc="best", fontsize=7, frameon=True)
    return Figure(
        "dd_epochwise",
        fig,
        f"Epoch-wise double descent (after Nakkiran et al. 2019, Fig. 9). Test error of the MLP at n = "
        f"{int(n)} against training epoch (log scale), for the largest width (h = {largest:g}) and a middle "
        f"width (h = {middle:g}), one panel per label-noise level above zero. Lines: median over seeds; "
        f"bands: min to max. A large model should show a rise in test error followed by a second descent "
        f"as training goes on; a middle-sized model may only rise (classical overfitting).",
    )


# ---------------------------------------------------------------- paper scale: image width sweeps


def dd_paper(table: pd.DataFrame, cfg) -> Figure | None:
    img = _part(table, "img", "arch")
    if img.empty or not {"arch", "k", "noise", "seed", "step"} <= set(img.columns):
        return None
    group = ["shard"] if "shard" in img.columns else ["arch", "noise", "k", "seed"]
    t = _final(img, group)
    archs = sorted(t["arch"].unique())
    colours = _noise_colours(t["noise"].unique())
    fig, axes = plt.subplots(
        1, len(archs), figsize=(4.4 * len(archs) + 0.4, 3.6), squeeze=False, sharey=True, constrained_layout=True
    )
    for ax, arch in zip(axes.flat, archs):
        g = t[t.arch == arch]
        for p in sorted(g["noise"].unique()):
            h = g[g.noise == p]
            test, train = h[h.metric == "test_error"], h[h.metric == "train_error"]
            if not test.empty:
                b = _band(test, "k")
                _draw(ax, b, colours[p], f"test, noise {_pct(p)}")
                peak = peak_of(b["median"])
                if peak is not None:
                    ax.scatter(
                        [peak],
                        [b["median"][peak]],
                        s=90,
                        marker="*",
                        color=colours[p],
                        edgecolors="black",
                        linewidths=0.6,
                        zorder=4,
                        gid="peak",
                    )
            if not train.empty:
                _draw(ax, _band(train, "k"), colours[p], f"train, noise {_pct(p)}", ls="--", marker=None, lw=1.0)
        _log_width_axis(ax, g["k"], "width parameter k")
        ax.set_title({"resnet18": "ResNet18", "cnn5": "5-layer CNN"}.get(str(arch), str(arch)))
    axes.flat[0].set_ylabel("error (final epoch)")
    axes.flat[0].set_ylim(bottom=0)
    axes.flat[0].legend(loc="upper right", fontsize=7, frameon=True)
    return Figure(
        "dd_paper",
        fig,
        "Model-wise double descent on CIFAR-10 (Nakkiran et al. 2019, Fig. 4 and 5). Test error (solid) and "
        "train error (dashed) at the final epoch against the width parameter k (log scale), one panel per "
        "architecture, one colour per label-noise level; stars mark the top of the largest rise of "
        "the median test error. Lines: median over seeds; bands: min to max.",
    )
