"""The NTK figures build from a hand-made table (ntk_spec's schema) and show what their captions say: the error
curves with the fitted slopes and reference lines, the 1-D slice at a narrow and the widest width, the α sweep. A part
the table lacks drops its figure instead of failing."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from test_ntk_claims import CFG, lazy_rows, table, widths_rows

from repro.experiments.ntk import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def by_name(figs):
    return {f.name: f for f in figs}


def test_all_three_figures_build_and_render():
    figs = plots.figures(table(), CFG)
    assert [f.name for f in figs] == ["ntk_width_curves", "ntk_slice", "ntk_lazy_alpha"]
    for f in figs:
        assert len(f.caption) > 100
        buf = io.BytesIO()
        f.fig.savefig(buf, format="svg")
        assert buf.tell() > 10_000


def test_width_curves_show_medians_bands_slopes_and_references():
    f = by_name(plots.figures(table(), CFG))["ntk_width_curves"]
    axes = [ax for ax in f.fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [
        "NTK1: kernel at init",
        "NTK2: kernel change in training",
        "NTK3: network vs linearisation",
        "NTK4: network vs analytic NTK",
    ]
    # the fitted slope of each panel (median of per-seed slopes, with its interval) is in its legend
    expected = {0: "slope -0.50 [-0.55, -0.45]", 1: "slope -0.90", 2: "slope -0.80", 3: "slope -0.50"}
    for i, text in expected.items():
        assert any(text in t for t in legend_texts(axes[i])), legend_texts(axes[i])
        assert "slope -0.5" in legend_texts(axes[i])  # the reference line
        assert axes[i].get_xscale() == "log" and axes[i].get_yscale() == "log"
    assert "slope -1" in legend_texts(axes[1])  # Lee et al.'s measured rate on the kernel-change panel
    # the median line holds the medians over seeds at each width: ntk_err 0.03 at the widest width
    med = axes[0].get_lines()[0]
    assert list(med.get_xdata()) == [64, 256, 1024, 4096]
    assert med.get_ydata()[-1] == pytest.approx(0.03)
    assert med.get_ydata()[0] == pytest.approx(0.03 * (64 / 4096) ** -0.5)
    # lin_rmse is shown relative to the targets' RMS, with the bound
    rows = widths_rows(target_rms=2.0)
    g = by_name(plots.figures(table(rows), CFG))["ntk_width_curves"]
    assert g.fig.axes[2].get_lines()[0].get_ydata()[-1] == pytest.approx(0.01)
    assert any("bound 0.1" in t for t in legend_texts(g.fig.axes[2]))
    # the seed band spans min to max over seeds
    band = axes[0].collections[0]
    ys = band.get_paths()[0].vertices[:, 1]
    lo, hi = 0.03 * (64 / 4096) ** -0.45, 0.03 * (64 / 4096) ** -0.55
    assert ys.min() == pytest.approx(0.03) and ys.max() == pytest.approx(hi) and lo < hi


def test_slice_shows_four_predictors_at_a_narrow_and_the_widest_width():
    f = by_name(plots.figures(table(), CFG))["ntk_slice"]
    axes = f.fig.axes
    assert [ax.get_title() for ax in axes] == ["width 64", "width 4096"]
    for ax, w in zip(axes, (64, 4096)):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert set(lines) == {"target", "kernel regression (Θ∞)", "linearised network", "trained network"}
        x = lines["target"].get_xdata()
        assert len(x) == 33 and np.all(np.diff(x) > 0)
        np.testing.assert_allclose(lines["target"].get_ydata(), np.sin(3 * x), atol=1e-12)
        np.testing.assert_allclose(lines["trained network"].get_ydata() - np.sin(3 * x), 0.3 / np.sqrt(w), atol=1e-12)
    assert "seed 0" in f.caption


def test_alpha_figure_shows_weight_change_distance_and_test_loss():
    f = by_name(plots.figures(table(), CFG))["ntk_lazy_alpha"]
    axes = f.fig.axes
    assert [ax.get_title() for ax in axes] == [
        "NTK5(a): relative weight change",
        "NTK5(b): distance to the linearisation",
        "NTK5(c): generalisation",
    ]
    assert any("slope -1.00 [-1.05, -0.95]" in t for t in legend_texts(axes[0]))
    assert "slope -1" in legend_texts(axes[0])
    med = [ln for ln in axes[2].get_lines() if ln.get_label() == "median"][0]
    assert list(med.get_xdata()) == [1, 10, 100, 1000]
    assert med.get_ydata()[-1] - med.get_ydata()[0] == pytest.approx(0.2)  # the lazy model's higher test loss
    assert "at width 512" in f.caption


def test_missing_parts_drop_their_figures():
    assert [f.name for f in plots.figures(table(lazy=[]), CFG)] == ["ntk_width_curves", "ntk_slice"]
    assert [f.name for f in plots.figures(table(widths_rows(slice_seeds=0)), CFG)] == [
        "ntk_width_curves",
        "ntk_lazy_alpha",
    ]
    assert [f.name for f in plots.figures(table(widths=[]), CFG)] == ["ntk_lazy_alpha"]
    t = table(lazy=lazy_rows())
    only_err = t[(t["metric"] == "ntk_err")]
    [f] = plots.figures(only_err, CFG)
    assert [ax.get_title() for ax in f.fig.axes if ax.get_visible()] == ["NTK1: kernel at init"]


def test_alpha_slopes_are_fitted_over_the_lazy_end():
    alphas = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    t = table(lazy=lazy_rows(alphas=alphas, small_alpha_slope=0.0))
    f = by_name(plots.figures(t, CFG))["ntk_lazy_alpha"]
    texts = legend_texts(f.fig.axes[0])
    assert any("slope -1.00 [-1.05, -0.95] over α ≥ 1" in s for s in texts), texts
    ref = [ln for ln in f.fig.axes[0].get_lines() if ln.get_label() == "slope -1"][0]
    assert list(ref.get_xdata()) == [1.0, 10.0, 100.0]
