"""Mutual-information estimators of the information-bottleneck reproduction (batched over models).

Shwartz-Ziv & Tishby 2017 (arXiv 1703.00810) and Saxe et al. 2018 (ICLR, "On the information bottleneck theory
of deep learning") evaluate every hidden layer ``T`` of a network on all inputs ``x`` of a dataset in which each
``x`` occurs once.  ``T`` is then a deterministic function of ``x``, so with any estimate ``H`` of the entropy

    I(X;T) = H(T) - H(T|X) = H(T)            (binning: H(T|X) = 0;  KDE: H(T|X) = H(noise), subtracted)
    I(T;Y) = H(T) - sum_c p(c) H(T | Y=c).

Every function accepts activations ``t`` as a numpy array or torch tensor of shape ``[n, d]`` (one model) or
``[B, n, d]`` (``B`` models evaluated on the same ``n`` inputs; ``[n]`` is read as ``d = 1``) and integer labels
``y`` of shape ``[n]`` (shared by all models) or ``[B, n]``.  Results are in **bits**: a Python float for one model,
a float64 numpy array of shape ``[B]`` for a batch.

* :func:`binned_mi` -- the original estimator: each unit discretised into ``n_bins`` equal bins over a fixed range
  (``[-1, 1]``, the tanh range), entropies of the discrete row codes.
* :func:`fixed_width_mi` -- Saxe et al.'s estimator: bins of a fixed width with no range limit (``floor(t / w)``,
  artemyk/ibsgd ``simplebinmi.bin_calc_information2`` with ``binsize = 0.07`` in ``IBnet_ComputeMI.ipynb``), so
  large ReLU activations are resolved at the same resolution as small ones.
* :func:`adaptive_binned_mi` -- equal bins over the observed ``[min, max]`` of the layer (per model, over all units
  and samples): a range-adaptive estimator in the spirit of Chelombiev et al. 2019, whose bins widen as the
  activations grow. Not Saxe et al.'s estimator; kept as its own, labelled row.
* :func:`kde_mi` -- the Kolchinsky & Tracey pairwise-distance (KL) upper bound on the entropy of ``T + N(0, s2 I)``.
* :func:`saturated_fraction`, :func:`ceiling_bits`, :func:`is_pinned` -- helpers for reading the curves.

Counting is exact (rows are relabelled to dense integer ids by sorting, no hashing).

**Batch invariance.** A model's numbers do not depend on which other models share its batch, bit for bit: every
estimator works one model at a time, on arrays that hold that model's data alone and whose shapes do not depend
on ``B`` (bin edges from that model's min / max, its own row ids and labels, its own KDE distance blocks), and
reduces in float64.  (Batched arithmetic is not invariant: which BLAS or vectorised kernel a CPU library picks
for a ``[B, n, d]`` operand, and so its rounding, can depend on ``B``.)
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "NOISE_VAR_IBNET",
    "NOISE_VAR_MNIST",
    "adaptive_binned_mi",
    "binned_mi",
    "ceiling_bits",
    "fixed_width_mi",
    "is_pinned",
    "kde_mi",
    "saturated_fraction",
]

LOG2 = math.log(2.0)
_EXP_FLOOR = 80.0

#: Noise variance of the KDE estimate for the 12-bit "IBnet" dataset (Saxe et al.'s code, artemyk/ibsgd,
#: ``IBnet_ComputeMI.ipynb``: ``noise_variance = 1e-3``, unchanged from the notebook's first commit 63f89c7 to the
#: last, 04c1b62).
NOISE_VAR_IBNET = 1e-3
#: Noise variance of the same code's MNIST analysis (``MNIST_ComputeMI.ipynb`` / earlier ``ComputeMI.ipynb``:
#: ``noise_variance = 1e-1``).
NOISE_VAR_MNIST = 1e-1


# ----------------------------------------------------------------------------------------------------- inputs


def _as_batch(t) -> tuple[np.ndarray, bool]:
    """``t`` as a float numpy array ``[B, n, d]`` and whether a batch axis was given."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    x = np.asarray(t)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim == 1:
        return x[None, :, None], False
    if x.ndim == 2:
        return x[None], False
    if x.ndim == 3:
        return x, True
    raise ValueError(f"activations must have shape [n], [n, d] or [B, n, d], got {x.shape}")


def _labels(y, batch: int, n: int) -> list[tuple[np.ndarray, int]]:
    """Per model: its labels as dense class indices ``[n]`` (int64, ranks among its own label values) and its number
    of classes.  ``y`` is ``[n]`` (shared) or ``[B, n]``."""
    lab = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if lab.ndim == 1:
        if lab.shape != (n,):
            raise ValueError(f"labels must have shape [n] or [B, n] = [{batch}, {n}], got {lab.shape}")
        _, idx = np.unique(lab, return_inverse=True)
        shared = (idx.reshape(n).astype(np.int64), int(idx.max()) + 1)
        return [shared] * batch
    if lab.shape != (batch, n):
        raise ValueError(f"labels must have shape [n] or [B, n] = [{batch}, {n}], got {lab.shape}")
    out = []
    for row in lab:
        _, idx = np.unique(row, return_inverse=True)
        out.append((idx.reshape(n).astype(np.int64), int(idx.max()) + 1))
    return out


def _out(values, batched: bool):
    arr = np.asarray(values, dtype=np.float64)
    return arr if batched else float(arr[0])


# --------------------------------------------------------------------------------------------------- counting
# (numpy, one model at a time: single-threaded sorts of n keys, well under a millisecond each)


def _row_ids(codes: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense ids of the rows of one model's ``codes`` [n, d] (integers in [0, radix)).

    Returns (``inverse`` [n]: id of each row, ``counts`` [U]: rows per id), ids in the lexicographic order of the
    rows.  Rows are packed as mixed-radix numbers; whenever the next digit could overflow int64 the numbers are
    replaced by their ranks (< n), so the ids are exact.
    """
    n, d = codes.shape
    key = np.zeros(n, dtype=np.int64)
    bound = 1  # key < bound
    limit = 2**62 // max(radix, 2)
    for k in range(d):
        if bound > limit:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(n).astype(np.int64)
            bound = int(key.max()) + 1
        key = key * radix + codes[:, k]
        bound *= radix
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return inverse.reshape(n), counts


def _sum_xlogx(counts: np.ndarray) -> float:
    """sum c log c (nats) over a 1-D array of counts, in float64."""
    c = np.asarray(counts, dtype=np.float64)
    return float(np.sum(c * np.log(np.maximum(c, 1.0))))


def _code_entropies(codes: np.ndarray, radix: int, lab: np.ndarray, n_cls: int) -> tuple[float, float]:
    """(H(T), I(T;Y)) in bits of one model's discrete codes ``[n, d]`` and dense labels ``[n]``."""
    n = codes.shape[0]
    inverse, counts = _row_ids(codes, radix)
    h_t = math.log(n) - _sum_xlogx(counts) / n  # nats
    # joint (row id, class), and the classes
    _, jcounts = np.unique(inverse * n_cls + lab, return_counts=True)
    n_c = np.bincount(lab, minlength=n_cls)
    # sum_c p_c H(T|c) = sum_c (n_c/n) (log n_c - s_c/n_c) = (sum_c n_c log n_c - sum_c s_c) / n,
    # s_c = sum over the ids of class c of count log count: together, the joint counts
    h_cond = (_sum_xlogx(n_c) - _sum_xlogx(jcounts)) / n
    return h_t / LOG2, (h_t - h_cond) / LOG2


def _per_model(x: np.ndarray, y, fn) -> tuple[np.ndarray, np.ndarray]:
    """(I(X;T), I(T;Y)) arrays ``[B]`` of ``fn(model's activations [n, d], its labels, its number of classes)``."""
    batch, n, _ = x.shape
    res = [fn(np.array(x[b]), lab, n_cls) for b, (lab, n_cls) in enumerate(_labels(y, batch, n))]
    return np.array([r[0] for r in res], dtype=np.float64), np.array([r[1] for r in res], dtype=np.float64)


# ---------------------------------------------------------------------------------------------------- binning


def binned_mi(t, y, n_bins: int = 30, lo: float = -1.0, hi: float = 1.0, original_edges: bool = False):
    """Binning estimate of (I(X;T), I(T;Y)) in bits, per model, over the fixed range ``[lo, hi]``.

    Default: every unit is cut into ``n_bins`` equal-width bins over ``[lo, hi]``; values outside the range are
    clipped into the edge bins (so all ReLU outputs ``>= hi`` share one bin).  I(X;T) is the entropy of the
    distinct rows of bin indices (= I(X;T) because each input occurs once), I(T;Y) = H(T) - sum_c p_c H(T|Y=c).

    ``original_edges=True`` reproduces Shwartz-Ziv & Tishby's code literally (ravidziv/IDNNs
    ``information_process.py``; artemyk/ibsgd ``simplebinmi.bin_calc_information``):
    ``bins = np.linspace(lo, hi, n_bins)`` (float32), ``bins[np.digitize(t, bins) - 1]`` -- i.e. ``n_bins``
    *edges* (``n_bins - 1`` intervals plus the point ``>= hi``), and, through the ``-1`` index, values below
    ``lo`` land in the same code as values ``>= hi``.
    """
    x, batched = _as_batch(t)

    def one(xb: np.ndarray, lab: np.ndarray, n_cls: int) -> tuple[float, float]:
        if original_edges:
            edges = np.linspace(lo, hi, n_bins, dtype=np.float32)
            codes = np.digitize(xb.astype(np.float32), edges) - 1
            codes[codes < 0] = n_bins - 1
        else:
            codes = _bin_index(xb, float(lo), float(hi), n_bins)
        return _code_entropies(codes, n_bins, lab, n_cls)

    h, ity = _per_model(x, y, one)
    return _out(h, batched), _out(ity, batched)


def fixed_width_mi(t, y, width: float = 0.07):
    """Saxe et al.'s binning estimate of (I(X;T), I(T;Y)) in bits, per model: every unit is discretised as
    ``floor(t / width)`` with no range limit (artemyk/ibsgd ``simplebinmi.bin_calc_information2``; ``binsize =
    0.07`` in ``IBnet_ComputeMI.ipynb``), then the entropies of the distinct rows of codes as in
    :func:`binned_mi`. Two activations share a code only if they fall in the same width-``width`` cell, however
    large they are."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    x, batched = _as_batch(t)

    def one(xb: np.ndarray, lab: np.ndarray, n_cls: int) -> tuple[float, float]:
        codes = np.floor(xb.astype(np.float64) / width)
        codes -= codes.min()  # non-negative digits for _row_ids; a shift does not change which rows are equal
        return _code_entropies(codes.astype(np.int64), int(codes.max()) + 1, lab, n_cls)

    h, ity = _per_model(x, y, one)
    return _out(h, batched), _out(ity, batched)


def adaptive_binned_mi(t, y, n_bins: int = 30):
    """Binning estimate of (I(X;T), I(T;Y)) in bits with ``n_bins`` equal bins over the observed range.

    The range is ``[min, max]`` of the layer's activations, per model, over all units and samples, so the bins
    widen as the activations grow (a range-adaptive estimator, as in Chelombiev et al. 2019; not Saxe et al.'s
    fixed-width bins, :func:`fixed_width_mi`).  A constant layer gives 0 bits.
    """
    x, batched = _as_batch(t)

    def one(xb: np.ndarray, lab: np.ndarray, n_cls: int) -> tuple[float, float]:
        codes = _bin_index(xb, float(xb.min()), float(xb.max()), n_bins)  # min / max: exact, in any order
        return _code_entropies(codes, n_bins, lab, n_cls)

    h, ity = _per_model(x, y, one)
    return _out(h, batched), _out(ity, batched)


def _bin_index(x: np.ndarray, lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Index in [0, n_bins) of equal-width bins over [lo, hi] (float64); outside values clipped to the edges."""
    width = (hi - lo) / n_bins
    width = width if width > 0 else 1.0
    z = (x.astype(np.float64) - lo) / width
    return np.clip(np.floor(z), 0, n_bins - 1).astype(np.int64)


# -------------------------------------------------------------------------------------------------------- KDE


def kde_mi(
    t,
    y,
    noise_var: float = NOISE_VAR_IBNET,
    n_anchors: int | None = None,
    block: int = 512,
    anchor_seed: int = 0,
    device: str | torch.device = "cpu",
):
    """Kolchinsky & Tracey upper-bound estimate of (I(X;T), I(T;Y)) in bits, per model.

    ``T`` is read as the Gaussian mixture ``T + eps``, ``eps ~ N(0, noise_var I)``, one component per input.  The
    pairwise-distance (KL) upper bound on its entropy (Kolchinsky & Tracey 2017, Entropy 19:361, Sec. 4), as coded
    by Saxe et al. (artemyk/ibsgd ``kde.py``: ``entropy_estimator_kl``, ``kde_condentropy``), is, in nats,

        H_up(T) = d/2 - mean_i log[ (1/n) sum_j exp(-||t_i - t_j||^2 / (2 s2)) ] + d/2 log(2 pi s2),
        H(T|X)  = H(eps) = d/2 (log(2 pi s2) + 1),

    and their notebooks report ``I(X;T) = H_up(T) - H(T|X)`` and ``I(T;Y) = H_up(T) - sum_c p_c H_up(T|Y=c)``,
    times ``1/log 2``.  The constants cancel, leaving

        I(X;T) = -mean_i log[ (1/n)   sum_j          K_ij ],       K_ij = exp(-||t_i - t_j||^2 / (2 s2)),
        I(T;Y) =  mean_i log[ (1/n_c) sum_{j: y_j=c} K_ij ] + I(X;T),   c = y_i,

    so ``0 <= I(X;T) <= log2 n`` (the ceiling is reached when all points are many ``sqrt(s2)`` apart).

    ``noise_var`` defaults to 1e-3, the value of Saxe et al.'s 12-bit-dataset analysis (``IBnet_ComputeMI.ipynb``
    in artemyk/ibsgd, ``noise_variance = 1e-3``); their MNIST analysis used 1e-1 (``NOISE_VAR_MNIST``).

    Exponents are computed in float64 from the mean-centred activations (kernel values then in float32, terms
    below exp(-80) raised to it) in blocks of ``block`` rows and columns (memory ``~12 B block**2`` bytes), using
    the symmetry of ``K`` (each block pair once).  ``n_anchors``, if given, averages the outer ``mean_i`` over that
    many rows ``i`` only, drawn without replacement with seed ``anchor_seed`` (the same rows for every model and
    call; every ``j`` still counts): an unbiased estimate of the full value, ``n / n_anchors`` times cheaper.
    Models are evaluated one at a time (2-D matmuls whose shapes do not depend on ``B``; final means in float64),
    so a model's result is bit-identical whichever models share its batch.  Exact (``n_anchors=None``) costs
    ~0.2 s for B = 10, n = 4096, d = 10 on one idle core; a second busy process on the same cores can slow torch's
    2-thread kernels ~10x (``torch.set_num_threads(1)`` then helps).  ``device`` is where the kernel sums run (a
    GPU for the 10 000 test images of the MNIST network).
    """
    if noise_var <= 0:
        raise ValueError("noise_var must be positive")
    x, batched = _as_batch(t)
    n = x.shape[1]
    if n_anchors is None or n_anchors >= n:
        anchors = None
    else:
        gen = torch.Generator().manual_seed(anchor_seed)
        anchors = torch.randperm(n, generator=gen)[: max(int(n_anchors), 1)].sort().values

    def one(xb: np.ndarray, lab: np.ndarray, n_cls: int) -> tuple[float, float]:
        return _kde_one(xb, lab, n_cls, noise_var, anchors, block, device)

    ixt, ity = _per_model(x, y, one)
    return _out(ixt, batched), _out(ity, batched)


def _kde_one(
    xb: np.ndarray, lab: np.ndarray, n_cls: int, noise_var: float, anchors: torch.Tensor | None, block: int, device
) -> tuple[float, float]:
    """:func:`kde_mi` of one model: activations ``[n, d]``, dense labels ``[n]``; (I(X;T), I(T;Y)) in bits."""
    n = xb.shape[0]
    x = xb.astype(np.float64)
    x = x - x.mean(0)  # float64, one model: the same sums whatever the batch
    sq = (x * x).sum(1, keepdims=True)
    inv = 1.0 / noise_var
    ones = np.ones_like(sq)
    # <rows_i, cols_j> = t_i.t_j / s2 - |t_i|^2 / (2 s2) - |t_j|^2 / (2 s2) = -||t_i - t_j||^2 / (2 s2)
    # torch.tensor copies into torch's own (64-byte aligned) memory: every model's BLAS calls see the same
    # shapes, strides and alignment
    rows = torch.tensor(np.concatenate([x * inv, -0.5 * inv * sq, ones], 1), device=device)
    cols = torch.tensor(np.concatenate([x, ones, -0.5 * inv * sq], 1), device=device)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(lab).to(device), n_cls).to(torch.float32)  # [n, C]

    def kernel(r: torch.Tensor, j0: int, j1: int) -> torch.Tensor:
        # exponents below -_EXP_FLOOR are raised to it: exp(-80) ~ 2e-35 is nothing beside the self term 1, and
        # it keeps exp off its very slow underflow path; float32 from here on (the exponent is exact to ~1e-6)
        s = torch.mm(r, cols[j0:j1].t()).clamp_(min=-_EXP_FLOOR, max=0.0)
        return s.to(torch.float32).exp_()

    with torch.no_grad():
        if anchors is None:
            sums = torch.zeros(n, n_cls, dtype=torch.float64, device=device)  # sum_{j in c} K_ij
            starts = list(range(0, n, block))
            for bi, i0 in enumerate(starts):
                i1 = min(i0 + block, n)
                for j0 in starts[bi:]:
                    j1 = min(j0 + block, n)
                    k = kernel(rows[i0:i1], j0, j1)
                    sums[i0:i1] += torch.mm(k, onehot[j0:j1])
                    if j0 != i0:
                        sums[j0:j1] += torch.mm(k.t(), onehot[i0:i1])
            a_idx = np.arange(n)
        else:
            idx_all = anchors.to(device)
            sums = torch.zeros(idx_all.numel(), n_cls, dtype=torch.float64, device=device)
            for a0 in range(0, idx_all.numel(), block):
                idx = idx_all[a0 : a0 + block]
                r = rows[idx]
                for j0 in range(0, n, block):
                    j1 = min(j0 + block, n)
                    sums[a0 : a0 + idx.numel()] += torch.mm(kernel(r, j0, j1), onehot[j0:j1])
            a_idx = anchors.numpy()
    sums = sums.cpu().numpy()
    full = sums.sum(1)  # >= 1: the self term
    a_lab = lab[a_idx]
    own = sums[np.arange(len(a_idx)), a_lab]
    own_n = np.bincount(lab, minlength=n_cls).astype(np.float64)[a_lab]
    ixt = -float(np.mean(np.log(full) - math.log(n)))
    ity = float(np.mean(np.log(own) - np.log(own_n))) + ixt
    return ixt / LOG2, ity / LOG2


# ---------------------------------------------------------------------------------------------------- helpers


def saturated_fraction(t, threshold: float = 0.9):
    """Fraction of activations with ``|t| > threshold``, per model (over all units and samples)."""
    x, batched = _as_batch(t)
    frac = [np.count_nonzero(np.abs(xb) > threshold) / xb.size for xb in x]  # exact counts, per model
    return _out(frac, batched)


def ceiling_bits(n: int = 4096) -> float:
    """Largest value of I(X;T) on ``n`` equiprobable distinct inputs: ``log2 n`` (12 bits for the 12-bit set)."""
    return math.log2(n)


def is_pinned(ixt_series, n: int = 4096, tol: float = 0.01):
    """Whether an I(X;T) series (bits, epochs on the last axis) stays within ``tol`` bits of ``log2 n`` throughout.

    Such a layer keeps every input distinguishable at every epoch: the estimator cannot show compression there.
    Returns a bool for a 1-D series, a bool array over the leading axes otherwise.
    """
    if isinstance(ixt_series, torch.Tensor):
        ixt_series = ixt_series.detach().cpu().numpy()
    arr = np.asarray(ixt_series, dtype=np.float64)
    pinned = np.all(arr >= ceiling_bits(n) - tol, axis=-1)
    return bool(pinned) if pinned.ndim == 0 else pinned
