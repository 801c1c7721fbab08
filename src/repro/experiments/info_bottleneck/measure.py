"""One record of the information plane: every estimator on every hidden layer of a batch of networks.

Both networks of the experiment (the 12-bit one and Saxe et al.'s MNIST one) record through `layer_rows`,
so their tables have the same columns: activation, seed, layer, estimator, step (the epoch), metric, value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from repro.experiments.info_bottleneck import estimators as est

MODEL_CHUNK = 8  # binning counts this many models at once: bounds the integer codes of wide layers in memory


def _chunked(fn, t: torch.Tensor, y: np.ndarray, **kw) -> tuple[np.ndarray, np.ndarray]:
    parts = [fn(t[i:i + MODEL_CHUNK].detach().cpu(), y, **kw) for i in range(0, len(t), MODEL_CHUNK)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def layer_rows(layers: Sequence[torch.Tensor], y: np.ndarray, points: Sequence[tuple[str, int]], epoch: int, *,
               bins: Sequence[int], kde_noise_var: float | None, device: str | torch.device = "cpu") -> list[dict]:
    """Rows of I(X;T) and I(T;Y) per estimator, and the saturated fraction, of each hidden layer ([B, n, d] each,
    model b = points[b] = (activation, seed)). KDE runs only when `kde_noise_var` is given."""
    rows: list[dict] = []
    for layer, t in enumerate(layers, start=1):
        results = {f"bin{n}": _chunked(est.binned_mi, t, y, n_bins=n) for n in bins}
        results |= {f"adaptive{n}": _chunked(est.adaptive_binned_mi, t, y, n_bins=n) for n in bins}
        if kde_noise_var is not None:
            results["kde"] = est.kde_mi(t.detach(), y, noise_var=kde_noise_var, device=device)
        sat = est.saturated_fraction(t.detach().cpu())
        for b, (a, s) in enumerate(points):
            base = {"activation": a, "seed": s, "layer": layer, "step": epoch}
            rows.append(base | {"estimator": None, "metric": "saturation", "value": float(sat[b])})
            for name, (ixt, ity) in results.items():
                rows.append(base | {"estimator": name, "metric": "ixt", "value": float(ixt[b])})
                rows.append(base | {"estimator": name, "metric": "ity", "value": float(ity[b])})
    return rows


def accuracy_rows(logits: torch.Tensor, y: torch.Tensor, points: Sequence[tuple[str, int]], epoch: int) -> list[dict]:
    acc = (logits.argmax(-1) == y).double().mean(1).cpu()
    return [{"activation": a, "seed": s, "layer": 0, "estimator": None, "step": epoch, "metric": "test_acc",
             "value": acc[b].item()} for b, (a, s) in enumerate(points)]
