"""Unrolling figures: NMSE against layer or iteration for every method, and the learned thresholds and steps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.experiments.unrolling.claims import CONVERGED_DB, CONVERGENCE_WINDOW, CURVE, DEPTH, LEARNED, best_lam
from repro.experiments.unrolling.lista import LABELS
from repro.report.figures import Figure, style

COLOURS = {"lista": "C0", "lista_cp": "C1", "lista_cpss": "C2", "alista": "C3", "ista": "0.35", "fista": "0.6"}


def _noises(table: pd.DataFrame) -> list[str]:
    if "noise" not in table.columns:
        return []
    return sorted((n for n in table["noise"].dropna().unique() if n), key=lambda n: n != "noiseless")


def all_figures(table: pd.DataFrame, cfg) -> list[Figure]:
    noises = _noises(table)
    if not noises:
        return []
    style()
    nmse = table[table["metric"] == "nmse_db"]
    fig, axes = plt.subplots(1, len(noises), figsize=(6.0 * len(noises), 4.2), squeeze=False)
    for ax, noise in zip(axes[0], noises):
        t = nmse[nmse["noise"] == noise]
        for m in ("ista", "fista"):
            rows = t[t["method"] == m]
            if rows.empty:
                continue
            try:
                lam = best_lam(table, noise, m)
            except LookupError:
                lam = float(rows["lam"].iloc[0])
            for lam_i, g in rows.groupby("lam"):
                g = g[g["layer"] > 0].sort_values("layer")
                best = np.isclose(lam_i, lam)
                ax.plot(
                    g["layer"],
                    g["value"],
                    color=COLOURS[m],
                    lw=1.4 if best else 0.5,
                    alpha=1 if best else 0.5,
                    ls="-" if m == "ista" else "--",
                    label=f"{LABELS[m]} (λ={lam_i:g})" if best else None,
                )
        for m in LEARNED:
            rows = t[t["method"] == m]
            if rows.empty:
                continue
            med = rows.groupby("layer")["value"].median()
            ax.plot(med.index, med.to_numpy(), color=COLOURS[m], lw=2, marker="o", ms=3, label=LABELS[m])
        oracle = t[t["method"] == "oracle"]
        if not oracle.empty and noise != "noiseless":  # noiseless, the oracle is exact (rounding error only)
            ax.axhline(float(oracle["value"].iloc[0]), color="k", lw=0.8, ls=":", label="oracle (true support)")
        ax.axvline(DEPTH, color="0.8", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("layer (learned) or iteration (ISTA, FISTA)")
        ax.set_ylabel("test NMSE (dB)")
        ax.set_title(noise, fontsize=9)
        ax.legend(fontsize=6, loc="lower left")
    n_seeds = nmse[nmse["method"].isin(LEARNED)]["seed"].nunique()
    figs = [
        Figure(
            "u_nmse",
            fig,
            f"Test NMSE against depth: the learned methods (median over {n_seeds} training seed(s)) at layers "
            f"1–{DEPTH}, ISTA (solid) and FISTA (dashed) out to thousands of iterations, the λ best on "
            "validation at 16 iterations in bold and the rest of the λ grid faint. Linear convergence is a "
            "straight falling line in dB against layer; here the x axis is logarithmic so the classical tails "
            "fit, which bends straight lines upward. The vertical line marks 16.",
        )
    ]
    params = table[table["metric"].isin(["theta", "gamma"])]
    if not params.empty:
        metrics = [m for m in ("theta", "gamma") if (params["metric"] == m).any()]
        fig, axes = plt.subplots(
            len(noises), len(metrics), figsize=(5.0 * len(metrics), 3.2 * len(noises)), squeeze=False
        )
        for r, noise in enumerate(noises):
            for c, metric in enumerate(metrics):
                ax = axes[r][c]
                rows = params[(params["noise"] == noise) & (params["metric"] == metric)]
                for m, g in rows.groupby("method"):
                    med = g.groupby("layer")["value"].median()
                    ax.plot(med.index, med.to_numpy(), color=COLOURS.get(m, "k"), marker="o", ms=3, label=LABELS[m])
                ax.set_yscale("log")
                ax.set_xlabel("layer")
                ax.set_ylabel({"theta": "threshold θ_k", "gamma": "step size γ_k (ALISTA)"}[metric])
                ax.set_title(noise, fontsize=9)
                ax.legend(fontsize=6)
        figs.append(
            Figure(
                "u_params",
                fig,
                "Learned thresholds θ_k per layer (and ALISTA's step sizes γ_k), median over seeds. The "
                "analysis of Chen et al. predicts thresholds that shrink towards zero with depth in the "
                "noiseless case, which is what lets the error keep falling.",
            )
        )
    curve = _training_curves(table, noises)
    return figs + ([curve] if curve is not None else [])


def _training_curves(table: pd.DataFrame, noises: list[str]) -> Figure | None:
    """The learned nets' validation curves over training, with the convergence precondition's window shaded."""
    rows = table[table["metric"] == CURVE]
    noises = [n for n in noises if (rows["noise"] == n).any()]
    if not noises:
        return None
    fig, axes = plt.subplots(1, len(noises), figsize=(5.0 * len(noises), 3.4), squeeze=False)
    for ax, noise in zip(axes[0], noises):
        t = rows[rows["noise"] == noise]
        for m in LEARNED:
            for i, (_, g) in enumerate(t[t["method"] == m].groupby("seed")):
                g = g.sort_values("step")
                ax.plot(
                    g["step"],
                    g["value"],
                    color=COLOURS[m],
                    marker="o",
                    ms=2.5,
                    lw=1,
                    label=LABELS[m] if i == 0 else None,
                )
        s0, s1 = float(t["step"].min()), float(t["step"].max())
        ax.axvspan(s1 - CONVERGENCE_WINDOW * (s1 - s0), s1, color="0.9", zorder=0)
        ax.set_xlabel("training step")
        ax.set_ylabel("validation NMSE (dB), full depth")
        ax.set_title(noise, fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return Figure(
        "u_training",
        fig,
        "Validation NMSE of each learned network's full-depth output during training (one line per method "
        f"and seed), over the steps that train that output. The shaded band is the last "
        f"{CONVERGENCE_WINDOW:.0%} of training: a network that gains {CONVERGED_DB:g} dB or more there is "
        "still improving, and the claims that read it are inconclusive (their precondition). A flat end "
        "after a learning-rate decay shows the schedule ending, not necessarily the best the method can do.",
    )
