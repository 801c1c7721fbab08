"""Mutual-information estimators of the information-bottleneck reproduction, against answers known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from repro.experiments.info_bottleneck.estimators import (
    NOISE_VAR_IBNET,
    adaptive_binned_mi,
    binned_mi,
    ceiling_bits,
    fixed_width_mi,
    is_pinned,
    kde_mi,
    saturated_fraction,
)

N = 4096
BITS = ((np.arange(N)[:, None] >> np.arange(11, -1, -1)) & 1).astype(np.float64)  # the 4096 12-bit patterns


def h_bits(p) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def naive_binned(t, y, n_bins=30):
    """Shwartz-Ziv & Tishby's binning written out (np.digitize against np.linspace edges, np.unique on rows)."""
    bins = np.linspace(-1, 1, n_bins, dtype="float32")
    dig = bins[np.digitize(t.reshape(-1), bins) - 1].reshape(len(t), -1)

    def h(a):
        _, c = np.unique(a, axis=0, return_counts=True)
        return h_bits(c / c.sum())

    return h(dig), h(dig) - sum(np.mean(y == c) * h(dig[y == c]) for c in np.unique(y))


def naive_kde(t, y, var):
    """Saxe et al.'s KL upper bound with every constant kept (nats -> bits), distances by explicit differences."""
    d = t.shape[1]

    def h_upper(a):
        dist = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
        lprobs = logsumexp(-dist / (2 * var), axis=1) - np.log(len(a)) - d / 2 * np.log(2 * np.pi * var)
        return d / 2 - lprobs.mean()

    h_noise = d / 2 * (np.log(2 * np.pi * var) + 1)
    h = h_upper(t)
    h_y = sum(np.mean(y == c) * h_upper(t[y == c]) for c in np.unique(y))
    return (h - h_noise) / np.log(2), (h - h_y) / np.log(2)


# ------------------------------------------------------------------------------------------- exact answers


@pytest.mark.parametrize("estimator", [binned_mi, adaptive_binned_mi, fixed_width_mi])
def test_distinct_rows_reach_the_ceiling(estimator):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, N)
    ixt, ity = estimator(0.9 * (2 * BITS - 1), y)  # ±0.9: every row its own code
    assert ixt == pytest.approx(math.log2(N)) and ixt == pytest.approx(ceiling_bits())
    assert ity == pytest.approx(h_bits(np.bincount(y) / N))  # all of H(Y)


@pytest.mark.parametrize("estimator", [binned_mi, adaptive_binned_mi, fixed_width_mi, kde_mi])
def test_constant_code_carries_nothing(estimator):
    y = np.arange(N) % 2
    ixt, ity = estimator(np.full((N, 5), 0.3), y)
    assert ixt == pytest.approx(0.0, abs=1e-9) and ity == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("estimator", [binned_mi, adaptive_binned_mi, fixed_width_mi, kde_mi])
def test_two_codes_aligned_with_balanced_labels(estimator):
    y = np.arange(N) % 2
    t = np.where(y[:, None] == 1, 0.8, -0.8) * np.ones((1, 3))
    ixt, ity = estimator(t, y)
    assert ixt == pytest.approx(1.0, abs=1e-9) and ity == pytest.approx(1.0, abs=1e-9)
    # the same code with labels independent of it: one bit about X, nothing about Y
    ixt, ity = estimator(t, (np.arange(N) // 2) % 2)
    assert ixt == pytest.approx(1.0, abs=1e-9) and ity == pytest.approx(0.0, abs=1e-9)


def test_fixed_range_clips_relu_outputs_and_adaptive_bins_resolve_them():
    # one ReLU unit, four equally frequent values, three of them above the fixed range [-1, 1]
    t = np.repeat([0.0, 1.5, 3.0, 7.0], N // 4)[:, None]
    y = (t[:, 0] > 2).astype(int)
    ixt, ity = binned_mi(t, y)
    assert ixt == pytest.approx(h_bits([0.25, 0.75]))  # 1.5, 3 and 7 share the top bin
    assert ity == pytest.approx(ixt - 0.5 * h_bits([0.5, 0.5]))
    ixt, ity = adaptive_binned_mi(t, y)
    assert ixt == pytest.approx(2.0) and ity == pytest.approx(1.0)  # bins over [0, 7]: all four resolved
    # the literal original edges (np.linspace(-1, 1, 30), np.digitize): below -1 wraps onto the >= 1 code
    assert binned_mi(np.array([[-3.0], [1.0], [5.0], [0.5]]), [0, 1, 0, 1], original_edges=True)[0] == pytest.approx(
        h_bits([0.75, 0.25])
    )


def test_fixed_width_bins_have_no_range_limit():
    """Saxe et al.'s bins (floor(t / w)): the large ReLU values that [-1, 1] edges merge stay apart, at any size."""
    t = np.repeat([0.0, 1.5, 3.0, 700.0], N // 4)[:, None]
    y = (t[:, 0] > 2).astype(int)
    assert fixed_width_mi(t, y, width=0.07) == pytest.approx((2.0, 1.0))
    assert binned_mi(t, y, original_edges=True)[0] == pytest.approx(h_bits([0.25, 0.75]))  # the clipped view
    # one bin holds [k w, (k + 1) w): 0.0 and 0.069 share it, 0.07 does not (negative values too, no wrap-around)
    t = np.repeat([-0.2, 0.0, 0.069, 0.0701], N // 4)[:, None]
    assert fixed_width_mi(t, y, width=0.07)[0] == pytest.approx(h_bits([0.25, 0.5, 0.25]))
    with pytest.raises(ValueError, match="width must be positive"):
        fixed_width_mi(t, y, width=0.0)


def test_fixed_width_scaled_codes_keep_their_information_only_within_their_bins():
    """A scaled copy of the codes gives the same I(X;T) exactly when the scaling keeps every value in its bin."""
    w = 0.07
    rng = np.random.default_rng(3)
    cells = rng.integers(-20, 20, size=(N, 2))  # 1600 codes for 4096 inputs
    t = (cells + 0.5) * w  # every value at the centre of its bin
    y = rng.integers(0, 2, N)
    base = fixed_width_mi(t, y, width=w)
    assert base == fixed_width_mi(t * 1.0 + 0.3 * w, y, width=w)  # shifted within the bins: the same codes
    assert base == pytest.approx(fixed_width_mi(t * 0.999, y, width=w))  # |shift| < w/2 inside |cell| < 40: kept
    # halving maps two cells onto one: fewer codes, less information
    assert fixed_width_mi(t * 0.5, y, width=w)[0] < base[0] - 1.0  # 400 codes
    # doubling with a doubled width is the same partition
    assert fixed_width_mi(t * 2, y, width=2 * w) == pytest.approx(base)


def test_binning_matches_the_original_code():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1024)
    for scale in (0.3, 1.0, 5.0):
        t = np.tanh(scale * rng.normal(size=(1024, 6))).astype(np.float32)
        assert binned_mi(t, y, original_edges=True) == pytest.approx(naive_binned(t, y), abs=1e-12)
        # bin index floor((t + 1) / (2/30)) by hand
        codes = np.clip(np.floor((t.astype(np.float64) + 1) / (2 / 30)), 0, 29)
        _, c = np.unique(codes, axis=0, return_counts=True)
        assert binned_mi(t, y)[0] == pytest.approx(h_bits(c / c.sum()))


# ---------------------------------------------------------------------------------------------------- KDE


def test_kde_noise_variance_is_the_12_bit_analysis_value():
    assert NOISE_VAR_IBNET == 1e-3
    assert kde_mi.__defaults__[0] == NOISE_VAR_IBNET


def test_kde_small_noise_distinct_points_reach_the_ceiling():
    y = BITS[:, 0].astype(int)
    ixt, ity = kde_mi(0.9 * (2 * BITS - 1), y, noise_var=1e-3)
    assert ixt == pytest.approx(math.log2(N), abs=1e-9)
    assert ity == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(2)
    t = rng.uniform(-1, 1, size=(512, 4))
    values = [kde_mi(t, np.zeros(512, dtype=int), noise_var=v)[0] for v in (1e-1, 1e-2, 1e-3, 1e-5)]
    assert np.all(np.diff(values) > 0) and values[-1] == pytest.approx(9.0, abs=1e-6)


def test_kde_two_far_clusters_carry_one_bit_about_y():
    rng = np.random.default_rng(3)
    y = np.arange(2048) % 2
    t = rng.normal(scale=0.3, size=(2048, 4)) + 20.0 * y[:, None]
    ixt, ity = kde_mi(t, y, noise_var=0.1)
    assert ity == pytest.approx(1.0, abs=1e-9)
    assert 1.0 < ixt < 11.0


def test_kde_three_points_by_hand():
    """d = 1, points 0, a, 2a with exp(-a^2 / (2 s2)) = 1/2: kernel rows (1, 1/2, 1/16), (1/2, 1, 1/2), ..."""
    var = 0.05
    a = math.sqrt(2 * var * math.log(2))
    t = np.array([[0.0], [a], [2 * a]])
    y = np.array([0, 0, 1])
    ixt, ity = kde_mi(t, y, noise_var=var)
    ixt_nats = math.log(3) - (2 * math.log(25 / 16) + math.log(2)) / 3  # -mean log((1/3) row sum)
    assert ixt == pytest.approx(ixt_nats / math.log(2), rel=1e-9)
    # within classes: rows {0, a}: 3/2 of n_c = 2 (twice); {2a}: 1 of n_c = 1
    ity_nats = ixt_nats + (2 * math.log(3 / 4) + math.log(1)) / 3
    assert ity == pytest.approx(ity_nats / math.log(2), rel=1e-9)


def test_kde_matches_the_formula_with_all_constants():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 600)
    for scale, var in ((1.0, 1e-1), (0.2, 1e-2), (60.0, 1e-3)):  # the last: large ReLU-like values, small noise
        t = np.maximum(scale * rng.normal(size=(600, 5)), 0) + 0.01 * rng.normal(size=(600, 5))
        got = kde_mi(t, y, noise_var=var, block=128)
        assert got == pytest.approx(naive_kde(t, y, var), abs=1e-5)


def test_kde_anchor_subsample():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 2048)
    t = np.tanh(rng.normal(size=(2048, 6)) * 2)
    exact = kde_mi(t, y, noise_var=1e-2)
    assert kde_mi(t, y, noise_var=1e-2, n_anchors=2048) == pytest.approx(exact, abs=1e-12)
    assert kde_mi(t, y, noise_var=1e-2, n_anchors=512) == pytest.approx(exact, abs=0.1)


# ------------------------------------------------------------------------------------------ batches, helpers


@pytest.mark.parametrize(
    "estimator", [binned_mi, adaptive_binned_mi, fixed_width_mi, lambda t, y: kde_mi(t, y, noise_var=1e-2, block=128)]
)
def test_batched_equals_per_model(estimator):
    rng = np.random.default_rng(6)
    t = np.tanh(rng.normal(size=(4, 500, 5)) * rng.uniform(0.3, 4, size=(4, 1, 1))).astype(np.float32)
    t[2] = np.maximum(t[2], 0) * 6  # a ReLU-like model with a different range
    y_shared = rng.integers(0, 2, 500)
    y_own = rng.integers(0, 3, (4, 500))
    for y, per in ((y_shared, lambda b: y_shared), (y_own, lambda b: y_own[b])):
        ixt, ity = estimator(t, y)
        assert ixt.shape == ity.shape == (4,)
        single = np.array([estimator(t[b], per(b)) for b in range(4)])
        np.testing.assert_allclose(ixt, single[:, 0], atol=1e-9)
        np.testing.assert_allclose(ity, single[:, 1], atol=1e-9)
    # torch in, same numbers out
    np.testing.assert_allclose(estimator(torch.from_numpy(t), torch.from_numpy(y_shared)), estimator(t, y_shared))


def _models(n_models: int, n: int, d: int, seed: int) -> np.ndarray:
    """``n_models`` float32 layers [n, d] of tanh- and ReLU-like activations on different scales."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n_models, n, d)) * rng.uniform(0.3, 5, size=(n_models, 1, 1))
    t[1::2] = np.maximum(t[1::2], 0) * 3  # ReLU-like, unbounded
    t[0::2] = np.tanh(t[0::2])
    return t.astype(np.float32)


@pytest.mark.parametrize(
    "estimator",
    [
        binned_mi,
        lambda t, y: binned_mi(t, y, n_bins=100),
        lambda t, y: binned_mi(t, y, original_edges=True),
        adaptive_binned_mi,
        lambda t, y: adaptive_binned_mi(t, y, n_bins=10),
        lambda t, y: fixed_width_mi(t, y, width=0.07),
        lambda t, y: kde_mi(t, y, noise_var=1e-3),
        lambda t, y: kde_mi(t, y, noise_var=1e-1, block=384),  # ragged blocks
        lambda t, y: kde_mi(t, y, noise_var=1e-2, n_anchors=300, block=128),
        lambda t, y: saturated_fraction(t),
    ],
    ids=[
        "bin30",
        "bin100",
        "bin30-original",
        "adaptive30",
        "adaptive10",
        "width0.07",
        "kde",
        "kde-ragged",
        "kde-anchors",
        "saturation",
    ],
)
@pytest.mark.parametrize("n, d", [(N, 10), (1000, 3)])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_model_gives_bit_identical_results_in_any_batch(estimator, n, d, threads):
    """Which BLAS / vectorised kernel a CPU library picks (so its rounding) can depend on the batch size B of a
    [B, n, d] operand, and on the threads: a model's estimate must not depend on B. Computed alone, in batches of
    2, 3 and 7 and at different positions, with shared and per-model labels: ==, not approx. (The batched KDE
    of before failed this on 2 threads with MKL's AVX2 code path, the one it takes on AMD CPUs:
    MKL_ENABLE_INSTRUCTIONS=AVX2.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check_batch_invariance(estimator, n, d)
    finally:
        torch.set_num_threads(before)


def _check_batch_invariance(estimator, n, d):
    t = _models(7, n, d, seed=n + d)
    rng = np.random.default_rng(9)
    y_shared = BITS[:n, 0].astype(int) if n == N else rng.integers(0, 3, n)
    y_own = rng.integers(0, 2, (7, n))

    def per_model(idx, y) -> np.ndarray:  # [metrics, len(idx)]: (I(X;T), I(T;Y)), or the saturated fraction
        return np.asarray(estimator(t[idx], y), dtype=np.float64).reshape(-1, len(idx))

    for labels in (lambda idx: y_shared, lambda idx: y_own[idx]):
        full = per_model(list(range(7)), labels(list(range(7))))
        for b in (0, 3, 6):
            for idx in ([b], [b, (b + 3) % 7], [(b + 1) % 7, b], [(b + 4) % 7, (b + 2) % 7, b]):
                got = per_model(idx, labels(idx))[:, idx.index(b)]
                assert np.array_equal(got, full[:, b]), (idx, got, full[:, b])
        # one model without a batch axis: the same floats
        alone = np.asarray(estimator(t[3], labels([3])[0] if labels([3]).ndim == 2 else y_shared), dtype=np.float64)
        assert np.array_equal(alone.reshape(-1), full[:, 3])


def test_recorded_activations_do_not_depend_on_the_batch():
    """The information records' forward pass (measure.per_model_layers) gives a model the same bits whichever models
    share its BatchedMLP, and agrees with the batched training forward up to rounding."""
    from repro.experiments.info_bottleneck.measure import per_model_layers
    from repro.nn.batched import BatchedMLP

    x = torch.from_numpy(BITS).float()
    seeds, acts = [0, 1, 2, 3, 4, 5, 6], ["tanh"] * 4 + ["relu"] * 3

    def model(idx):
        return BatchedMLP(
            [seeds[i] for i in idx], [12, 10, 7, 5, 4, 3, 2], [acts[i] for i in idx], init="truncated_normal"
        )

    full_layers, full_logits = per_model_layers(model(range(7)), x)
    with torch.no_grad():
        batched_layers, batched_logits = model(range(7)).layers(x)
    for a, b in zip([*full_layers, full_logits], [*batched_layers, batched_logits]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for idx in ([5], [1, 5], [5, 1, 4]):
        layers, logits = per_model_layers(model(idx), x)
        pos = idx.index(5)
        for a, b in zip([*layers, logits], [*full_layers, full_logits]):
            assert torch.equal(a[pos], b[5])


def test_saturation_and_ceiling_helpers():
    t = np.array([[[0.95], [-0.99], [0.1], [0.5]], [[0.0], [0.0], [0.0], [1.0]]])
    np.testing.assert_allclose(saturated_fraction(t), [0.5, 0.25])
    assert saturated_fraction(t[0]) == 0.5 and saturated_fraction(torch.tensor(t[1]), threshold=0.99) == 0.25
    assert ceiling_bits() == 12.0 and ceiling_bits(1024) == 10.0
    assert is_pinned([12.0, 11.995, 12.0]) and not is_pinned([12.0, 11.9, 12.0])
    assert is_pinned([10.0, 9.999], n=1024)
    np.testing.assert_array_equal(is_pinned(np.array([[12.0, 12.0], [12.0, 8.0]])), [True, False])
