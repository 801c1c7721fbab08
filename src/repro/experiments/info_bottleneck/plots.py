"""Information-bottleneck figures: the information plane (the papers' iconic figure), I(X;T) with the
saturated fraction, and I(T;Y), against epoch."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.claims import MissingData
from repro.experiments.info_bottleneck.claims import network_rows
from repro.report.figures import Figure, style

PLANE_ESTIMATORS = (("bin30", "30 bins over [-1, 1]"), ("adaptive30", "30 bins over the observed range"),
                    ("kde", "KDE upper bound"))


def _means(table: pd.DataFrame, activation: str, estimator: str) -> pd.DataFrame:
    """I(X;T) and I(T;Y) per layer and epoch, averaged over seeds: the curves the papers plot (Shwartz-Ziv &
    Tishby average their networks) and IB1's seed-mean check reads."""
    rows = table[(table["activation"] == activation) & (table["estimator"] == estimator)
                 & table["metric"].isin(["ixt", "ity"])]
    return rows.groupby(["layer", "step", "metric"])["value"].mean().unstack("metric").reset_index()


def _plane(table: pd.DataFrame, acts: list[str], ests: list[tuple[str, str]]):
    """The information plane: one row per activation, one column per estimator, mean over seeds."""
    fig, axes = plt.subplots(len(acts), len(ests), figsize=(4.2 * len(ests), 3.6 * len(acts)), squeeze=False)
    last = max(table["step"].max(), 1)
    for r, act in enumerate(acts):
        for c, (est, title) in enumerate(ests):
            ax = axes[r][c]
            m = _means(table, act, est)
            for layer, g in m.groupby("layer"):
                g = g.sort_values("step")
                ax.plot(g["ixt"], g["ity"], color="0.7", lw=0.6, zorder=1)
                sc = ax.scatter(g["ixt"], g["ity"], c=np.log10(g["step"] + 1), cmap="viridis", s=12, zorder=2,
                                vmin=0, vmax=np.log10(last + 1))
                ax.annotate(f"L{layer}", (g["ixt"].iloc[-1], g["ity"].iloc[-1]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
            ax.set_title(f"{act}: {title}", fontsize=9)
            ax.set_xlabel("I(X;T) (bits)")
            ax.set_ylabel("I(T;Y) (bits)")
    cb = fig.colorbar(sc, ax=axes, shrink=0.8)
    cb.set_label("log10(epoch + 1)")
    return fig


def _present(table: pd.DataFrame) -> tuple[list[str], list[tuple[str, str]]]:
    acts = [a for a in ("tanh", "relu") if (table["activation"] == a).any()]
    ests = [(e, t) for e, t in PLANE_ESTIMATORS if (table["estimator"] == e).any()]
    return acts, ests


def all_figures(table: pd.DataFrame, cfg) -> list[Figure]:
    if table.empty or "estimator" not in table:
        return []
    style()
    figs = []
    try:
        mnist = network_rows(table, mnist=True)
    except MissingData:
        mnist = None
    table = network_rows(table, mnist=False)
    acts, ests = _present(table)
    if not acts or not ests:
        return []
    n = table[table["metric"] == "ixt"]["seed"].nunique()
    figs.append(Figure("ib_plane", _plane(table, acts, ests),
                       f"The information plane: each hidden layer's I(X;T) against I(T;Y), mean over {n} seed(s) (the "
                       "curves of IB1's seed-mean check), coloured by epoch (yellow = late), one row per activation "
                       "and one column per estimator. Compression shows as a late move to the left. Shwartz-Ziv & "
                       "Tishby report it for tanh with 30 bins over [-1, 1]; Saxe et al. find none for ReLU with "
                       "estimators that resolve large activations."))
    if mnist is not None and all(_present(mnist)):
        m_acts, m_ests = _present(mnist)
        n_m = mnist[mnist["metric"] == "ixt"]["seed"].nunique()
        figs.append(Figure("ib_mnist_plane", _plane(mnist, m_acts, m_ests),
                           f"Saxe et al.'s MNIST network (784-1024-20-20-20-10) in the information plane, measured on "
                           f"the test images, mean over {n_m} seed(s), coloured by epoch. The 1024-unit layer keeps "
                           "every test image apart (pinned at log2 of their number). IB5 reads the KDE column."))

    fig, axes = plt.subplots(1, len(acts), figsize=(6.5 * len(acts), 3.6), squeeze=False)
    fig.subplots_adjust(wspace=0.45)
    for c, act in enumerate(acts):
        ax = axes[0][c]
        m = _means(table, act, "bin30")
        sat = table[(table["activation"] == act) & (table["metric"] == "saturation")]
        sat = sat.groupby(["layer", "step"])["value"].mean().reset_index()
        twin = ax.twinx()
        for layer, g in m.groupby("layer"):
            line, = ax.plot(g["step"] + 1, g["ixt"], lw=1.2, label=f"L{layer} I(X;T)")
            s = sat[sat["layer"] == layer]
            twin.plot(s["step"] + 1, s["value"], ls=":", color=line.get_color(), lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("I(X;T), 30 bins over [-1, 1] (bits)")
        twin.set_ylabel("saturated fraction, dotted")
        twin.set_ylim(0, 1)
        ax.set_title(act, fontsize=9)
        ax.legend(fontsize=6, loc="lower left")
    figs.append(Figure("ib_saturation", fig,
                       f"I(X;T) with the original binning (solid) and the fraction of saturated units (|h| > 0.9, "
                       f"dotted) per hidden layer against epoch; mean over {n} seed(s). Saxe et al. tie tanh "
                       "compression to saturation."))

    fig, axes = plt.subplots(1, len(acts), figsize=(5.5 * len(acts), 3.4), squeeze=False)
    for c, act in enumerate(acts):
        ax = axes[0][c]
        for layer, g in _means(table, act, "bin30").groupby("layer"):
            ax.plot(g["step"] + 1, g["ity"], lw=1.2, label=f"L{layer}")
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("I(T;Y), 30 bins over [-1, 1] (bits)")
        ax.set_title(act, fontsize=9)
        ax.legend(fontsize=6)
    figs.append(Figure("ib_ity", fig, f"I(T;Y) per hidden layer against epoch, mean over {n} seed(s); the label "
                                      "carries at most H(Y) ≈ 1 bit."))
    return figs
