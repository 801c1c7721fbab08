"""Lottery-ticket figures: accuracy and early-stopping iteration against the fraction of weights remaining,
in the shape of Frankle & Carbin's Figs. 3–4 (P_m on a log axis, decreasing to the right)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.experiments.lottery_ticket.claims import early_stops
from repro.report.figures import Figure, style

COLOURS = {"reset": "#1f77b4", "rewind": "#9467bd", "reinit": "#d62728", "random": "#7f7f7f"}
LABELS = {
    "reset": "ticket (reset to θ0)",
    "rewind": "ticket (rewind to θ_j)",
    "reinit": "same mask, reinitialised",
    "random": "random pruning",
}


def _panel(ax, es: pd.DataFrame, col: str, ylabel: str) -> None:
    dense = es[es["arm"] == "dense"][col]
    if len(dense):
        q = np.percentile(dense, [25, 50, 75])
        ax.axhline(q[1], color="black", lw=1, ls="--", label="dense (median)")
        ax.axhspan(q[0], q[2], color="black", alpha=0.08, lw=0)
    for arm, colour in COLOURS.items():
        g = (
            es[es["arm"] == arm]
            .groupby("level")
            .agg(
                p_m=("p_m", "median"),
                lo=(col, lambda v: np.percentile(v, 25)),
                med=(col, "median"),
                hi=(col, lambda v: np.percentile(v, 75)),
            )
        )
        if g.empty:
            continue
        ax.plot(g["p_m"], g["med"], "o-", ms=3, color=colour, label=LABELS[arm])
        ax.fill_between(g["p_m"], g["lo"], g["hi"], color=colour, alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ticks = [100, 51.2, 21, 8.6, 3.5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("P_m: weights remaining (%)")
    ax.set_ylabel(ylabel)


def all_figures(table: pd.DataFrame, cfg) -> list[Figure]:
    if table.empty or "metric" not in table or not (table["metric"] == "val_loss").any():
        return []
    style()
    es = early_stops(table)
    n = es[es["arm"] == "dense"]["seed"].nunique()
    figs = []
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    _panel(ax, es, "acc", "test accuracy at early stopping")
    ax.legend(fontsize=7, loc="lower left")
    figs.append(
        Figure(
            "lt_accuracy",
            fig,
            f"Test accuracy at the early-stopping iteration (minimum validation loss) against the "
            f"percentage of weights remaining, P_m (log scale, pruning proceeds to the right); median over "
            f"{n} seed(s), "
            f"bands: interquartile range. Dashed: the dense network. Winning tickets stay at or above the "
            f"dense line while the reinitialised and randomly pruned controls fall off (after Frankle & "
            f"Carbin 2019, Figs. 3–4).",
        )
    )
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    _panel(ax, es, "es_iter", "early-stopping iteration")
    probe = es[es["arm"].isin(["probe_dense", "probe_reset"])]
    if len(probe):  # LT4's probe: dense and the ticket near P_m = 21%, trained past their validation minimum
        g = probe.groupby("arm").agg(
            p_m=("p_m", "median"),
            med=("es_iter", "median"),
            lo=("es_iter", lambda v: np.percentile(v, 25)),
            hi=("es_iter", lambda v: np.percentile(v, 75)),
        )
        ax.errorbar(
            g["p_m"],
            g["med"],
            yerr=[g["med"] - g["lo"], g["hi"] - g["med"]],
            fmt="D",
            ms=5,
            color="#2ca02c",
            capsize=3,
            label="LT4 probe (dense at 100%, ticket), trained longer",
        )
    ax.legend(fontsize=7, loc="center right" if len(probe) else "upper left")
    figs.append(
        Figure(
            "lt_early_stop",
            fig,
            f"The early-stopping iteration (minimum validation loss) against P_m; median over {n} seed(s), "
            f"bands: interquartile range. The paper's tickets reach it earlier than the dense network at "
            f"moderate sparsity (38% earlier at P_m = 21% for LeNet-300-100). Green diamonds, where "
            f"present: the LT4 probe (the dense network and the ticket near P_m = 21% trained long "
            f"enough for the validation loss to pass its minimum, evaluated every 50 iterations), which "
            f"LT4 reads.",
        )
    )
    return figs
