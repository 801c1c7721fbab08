"""One record of the information plane: every estimator on every hidden layer of a batch of networks.

Both networks of the experiment (the 12-bit one and Saxe et al.'s MNIST one) record through `layer_rows`,
so their tables have the same columns: activation, seed, layer, estimator, step (the epoch), metric, value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING

from repro.config import ConfigError, positive
from repro.experiments.info_bottleneck import estimators as est
from repro.train import MinibatchOrder, denormals_flushed, log_spaced_steps, train


@dataclass
class Estimators:
    """Which estimators a record computes (conf/experiment/info_bottleneck.yaml, estimators:). The table's
    `estimator` column names them: st<bins>, width<w>, adaptive<bins>, kde."""

    st_bins: int = MISSING  # Shwartz-Ziv & Tishby: edges linspace(-1, 1, st_bins), their code's digitize
    bin_widths: list[float] = field(default=MISSING)  # Saxe et al.: floor(t / w), no range limit; the first is theirs
    adaptive_bins: int = MISSING  # equal bins over each layer's observed [min, max] (range-adaptive; not Saxe's)
    kde_noise_var: float = MISSING  # Kolchinsky & Tracey's upper bound, at Saxe et al.'s noise variance

    def __post_init__(self) -> None:
        positive("experiment.estimators.st_bins", self.st_bins)
        positive("experiment.estimators.adaptive_bins", self.adaptive_bins)
        positive("experiment.estimators.kde_noise_var", self.kde_noise_var)
        if not self.bin_widths:
            raise ConfigError("experiment.estimators.bin_widths must list at least Saxe et al.'s width (0.07)")
        for w in self.bin_widths:
            positive("experiment.estimators.bin_widths[]", w)

    def binned(self) -> dict[str, Callable]:
        """name -> estimator(t, y) of every binning estimator."""
        out = {f"st{self.st_bins}": lambda t, y: est.binned_mi(t, y, n_bins=self.st_bins, original_edges=True)}
        out |= {width_name(w): (lambda t, y, w=w: est.fixed_width_mi(t, y, width=w)) for w in self.bin_widths}
        out[f"adaptive{self.adaptive_bins}"] = lambda t, y: est.adaptive_binned_mi(t, y, n_bins=self.adaptive_bins)
        return out


def width_name(width: float) -> str:
    """The estimator name of Saxe et al.'s binning at this width: width0.07."""
    return f"width{width:g}"


def per_model_layers(model, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """`model.layers(x)` (hidden layers [B, n, width] after their activation, logits [B, n, out]) computed one model
    at a time, so that each model's numbers are bit-identical whichever models share the batch.

    The batched forward is one `baddbmm` over the B models, and which BLAS kernel the CPU library picks for a
    [B, n, d] operand (so its rounding) can depend on B; here every model runs the same 2-D matmuls on its own
    fresh (aligned) copy of its weights, with shapes that do not depend on B. Cost: B small matmuls instead of one
    batched one, per recorded epoch."""
    from repro.nn.batched import ACTIVATIONS

    n_layers, n_models = len(model.weights), model.n_models
    n = x.shape[-2]
    with torch.no_grad():
        out = [torch.empty(n_models, n, w.shape[-1], dtype=w.dtype, device=w.device) for w in model.weights]
        for b in range(n_models):
            h = x.contiguous() if x.dim() == 2 else x[b].clone(memory_format=torch.contiguous_format)
            act = ACTIVATIONS[model.activations[b]]
            for i, w in enumerate(model.weights):
                wb = (w[b] * model.masks[i][b]) if model.masks is not None else w[b].clone()
                h = torch.mm(h, wb)  # h: a fresh tensor of its own, never a slice of `out`
                if model.bias:
                    h = h + model.biases[i][b].clone()
                if i < n_layers - 1:
                    h = act(h)
                out[i][b] = h
    return out[:-1], out[-1]


def layer_rows(
    layers: Sequence[torch.Tensor],
    y: np.ndarray,
    points: Sequence[tuple[str, int]],
    epoch: int,
    *,
    estimators: Estimators,
    kde: bool,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Rows of I(X;T) and I(T;Y) per estimator, and the saturated fraction, of each hidden layer ([B, n, d] each,
    model b = points[b] = (activation, seed)). KDE runs only when `kde`."""
    rows: list[dict] = []
    for layer, t in enumerate(layers, start=1):
        # every estimator works one model at a time (see estimators): a model's numbers do not depend on the batch
        t_cpu = t.detach().cpu().numpy()
        results = {name: fn(t_cpu, y) for name, fn in estimators.binned().items()}
        if kde:
            results["kde"] = est.kde_mi(t_cpu, y, noise_var=estimators.kde_noise_var, device=device)
        sat = est.saturated_fraction(t_cpu)
        for b, (a, s) in enumerate(points):
            base = {"activation": a, "seed": s, "layer": layer, "step": epoch}
            rows.append(base | {"estimator": None, "metric": "saturation", "value": float(sat[b])})
            for name, (ixt, ity) in results.items():
                rows.append(base | {"estimator": name, "metric": "ixt", "value": float(ixt[b])})
                rows.append(base | {"estimator": name, "metric": "ity", "value": float(ity[b])})
    return rows


def accuracy_rows(logits: torch.Tensor, y: torch.Tensor, points: Sequence[tuple[str, int]], epoch: int) -> list[dict]:
    acc = (logits.argmax(-1) == y).double().mean(1).cpu()
    return [
        {
            "activation": a,
            "seed": s,
            "layer": 0,
            "estimator": None,
            "step": epoch,
            "metric": "test_acc",
            "value": acc[b].item(),
        }
        for b, (a, s) in enumerate(points)
    ]


def train_in_information_plane(
    ctx,
    model,
    points: Sequence[tuple[str, int]],
    *,
    x: torch.Tensor,
    y: torch.Tensor,
    pool: torch.Tensor,
    x_info: torch.Tensor,
    y_info: torch.Tensor,
    acc_index: torch.Tensor | None,
    batch_size: int,
    epochs: int,
    n_records: int,
    kde_records: int,
    estimators: Estimators,
    optimizer: Callable,
) -> pd.DataFrame:
    """Train the batched `model` (model b = points[b] = (activation, seed)) with cross-entropy on minibatches of
    the samples `pool` of (x, y), each model in its own order. At ~`n_records` log-spaced epochs, record every
    hidden layer's information on (x_info, y_info) (KDE at ~`kde_records` of them, the last included) and the
    accuracy on x_info[acc_index] (all of x_info when None). `step` in the rows is the epoch."""
    B, n_classes = len(points), model.sizes[-1]
    batches = MinibatchOrder(pool, [7_919 * s + 1 for _, s in points], batch_size, drop_last=False)
    per_epoch = batches.steps_per_epoch
    records = log_spaced_steps(epochs, n_records)
    # KDE at ~kde_records of the record epochs, the last included; none when kde_records is 0
    kde_epochs = set(records[:: max(1, len(records) // kde_records)]) | {records[-1]} if kde_records > 0 else set()
    y_info_np = y_info.cpu().numpy()
    rows: list[dict] = []
    ctx.keep("rows", rows)  # a resumed run gets these back (see repro.checkpoint)
    ctx.keep("batches", batches)

    from repro.nn.fused import FlatBatchedMLP, cross_entropy_losses, gather_rows

    def losses() -> torch.Tensor:
        idx = batches()
        if isinstance(model, FlatBatchedMLP):  # one hand-written forward and backward: ~1.6x faster on a CPU
            return cross_entropy_losses(model, gather_rows(x, idx), gather_rows(y, idx))
        logits = model(x[idx])
        return (
            torch.nn.functional.cross_entropy(logits.reshape(-1, n_classes), y[idx].reshape(-1), reduction="none")
            .view(B, -1)
            .mean(1)
        )

    spent = {"records": 0, "seconds": 0.0}  # the information records' share of the shard's time, for its log

    def record(step: int) -> None:
        start = time.perf_counter()
        epoch = step // per_epoch
        layers, logits = per_model_layers(model, x_info)  # not model.layers: its batched matmul depends on B
        if acc_index is None:
            rows.extend(accuracy_rows(logits, y_info, points, epoch))
        else:
            rows.extend(accuracy_rows(logits[:, acc_index], y_info[acc_index], points, epoch))
        rows.extend(
            layer_rows(
                layers, y_info_np, points, epoch, estimators=estimators, device=ctx.device, kde=epoch in kde_epochs
            )
        )
        spent["records"] += 1
        spent["seconds"] += time.perf_counter() - start

    start = time.perf_counter()
    with denormals_flushed():  # dead ReLU units' Adam moments decay into subnormals: slow on CPUs
        train(
            model.parameters(),
            losses,
            steps=epochs * per_epoch,
            optimizer=optimizer,
            record=record,
            record_steps=[e * per_epoch for e in records],
            label=ctx.label(),
            model_names=[f"{a}/seed{s}" for a, s in points],
        )
    total = time.perf_counter() - start
    print(
        f"[{ctx.label()}] {epochs * per_epoch} steps and {spent['records']} information records ({len(kde_epochs)} "
        f"with KDE) in {total:.1f} s, of which the records {spent['seconds']:.1f} s",
        flush=True,
    )
    table = pd.DataFrame(rows)
    table["estimator"] = table["estimator"].fillna("")
    return table
