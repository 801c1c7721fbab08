"""A `BatchedMLP` whose parameters are one flat tensor, and a hand-written cross-entropy step for it.

Why: the information-bottleneck nets are tiny (12-10-7-5-4-3-2), so a training step is all per-op overhead: autograd
records and replays a graph node per op, and Adam walks 12 tensors. Here the forward and backward pass are one
`torch.autograd.Function` (bmm/baddbmm and elementwise ops, no graph inside), and Adam sees one tensor
(`python -m repro.benchmark ib-fused` times both paths).

`FlatBatchedMLP` has BatchedMLP's constructor, initial numbers, `forward`/`layers` and attributes (`weights`,
`biases`, `activations`, `masks`, `bias`, ...), so code that reads a BatchedMLP reads it too. `cross_entropy_losses`
is the fast path for training; `forward` stays an ordinary autograd computation through views of `flat`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from repro.nn.batched import BatchedMLP


class FlatBatchedMLP(nn.Module):
    """B independent MLPs, all weights and biases in one 1-D Parameter `flat`.

    Layout of `flat`, layer by layer: weight i ([B, fan_in, fan_out], row-major), then bias i ([B, fan_out]).
    `weights` / `biases` are views into `flat`, rebuilt on every access, so a `copy_` into `flat`, a
    `load_state_dict` or a `.data` swap is always seen. No pruning masks (`masks` is always None).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        sizes: Sequence[int],
        activation: str | Sequence[str],
        *,
        bias: bool = True,
        init: str | Sequence[str] = "torch_default",
        dtype=torch.float32,
    ):
        super().__init__()
        ref = BatchedMLP(seeds, sizes, activation, bias=bias, init=init, dtype=dtype)  # the same initial numbers
        self.sizes, self.n_models, self.activations, self.bias = ref.sizes, ref.n_models, ref.activations, bias
        self._runs = [tuple(r) for r in ref._runs]
        B = self.n_models
        self._shapes: list[tuple[int, ...]] = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            self._shapes += [(B, a, b), (B, b)] if bias else [(B, a, b)]
        self._numels = [s[0] * s[1] * (s[2] if len(s) == 3 else 1) for s in self._shapes]
        self._offsets = [sum(self._numels[:i]) for i in range(len(self._numels))]
        parts = [t for pair in zip(ref.weights, ref.biases) for t in pair] if bias else list(ref.weights)
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in parts]))
        self._cache: tuple = (None, None)  # (key of flat's storage, views into flat.detach()): see _fast_views

    # ---- BatchedMLP's interface

    def views(self, flat: torch.Tensor | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(weights, biases) as views into `flat` (default: `self.flat`). One narrow per tensor, not one split: autograd
        refuses to use views from a multi-output view op once their base changed in place (an optimizer step)."""
        flat = self.flat if flat is None else flat
        parts = [flat.narrow(0, o, n).view(s) for o, n, s in zip(self._offsets, self._numels, self._shapes)]
        return (parts[0::2], parts[1::2]) if self.bias else (parts, [])

    def _fast_views(self) -> tuple:
        """What the fused step needs, cached while flat's storage stays the same (building the views costs ~30 us,
        a tenth of the step): views of `flat.detach()` (weights; weights transposed, [B, fan_out, fan_in]; biases as
        columns [B, fan_out, 1], or None), and a gradient buffer shaped like flat with its (weights, biases) views,
        which the backward pass fills with out= and returns a copy of. In-place updates (optimizer steps, copy_,
        load_state_dict) keep the storage, so the views see them; a `.data` swap, `.to()` or a new Parameter changes
        the key and rebuilds them. The cache keeps the old storage alive, so no new tensor can reuse its address."""
        f = self.flat
        key = (f.data_ptr(), f.shape, f.dtype, f.device)
        if self._cache[0] != key:
            ws, bs = self.views(f.detach())
            grad = torch.empty_like(f, requires_grad=False)
            self._cache = (
                key,
                (
                    ws,
                    [w.transpose(1, 2) for w in ws],
                    [b.unsqueeze(2) for b in bs] if bs else None,
                    grad,
                    *self.views(grad),
                ),
            )
        return self._cache[1]

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.views()[0]

    @property
    def biases(self) -> list[torch.Tensor]:
        return self.views()[1]

    @property
    def masks(self) -> None:
        return None

    @masks.setter
    def masks(self, value) -> None:
        if value is not None:
            raise NotImplementedError("FlatBatchedMLP does not support pruning masks; use repro.nn.batched.BatchedMLP")

    def set_masks(self, masks) -> None:
        self.masks = masks

    def apply_masks_(self) -> None:  # no masks, nothing to re-apply
        pass

    _act = BatchedMLP._act
    layers = BatchedMLP.layers  # same code, so exactly the same semantics (through the views of `flat`)
    forward = BatchedMLP.forward


def cross_entropy_losses(model: FlatBatchedMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model mean cross-entropy [B] of `model` on x ([B, n, d], each model its own minibatch, or [n, d] shared)
    and integer labels y ([B, n] or [n]); differentiable w.r.t. `model.flat` only (x gets no gradient)."""
    if x.requires_grad:
        raise ValueError("cross_entropy_losses gives no gradient w.r.t. x; detach x or use model(x) with autograd")
    B = model.n_models
    x = x.expand(B, *x.shape) if x.dim() == 2 else x
    y = y.expand(B, *y.shape) if y.dim() == 1 else y
    return _MLPCrossEntropy.apply(model.flat, x, y, model)


# activations in place (on a fresh matmul output), and d/d(pre-activation) from the activation's output h computed
# as autograd does (same kernels, same rounding)
_ACT_ = {"tanh": torch.tanh_, "relu": torch.relu_, "identity": lambda h: h}
_BACKWARD = {
    "tanh": torch.ops.aten.tanh_backward,
    "relu": lambda d, h: torch.ops.aten.threshold_backward(d, h, 0),
    "identity": lambda d, h: d,
}


def _act_(h: torch.Tensor, runs) -> torch.Tensor:
    for a, lo, hi in runs:
        _ACT_[a](h if len(runs) == 1 else h[lo:hi])
    return h


def _act_backward(d: torch.Tensor, h: torch.Tensor, runs) -> torch.Tensor:
    if len(runs) == 1:
        return _BACKWARD[runs[0][0]](d, h)
    return torch.cat([_BACKWARD[a](d[lo:hi], h[lo:hi]) for a, lo, hi in runs])


class _MLPCrossEntropy(torch.autograd.Function):
    """losses[b] = mean_n CE(MLP_b(x[b]), y[b]), with the gradient w.r.t. flat by hand.

    Activations are kept transposed, [B, width, n]: with widths of 2-12 and n = 256, the bias broadcast, the
    softmax over classes and the bias-gradient sums then run along the long contiguous axis n; in the [B, n, width]
    layout each of them costs 3-10 times more (log_softmax over 2 classes: 43 us against 4 us on one thread)."""

    @staticmethod
    def forward(ctx, flat, x, y, model):
        views = model._fast_views()
        _, wts, bcols, *_ = views
        h = x.transpose(1, 2)
        hs = [h]  # hs[i]: the input of layer i, [B, fan_in, n]
        for i, wt in enumerate(wts):
            h = torch.baddbmm(bcols[i], wt, h) if bcols is not None else torch.bmm(wt, h)
            if i < len(wts) - 1:
                hs.append(_act_(h, model._runs))
        logp = torch.log_softmax(h, dim=1)  # [B, classes, n]
        idx = y.unsqueeze(1)
        losses = logp.gather(1, idx).sum((1, 2)).div_(-idx.shape[2])  # -mean over the minibatch, as .mean() rounds
        ctx.runs, ctx.views = model._runs, views  # the views of flat as it was here, even if swapped before backward
        ctx.save_for_backward(flat, idx, logp, *hs)  # flat: backward fails if it was changed in place meanwhile
        return losses

    @staticmethod
    def backward(ctx, g):
        _, idx, logp, *hs = ctx.saved_tensors
        ws, _, bcols, grad, gws, gbs = ctx.views
        # d loss_b / d logits = g_b (softmax - onehot(y)) / n
        d = logp.exp()
        d.scatter_add_(1, idx, torch.full(idx.shape, -1.0, dtype=d.dtype, device=d.device))
        d.mul_((g / idx.shape[2]).view(-1, 1, 1))
        for i in range(len(ws) - 1, -1, -1):  # each layer's gradients straight into their place in `grad`
            if bcols is not None:
                torch.sum(d, 2, out=gbs[i])
            torch.bmm(hs[i], d.transpose(1, 2), out=gws[i])  # [B, fan_in, fan_out]
            if i > 0:
                d = _act_backward(torch.bmm(ws[i], d), hs[i], ctx.runs)
        return grad.clone(), None, None, None  # a copy: the buffer is overwritten by the next backward pass


def gather_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """`t[idx]` for an index tensor `idx` of any shape: the same rows through one `index_select`, about a third of
    the cost of advanced indexing for the small per-model minibatches ([B, batch]) of a training step."""
    return t.index_select(0, idx.reshape(-1)).view(*idx.shape, *t.shape[1:])
