"""Double-descent figures on hand-made tables: which figures appear for which shards, what they draw,
and that a missing piece drops a figure instead of failing."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from repro.experiments.double_descent.plots import (
    INTERP_TRAIN_ERROR,
    all_figures,
    interpolation_threshold,
    peak_of,
)
from repro.io import save_figure

WIDTHS = [2, 4, 8, 16, 32, 64, 128]
STEPS = [1, 3, 10, 30, 100]
NOISES = [0.0, 0.15, 0.2]
N_MODEL, N_SMALL = 400, 200
THRESHOLD = {N_MODEL: 16, N_SMALL: 8}  # the synthetic interpolation threshold (width) of each n
ALL = ["dd_modelwise", "dd_rf", "dd_samplewise", "dd_remedies", "dd_epochwise", "dd_paper"]


def make_cfg(n_train=N_MODEL, sample_wise_n=N_SMALL):
    mlp = SimpleNamespace(n_train=n_train, noise=NOISES, sample_wise_n=sample_wise_n, widths=WIDTHS, epochs=100)
    return SimpleNamespace(experiment=SimpleNamespace(rf=SimpleNamespace(n_train=[100, 200]), mlp=mlp))


def _curve(x, thr, noise, rng):
    """Synthetic final test error: a bump at the threshold whose height grows with noise, over a slow descent."""
    return 0.25 + 1.5 * noise * np.exp(-(np.log2(x / thr) ** 2)) + 0.1 / np.sqrt(x) + rng.normal(0, 0.003)


def rf_table(seeds=(0, 1, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for n in (100, 200):
        for ratio in (0.25, 0.5, 1, 2, 4, 8):
            big_n = int(ratio * 100)
            for s in seeds:
                mse = 1 + 10 * np.exp(-(np.log2(big_n / n) ** 2)) + rng.normal(0, 0.01)
                for metric, v in (("test_mse", mse), ("test_error", 0.1 * mse), ("train_mse", max(0, 1 - big_n / n))):
                    rows.append(
                        dict(
                            shard="rf", n_train=n, n_features=big_n, ratio=ratio, seed=s, step=0, metric=metric, value=v
                        )
                    )
    return pd.DataFrame(rows)


def mlp_table(seeds=(0, 1, 2), widths=WIDTHS, steps=STEPS, shards=None) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    shards = shards or [(N_MODEL, p) for p in NOISES] + [(N_SMALL, 0.15)]
    rows = []
    for n, p in shards:
        thr = THRESHOLD[n]
        name = f"mlp-n{n}-noise{p}"
        for w in widths:
            params = 40 * w + w * w + 10 * w + 2 * w + 10
            base = dict(shard=name, n_train=n, noise=p, width=w, params=params)
            finals = []
            for s in seeds:
                final = _curve(w, thr, p, rng)
                finals.append(final)
                train = max(0.0, 0.5 * (1 - np.log2(w) / np.log2(thr)))
                for step in steps:
                    bump = 0.2 * p * (np.exp(-((np.log10(step) - 1) ** 2)) - np.exp(-1))  # epoch-wise, 0 at 1 and 100
                    best = len(steps) > 1 and step == steps[-2]  # the best epoch comes before the last
                    test = final + bump - (0.5 * p if best else 0)
                    tr = train + (0.3 / step**0.5 if step < steps[-1] else 0)
                    for metric, v in (("train_error", tr), ("test_error", test), ("test_loss", 2 * test)):
                        rows.append(dict(base, seed=s, step=step, metric=metric, value=v))
            rows.append(dict(base, seed=-1, step=steps[-1], metric="ensemble_test_error", value=min(finals) - 0.05))
    return pd.DataFrame(rows)


def img_table() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for arch in ("resnet18", "cnn5"):
        for p in (0.0, 0.15):
            for s in (0, 1):
                for k in (1, 2, 4, 8, 16, 32, 64):
                    for step in (10, 50):
                        shard = f"img-{arch}-k1_2_4_8_16_32_64-noise{p}-seed{s}"
                        for metric, v in (
                            ("test_error", _curve(k, 8, p, rng)),
                            ("train_error", max(0.0, 0.5 * (1 - np.log2(k) / 3))),
                        ):
                            rows.append(
                                dict(shard=shard, arch=arch, k=k, noise=p, seed=s, step=step, metric=metric, value=v)
                            )
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def by_name(figs):
    return {f.name: f for f in figs}


def data_lines(ax):
    """The curves of an axes (labelled lines; vertical marker lines carry no label)."""
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def vlines(ax):
    return [ln for ln in ax.get_lines() if ln.get_label().startswith("_") and len(set(ln.get_xdata())) == 1]


def peaks_x(ax):
    """The x of the star markers (scatter collections tagged "peak")."""
    return [c.get_offsets()[0][0] for c in ax.collections if c.get_gid() == "peak"]


def test_paper_scale_gives_every_figure_and_saves_svg(tmp_path):
    table = pd.concat([rf_table(), mlp_table(), img_table()], ignore_index=True)
    figs = all_figures(table, make_cfg())
    assert [f.name for f in figs] == ALL
    for f in figs:
        assert f.caption and len(f.caption) > 80
    path = tmp_path / "dd_modelwise.svg"
    save_figure(path, figs[0].fig)
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_laptop_scale_has_no_paper_figure():
    table = pd.concat([rf_table(), mlp_table()], ignore_index=True)
    assert [f.name for f in all_figures(table, make_cfg())] == ALL[:-1]


def test_modelwise_lines_thresholds_and_peaks():
    f = by_name(all_figures(mlp_table(), make_cfg()))["dd_modelwise"]
    (ax,) = f.fig.axes
    labels = [ln.get_label() for ln in data_lines(ax)]
    assert sum(lb.startswith("test") for lb in labels) == len(NOISES)
    assert sum(lb.startswith("train") for lb in labels) == len(NOISES)
    # one dotted threshold per noise level, at the synthetic threshold width of n = N_MODEL
    xs = [ln.get_xdata()[0] for ln in vlines(ax)]
    assert xs == [THRESHOLD[N_MODEL]] * len(NOISES)
    assert all(ln.get_linestyle() == ":" for ln in vlines(ax))
    # star markers at the peak for the noisy levels only (no bump without noise)
    stars = peaks_x(ax)
    assert stars == [THRESHOLD[N_MODEL]] * 2
    assert f"{INTERP_TRAIN_ERROR:.0%}" in f.caption


def test_rf_only():
    figs = by_name(all_figures(rf_table(), make_cfg()))
    assert set(figs) == {"dd_rf", "dd_samplewise"}
    ax_mse, ax_err = figs["dd_rf"].fig.axes
    assert ax_mse.get_yscale() == "log" and ax_mse.get_xscale() == "log"
    assert ax_err.get_yscale() == "linear"
    for ax in (ax_mse, ax_err):
        assert len(data_lines(ax)) == 2
        assert sorted(ln.get_xdata()[0] for ln in vlines(ax)) == [1.0, 2.0]  # N = n in units of the smaller n
    (ax,) = figs["dd_samplewise"].fig.axes  # only the random-feature panel
    assert ax.get_xlabel() == "random features N"
    assert sorted(ln.get_xdata()[0] for ln in vlines(ax)) == [100, 200]


def test_samplewise_peak_moves_right_with_n():
    table = pd.concat([rf_table(), mlp_table()], ignore_index=True)
    f = by_name(all_figures(table, make_cfg()))["dd_samplewise"]
    ax_mlp, ax_rf = f.fig.axes
    assert ax_mlp.get_xscale() == "log" and "15%" in ax_mlp.get_title()
    assert [ln.get_label() for ln in data_lines(ax_mlp)] == [f"n = {N_SMALL}", f"n = {N_MODEL}"]
    peaks = peaks_x(ax_mlp)
    assert len(peaks) == 2 and peaks[0] < peaks[1]
    assert len(data_lines(ax_rf)) == 2


def test_remedies_and_epochwise():
    figs = by_name(all_figures(mlp_table(), make_cfg()))
    (ax,) = figs["dd_remedies"].fig.axes
    lines = data_lines(ax)
    assert len(lines) == 3
    plain, early, ens = (ln.get_ydata() for ln in lines)
    assert (early <= plain + 1e-12).all() and (ens < plain).all()
    assert early[WIDTHS.index(THRESHOLD[N_MODEL])] < plain[WIDTHS.index(THRESHOLD[N_MODEL])] - 0.01
    assert "15%" in ax.get_title()
    axes = figs["dd_epochwise"].fig.axes
    assert len(axes) == sum(p > 0 for p in NOISES)
    for ax in axes:
        assert [ln.get_label() for ln in data_lines(ax)] == ["h = 16", "h = 128"]
        assert ax.get_xscale() == "log"


def test_paper_figure_panels():
    f = by_name(all_figures(img_table(), make_cfg()))["dd_paper"]
    assert [ax.get_title() for ax in f.fig.axes] == ["5-layer CNN", "ResNet18"]
    for ax in f.fig.axes:
        assert sum(ln.get_label().startswith("test") for ln in data_lines(ax)) == 2


def test_smoke_scale_skips_what_is_missing():
    """Two seeds, two widths, one recorded epoch, one n: no epoch-wise or sample-wise figure, no crash."""
    table = mlp_table(seeds=(0, 1), widths=[4, 32], steps=[5], shards=[(N_MODEL, 0.0), (N_MODEL, 0.15)])
    names = [f.name for f in all_figures(table, make_cfg())]
    assert names == ["dd_modelwise", "dd_remedies"]


def test_absent_rows_give_no_figures():
    assert all_figures(pd.DataFrame(columns=["shard", "seed", "step", "metric", "value"]), make_cfg()) == []
    assert all_figures(pd.DataFrame(), SimpleNamespace()) == []
    # a config without the mlp section still works: n comes from the table
    names = [f.name for f in all_figures(mlp_table(), SimpleNamespace())]
    assert "dd_modelwise" in names


def test_threshold_and_peak_helpers():
    train = pd.DataFrame(
        {"width": [1, 2, 4, 1, 2, 4], "seed": [0, 0, 0, 1, 1, 1], "value": [0.3, 0.01, 0.0, 0.3, 0.05, 0.0]}
    )
    assert interpolation_threshold(train, "width") == 4.0  # at width 2 the median, 0.03, is above 2%
    assert interpolation_threshold(train[train.seed == 0], "width") == 2.0
    assert interpolation_threshold(train.assign(value=0.5), "width") is None
    assert peak_of(pd.Series([0.5, 0.3, 0.6, 0.4], index=[1, 2, 4, 8])) == 4.0
    assert peak_of(pd.Series([0.5, 0.4, 0.3], index=[1, 2, 4])) is None
