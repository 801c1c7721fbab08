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
* :func:`adaptive_binned_mi` -- Saxe et al.'s variant for unbounded activations: equal bins over the observed
  ``[min, max]`` of the layer (per model, over all units and samples).
* :func:`kde_mi` -- the Kolchinsky & Tracey pairwise-distance (KL) upper bound on the entropy of ``T + N(0, s2 I)``.
* :func:`saturated_fraction`, :func:`ceiling_bits`, :func:`is_pinned` -- helpers for reading the curves.

Counting is exact (rows are relabelled to dense integer ids by sorting, no hashing); all models of a batch are
counted in one pass.
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


def _labels(y, batch: int, n: int) -> tuple[np.ndarray, int]:
    """Labels as dense class indices ``[B, n]`` (int64) and the number of classes."""
    lab = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if lab.ndim == 1:
        lab = np.broadcast_to(lab[None], (batch, lab.shape[0]))
    if lab.shape != (batch, n):
        raise ValueError(f"labels must have shape [n] or [B, n] = [{batch}, {n}], got {lab.shape}")
    _, idx = np.unique(lab, return_inverse=True)
    return idx.reshape(batch, n).astype(np.int64), int(idx.max()) + 1


def _out(values, batched: bool):
    arr = np.asarray(values, dtype=np.float64)
    return arr if batched else float(arr[0])


# --------------------------------------------------------------------------------------------------- counting
# (numpy: single-threaded sorts of B*n keys, a few ms, and immune to a busy second core)


def _row_ids(codes: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense ids of the rows of ``codes`` [B, n, d] (integers in [0, radix)), distinct across models.

    Returns (``inverse`` [B, n]: id of each row, ``counts`` [U]: rows per id, ``owner`` [U]: model of each id).
    Rows are packed as mixed-radix numbers led by the model index; whenever the next digit could overflow int64
    the numbers are replaced by their ranks (< B n), so the ids are exact.
    """
    batch, n, d = codes.shape
    key = np.repeat(np.arange(batch, dtype=np.int64), n)
    bound = batch  # key < bound
    limit = 2**62 // max(radix, 2)
    for k in range(d):
        if bound > limit:
            _, key = np.unique(key, return_inverse=True)
            bound = int(key.max()) + 1
        key = key * radix + codes[:, :, k].reshape(-1)
        bound *= radix
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    owner = first // n
    return inverse.reshape(batch, n), counts, owner


def _xlogx(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    return c * np.log(np.maximum(c, 1.0))


def _code_entropies(codes: np.ndarray, radix: int, y) -> tuple[np.ndarray, np.ndarray]:
    """(H(T), I(T;Y)) in bits, per model, of discrete codes ``[B, n, d]``."""
    batch, n, _ = codes.shape
    inverse, counts, owner = _row_ids(codes, radix)
    h_t = math.log(n) - np.bincount(owner, weights=_xlogx(counts), minlength=batch) / n  # nats
    lab, n_cls = _labels(y, batch, n)
    # joint (row id, class): the id already carries the model
    jkeys, jcounts = np.unique(inverse * n_cls + lab, return_counts=True)
    s_cls = np.bincount(owner[jkeys // n_cls] * n_cls + jkeys % n_cls, weights=_xlogx(jcounts), minlength=batch * n_cls)
    n_c = np.bincount((np.arange(batch)[:, None] * n_cls + lab).reshape(-1), minlength=batch * n_cls)
    # sum_c p_c H(T|c) = sum_c (n_c/n) (log n_c - s_c/n_c) = (sum_c n_c log n_c - s_c) / n
    h_cond = (_xlogx(n_c) - s_cls).reshape(batch, n_cls).sum(1) / n
    return h_t / LOG2, (h_t - h_cond) / LOG2


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
    if original_edges:
        edges = np.linspace(lo, hi, n_bins, dtype=np.float32)
        codes = np.digitize(x.astype(np.float32), edges) - 1
        codes[codes < 0] = n_bins - 1
    else:
        b = x.shape[0]
        codes = _bin_index(x, np.full(b, float(lo)), np.full(b, float(hi)), n_bins)
    h, ity = _code_entropies(codes, n_bins, y)
    return _out(h, batched), _out(ity, batched)


def adaptive_binned_mi(t, y, n_bins: int = 30):
    """Binning estimate of (I(X;T), I(T;Y)) in bits with ``n_bins`` equal bins over the observed range.

    Saxe et al.'s fix for unbounded (ReLU) activations: the range is ``[min, max]`` of the layer's activations,
    per model, over all units and samples, so large activations are resolved instead of merged into one edge
    bin.  A constant layer gives 0 bits.
    """
    x, batched = _as_batch(t)
    flat = x.reshape(x.shape[0], -1)
    codes = _bin_index(x, flat.min(1).astype(np.float64), flat.max(1).astype(np.float64), n_bins)
    h, ity = _code_entropies(codes, n_bins, y)
    return _out(h, batched), _out(ity, batched)


def _bin_index(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_bins: int) -> np.ndarray:
    """Index in [0, n_bins) of equal-width bins over [lo_b, hi_b] per model; outside values clipped to the edges."""
    width = (hi - lo) / n_bins
    width = np.where(width > 0, width, 1.0)
    z = (x.astype(np.float64) - lo[:, None, None]) / width[:, None, None]
    return np.clip(np.floor(z), 0, n_bins - 1).astype(np.int64)


# -------------------------------------------------------------------------------------------------------- KDE


def kde_mi(
    t, y, noise_var: float = NOISE_VAR_IBNET, n_anchors: int | None = None, block: int = 512, anchor_seed: int = 0,
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
    Exact (``n_anchors=None``) costs ~0.15 s for B = 10, n = 4096 on 2 idle cores; a second busy process on the
    same cores can slow torch's 2-thread kernels ~10x (``torch.set_num_threads(1)`` then helps).  ``device``
    is where the kernel sums run (a GPU for the 10 000 test images of the MNIST network).
    """
    if noise_var <= 0:
        raise ValueError("noise_var must be positive")
    x, batched = _as_batch(t)
    x = torch.from_numpy(x.astype(np.float64)).to(device)
    batch, n, _ = x.shape
    lab, n_cls = _labels(y, batch, n)
    lab = torch.from_numpy(lab).to(device)
    onehot = torch.nn.functional.one_hot(lab, n_cls).to(torch.float32)  # [B, n, C]
    n_c = onehot.sum(1).to(torch.float64)  # [B, C]
    x = x - x.mean(1, keepdim=True)
    sq = (x * x).sum(-1, keepdim=True)
    inv = 1.0 / noise_var
    ones = torch.ones_like(sq)
    # <rows_i, cols_j> = t_i.t_j / s2 - |t_i|^2 / (2 s2) - |t_j|^2 / (2 s2) = -||t_i - t_j||^2 / (2 s2)
    rows = torch.cat([x * inv, -0.5 * inv * sq, ones], -1)
    cols = torch.cat([x, ones, -0.5 * inv * sq], -1)

    def kernel(i0: int, i1: int, j0: int, j1: int, idx: torch.Tensor | None = None) -> torch.Tensor:
        r = rows[:, i0:i1] if idx is None else rows[:, idx]
        # exponents below -_EXP_FLOOR are raised to it: exp(-80) ~ 2e-35 is nothing beside the self term 1, and
        # it keeps exp off its very slow underflow path; float32 from here on (the exponent is exact to ~1e-6)
        s = torch.bmm(r, cols[:, j0:j1].transpose(1, 2)).clamp_(min=-_EXP_FLOOR, max=0.0)
        return s.to(torch.float32).exp_()

    with torch.no_grad():
        if n_anchors is None or n_anchors >= n:
            anchors = torch.arange(n, device=device)
            sums = torch.zeros(batch, n, n_cls, dtype=torch.float64, device=device)  # sum_{j in c} K_ij
            starts = list(range(0, n, block))
            for bi, i0 in enumerate(starts):
                i1 = min(i0 + block, n)
                for j0 in starts[bi:]:
                    j1 = min(j0 + block, n)
                    k = kernel(i0, i1, j0, j1)
                    sums[:, i0:i1] += torch.bmm(k, onehot[:, j0:j1])
                    if j0 != i0:
                        sums[:, j0:j1] += torch.bmm(k.transpose(1, 2), onehot[:, i0:i1])
        else:
            gen = torch.Generator().manual_seed(anchor_seed)
            anchors = torch.randperm(n, generator=gen)[: max(int(n_anchors), 1)].sort().values.to(device)
            sums = torch.zeros(batch, anchors.numel(), n_cls, dtype=torch.float64, device=device)
            for a0 in range(0, anchors.numel(), block):
                idx = anchors[a0 : a0 + block]
                for j0 in range(0, n, block):
                    j1 = min(j0 + block, n)
                    sums[:, a0 : a0 + idx.numel()] += torch.bmm(kernel(0, 0, j0, j1, idx), onehot[:, j0:j1])
        full = sums.sum(-1)  # >= 1: the self term
        a_lab = lab[:, anchors]
        own = sums.gather(2, a_lab[..., None])[..., 0]
        own_n = n_c.gather(1, a_lab)
        ixt = -(torch.log(full) - math.log(n)).mean(1)
        ity = (torch.log(own) - torch.log(own_n)).mean(1) + ixt
    return _out((ixt / LOG2).cpu().numpy(), batched), _out((ity / LOG2).cpu().numpy(), batched)


# ---------------------------------------------------------------------------------------------------- helpers


def saturated_fraction(t, threshold: float = 0.9):
    """Fraction of activations with ``|t| > threshold``, per model (over all units and samples)."""
    x, batched = _as_batch(t)
    frac = (np.abs(x) > threshold).reshape(x.shape[0], -1).mean(1)
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
