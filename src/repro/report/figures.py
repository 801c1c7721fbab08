"""What an experiment hands the report: a named figure with its caption, plus the shared style."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # headless: jobs and tests have no display
import matplotlib.pyplot as plt
import seaborn as sns


@dataclass
class Figure:
    name: str  # file stem, e.g. "fp1_heatmap"
    fig: plt.Figure
    caption: str  # what the figure shows and what to look for


def style() -> None:
    """One look for every figure in the report."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.0)
    plt.rcParams.update({"svg.hashsalt": "repro", "figure.dpi": 100, "savefig.dpi": 100})
