"""Information-bottleneck figures: the information plane per network and estimator (the papers' iconic figure, the
seed-mean curve over the per-seed curves), saturation against time beside the compression window, and I(T;Y)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.claims import MissingData
from repro.experiments.info_bottleneck import claims as ib
from repro.report.figures import Figure, style

ESTIMATOR_TITLES = {
    ib.ST_BINS: "Shwartz-Ziv & Tishby: 30 edges over [-1, 1]",
    ib.SAXE_BINS: "Saxe et al.: bins of width 0.07",
    "adaptive30": "range-adaptive: 30 bins over [min, max]",
    ib.KDE: "KDE upper bound",
}
PROTOCOL_NAMES = {ib.ST: "Shwartz-Ziv & Tishby's", ib.SAXE: "Saxe et al.'s"}


def _networks(table: pd.DataFrame) -> list[tuple[str, str | None, pd.DataFrame]]:
    """(title, protocol, rows) of every 12-bit network in the table, Shwartz-Ziv & Tishby's first."""
    out = []
    protocols = table["protocol"].dropna().unique() if "protocol" in table else [None]
    for proto in sorted(protocols, key=lambda p: p != ib.ST):
        rows = table if proto is None else table[table["protocol"] == proto]
        for act in ("tanh", "relu"):
            sub = rows[rows["activation"] == act]
            if not sub.empty:
                out.append((f"{act}, {PROTOCOL_NAMES.get(proto, proto or '')} network", proto, sub))
    return out


def _curves(rows: pd.DataFrame, estimator: str) -> pd.DataFrame:
    """I(X;T) and I(T;Y) per seed, layer and epoch for one estimator (columns seed, layer, step, ixt, ity)."""
    sub = rows[(rows["estimator"] == estimator) & rows["metric"].isin(["ixt", "ity"])]
    return sub.pivot_table(index=["seed", "layer", "step"], columns="metric", values="value").reset_index()


def _plane(networks, estimators: list[str]):
    """One row per network, one column per estimator: thin grey per-seed curves under the seed-mean curve, whose
    points are coloured by epoch (log scale), as in both papers' figures."""
    fig, axes = plt.subplots(
        len(networks), len(estimators), figsize=(3.9 * len(estimators), 3.9 * len(networks)), squeeze=False
    )
    fig.subplots_adjust(hspace=0.6, wspace=0.35)
    last = max(max(r["step"].max() for _, _, r in networks), 1)
    sc = None
    for r, (title, _, rows) in enumerate(networks):
        for c, est in enumerate(estimators):
            ax = axes[r][c]
            cur = _curves(rows, est)
            if cur.empty:
                ax.set_axis_off()
                continue
            for (_, _), g in cur.groupby(["seed", "layer"]):
                ax.plot(g["ixt"], g["ity"], color="0.8", lw=0.4, zorder=1)
            mean = cur.groupby(["layer", "step"])[["ixt", "ity"]].mean().reset_index()
            for layer, g in mean.groupby("layer"):
                ax.plot(g["ixt"], g["ity"], color="0.35", lw=0.7, zorder=2)
                sc = ax.scatter(
                    g["ixt"],
                    g["ity"],
                    c=np.log10(g["step"] + 1),
                    cmap="viridis",
                    s=10,
                    zorder=3,
                    vmin=0,
                    vmax=np.log10(last + 1),
                )
                ax.annotate(
                    f"L{layer}",
                    (g["ixt"].iloc[-1], g["ity"].iloc[-1]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
            ax.set_title(f"{title}\n{ESTIMATOR_TITLES.get(est, est)}", fontsize=8)
            ax.set_xlabel("I(X;T) (bits)")
            ax.set_ylabel("I(T;Y) (bits)")
    if sc is not None:
        fig.colorbar(sc, ax=axes, shrink=0.6).set_label("log10(epoch + 1)")
    return fig


def _saturation(rows: pd.DataFrame, estimator: str):
    """Per hidden layer: I(X;T) per seed (thin) and its seed mean (thick), the mean saturated fraction (dotted, right
    axis), and the compression window of the seed-mean curve (shaded) as IB3 reads it per seed."""
    cur = _curves(rows, estimator)
    sat = rows[rows["metric"] == "saturation"].groupby(["layer", "step"])["value"].mean()
    layers = sorted(cur["layer"].unique())
    fig, axes = plt.subplots(1, len(layers), figsize=(3.0 * len(layers), 3.0), squeeze=False, sharey=True)
    fig.subplots_adjust(wspace=0.3, bottom=0.2)
    for ax, layer in zip(axes[0], layers):
        g = cur[cur["layer"] == layer]
        for _, s in g.groupby("seed"):
            ax.plot(s["step"] + 1, s["ixt"], color="0.75", lw=0.5)
        mean = g.groupby("step")[["ixt", "ity"]].mean()
        ax.plot(mean.index + 1, mean["ixt"], color="C0", lw=1.5, label="I(X;T), seed mean")
        if ib.compresses(mean):
            win = mean.index[ib.compression_window(mean)]
            ax.axvspan(win[0] + 1, win[-1] + 1, color="C1", alpha=0.15, label="compression window")
        twin = ax.twinx()
        s = sat.loc[layer] if layer in sat.index.get_level_values(0) else pd.Series(dtype=float)
        twin.plot(s.index + 1, s.to_numpy(), color="C3", ls=":", lw=1.3, label="saturated fraction")
        twin.set_ylim(0, 1)
        twin.grid(False)
        if layer != layers[-1]:
            twin.set_yticklabels([])
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_title(f"L{layer}", fontsize=9)
    axes[0][0].set_ylabel(f"I(X;T) (bits), {estimator}")
    axes[0][0].legend(fontsize=6, loc="lower left")
    return fig


def all_figures(table: pd.DataFrame, cfg) -> list[Figure]:
    if table.empty or "estimator" not in table:
        return []
    style()
    figs = []
    try:
        mnist = ib.network_rows(table, mnist=True)
    except MissingData:
        mnist = None
    twelve = ib.network_rows(table, mnist=False)
    networks = _networks(twelve)
    estimators = [e for e in ESTIMATOR_TITLES if (twelve["estimator"] == e).any()]
    if not networks or not estimators:
        return []
    n = twelve[twelve["metric"] == "ixt"]["seed"].nunique()
    figs.append(
        Figure(
            "ib_plane",
            _plane(networks, estimators),
            f"The information plane of every hidden layer (L1 nearest the input), one row per network and "
            f"one column per estimator: the mean over {n} seeds (points coloured by epoch, yellow = late) "
            "over each seed's curve (grey). Compression is a late move to the left. IB1a/IB1b read the "
            "first row's first column (Shwartz-Ziv & Tishby's network and bins); IB2-IB4 read Saxe et "
            "al.'s networks with their fixed-width bins and KDE. The range-adaptive column is a different "
            "estimator (Chelombiev et al. 2019), shown for comparison, not used by Saxe et al.",
        )
    )
    for title, proto, rows in networks:
        if proto == ib.SAXE and (rows["activation"] == "tanh").all() and (rows["estimator"] == ib.SAXE_BINS).any():
            figs.append(
                Figure(
                    "ib_saturation",
                    _saturation(rows, ib.SAXE_BINS),
                    f"Saturation against time, {title}: per hidden layer, I(X;T) under Saxe et al.'s "
                    f"bins for each seed (grey) and their mean (blue), the fraction of saturated units "
                    f"(|h| > 0.9, red dotted, right axis), and the compression window of the mean curve "
                    f"(shaded: from the smoothed peak until {ib.WINDOW_DONE:.0%} of the drop is done). "
                    "IB3 correlates the two within each seed's window.",
                )
            )
    if mnist is not None and not mnist.empty:
        m_nets = [
            (f"MNIST {a}", None, mnist[mnist["activation"] == a])
            for a in ("tanh", "relu")
            if (mnist["activation"] == a).any()
        ]
        m_ests = [e for e in ESTIMATOR_TITLES if (mnist["estimator"] == e).any()]
        if m_nets and m_ests:
            figs.append(
                Figure(
                    "ib_mnist_plane",
                    _plane(m_nets, m_ests),
                    "Saxe et al.'s MNIST network (784-1024-20-20-20-10) in the information plane, measured "
                    "on the test images, mean over seeds coloured by epoch over each seed (grey). IB5 reads "
                    "the KDE column.",
                )
            )
    fig, axes = plt.subplots(1, len(networks), figsize=(4.2 * len(networks), 3.2), squeeze=False)
    fig.subplots_adjust(wspace=0.35, bottom=0.2)
    for ax, (title, _, rows) in zip(axes[0], networks):
        cur = _curves(rows, estimators[0])
        for layer, g in cur.groupby("layer"):
            m = g.groupby("step")["ity"].mean()
            ax.plot(m.index + 1, m.to_numpy(), lw=1.2, label=f"L{layer}")
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel(f"I(T;Y) (bits), {estimators[0]}")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=6)
    figs.append(
        Figure(
            "ib_ity",
            fig,
            f"I(T;Y) per hidden layer against epoch, mean over {n} seeds: the fitting that "
            "IB1b asks to come before compression. The label carries at most H(Y) ≈ 1 bit.",
        )
    )
    return figs
