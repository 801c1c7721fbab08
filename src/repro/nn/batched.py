"""Many independent same-shape MLPs as one module, so a sweep's points train in one pass.

Weights have a leading model axis, `[B, fan_in, fan_out]`, and the forward pass is a batched
matmul. Model b is initialised from its own generator seed, exactly as `torch.nn.Linear` would be
(uniform in ±1/sqrt(fan_in), or a named scheme), so a model's numbers depend only on its seed and
never on which other models share the batch.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda x: x}
INIT_SCHEMES = (
    "torch_default",
    "kaiming_uniform",
    "glorot_uniform",
    "glorot_normal",
    "truncated_normal",
    "truncated_normal_fan_out",
    "normal",
)


def init_linear(gen: torch.Generator, fan_in: int, fan_out: int, scheme: str, bias: bool):
    """One layer's (weight [fan_in, fan_out], bias [fan_out] or None) from `gen`.

    torch_default: what nn.Linear does (kaiming_uniform with a=sqrt(5), i.e. U(±1/sqrt(fan_in)),
    and the bias U(±1/sqrt(fan_in))). normal: N(0, 1/fan_in) weights and zero biases (the NTK-style
    initialisation of Basri et al.). The weight is drawn as nn.Linear's [fan_out, fan_in] then transposed.
    """
    bound = 1.0 / math.sqrt(fan_in)
    if scheme == "torch_default":
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound if bias else None
    elif scheme == "kaiming_uniform":  # nn.init.kaiming_uniform_'s default (He): U(±sqrt(6/fan_in)), zero bias
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * math.sqrt(6.0 / fan_in)
        b = torch.zeros(fan_out) if bias else None
    elif scheme == "glorot_uniform":  # Keras' default (Xu et al.'s code): weights U(±sqrt(6/(in+out))), zero bias
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * limit
        b = torch.zeros(fan_out) if bias else None
    elif scheme == "glorot_normal":  # Frankle & Carbin's "Gaussian Glorot": N(0, 2/(in+out)), zero bias
        w = torch.randn(fan_out, fan_in, generator=gen) * math.sqrt(2.0 / (fan_in + fan_out))
        b = torch.zeros(fan_out) if bias else None
    elif scheme in ("truncated_normal", "truncated_normal_fan_out"):
        # N(0, 1/fan) redrawn beyond 2 std, zero bias. Shwartz-Ziv & Tishby (ravidziv/IDNNs model.py) scale by
        # fan_in; Saxe et al.'s Keras code (artemyk/ibsgd IBnet_SaveActivations) by the layer's own width, fan_out
        w = torch.randn(fan_out, fan_in, generator=gen)
        while (out := w.abs() > 2).any():
            w[out] = torch.randn(int(out.sum()), generator=gen)
        w = w * (bound if scheme == "truncated_normal" else 1.0 / math.sqrt(fan_out))
        b = torch.zeros(fan_out) if bias else None
    elif scheme == "normal":
        w = torch.randn(fan_out, fan_in, generator=gen) * bound
        b = torch.zeros(fan_out) if bias else None
    else:
        raise ValueError(f"unknown init scheme {scheme!r}; valid: {', '.join(INIT_SCHEMES)}")
    return w.t().contiguous(), b


class BatchedMLP(nn.Module):
    """B independent MLPs with layer sizes `sizes` (input first), one activation between layers.

    forward(x): x is [n, in] (shared by all models) or [B, n, in]; returns [B, n, out]. `init` is one scheme for
    every layer or one per layer (e.g. Keras' Glorot-uniform default for an output layer).
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
        self.sizes, self.n_models = list(sizes), len(seeds)
        acts = [activation] * self.n_models if isinstance(activation, str) else list(activation)
        unknown = set(acts) - set(ACTIVATIONS)
        if unknown:
            raise ValueError(f"unknown activation {sorted(unknown)}; valid: {', '.join(ACTIVATIONS)}")
        if len(acts) != self.n_models:
            raise ValueError("one activation per model (or one for all) is required")
        self.activations = acts
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        layers = [[] for _ in self.sizes[1:]]
        schemes = [init] * len(layers) if isinstance(init, str) else list(init)
        if len(schemes) != len(layers):
            raise ValueError(f"init: one scheme for all layers or one per layer ({len(layers)}), got {len(schemes)}")
        for seed in seeds:
            gen = torch.Generator().manual_seed(int(seed))
            for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
                layers[i].append(init_linear(gen, a, b, schemes[i], bias))
        for layer in layers:
            self.weights.append(nn.Parameter(torch.stack([w for w, _ in layer]).to(dtype)))
            if bias:
                self.biases.append(nn.Parameter(torch.stack([b for _, b in layer]).to(dtype)))
        self.bias = bias
        self.masks: list[torch.Tensor] | None = None  # pruning masks, see set_masks
        # runs of consecutive models with the same activation: each run is a slice (a view, no copy)
        self._runs = []
        for i, a in enumerate(acts):
            if self._runs and self._runs[-1][0] == a:
                self._runs[-1][2] = i + 1
            else:
                self._runs.append([a, i, i + 1])

    def _act(self, h: torch.Tensor) -> torch.Tensor:
        if len(self._runs) == 1:
            return ACTIVATIONS[self._runs[0][0]](h)
        return torch.cat([ACTIVATIONS[a](h[lo:hi]) for a, lo, hi in self._runs])

    def set_masks(self, masks: Sequence[torch.Tensor] | None) -> None:
        """Pruning masks, one per weight matrix ([B, fan_in, fan_out], 1 keeps a weight); None removes them.
        Masked weights are zeroed now, multiplied by 0 in every forward pass (so they get no gradient),
        and `apply_masks_()` zeroes them again after each optimizer step, where Adam's moments would
        otherwise revive them."""
        self.masks = None if masks is None else [m.to(w.dtype).to(w.device) for m, w in zip(masks, self.weights)]
        self.apply_masks_()

    @torch.no_grad()
    def apply_masks_(self) -> None:
        for w, m in zip(self.weights, self.masks or []):
            w.mul_(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[1]

    def layers(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(every hidden layer's output after its activation, each [B, n, width]; the logits [B, n, out])."""
        h = x.expand(self.n_models, *x.shape) if x.dim() == 2 else x
        hidden, last = [], len(self.weights) - 1
        for i, w in enumerate(self.weights):
            w = w * self.masks[i] if self.masks is not None else w
            h = torch.baddbmm(self.biases[i].unsqueeze(1), h, w) if self.bias else torch.bmm(h, w)
            if i < last:
                h = self._act(h)
                hidden.append(h)
        return hidden, h


class WidthSweepMLP(nn.Module):
    """Two-hidden-layer MLPs d-h-h-out for several widths h and seeds, packed into one block model.

    The first layers of all widths form one matrix [B, d, Σh] (one matmul for the whole sweep); each
    width then has its own h×h and h×out blocks. Model (h, seed) is initialised exactly as
    `BatchedMLP([seed], [d, h, h, out])` would be, and no parameter is shared, so summing the per-model
    losses trains each model exactly as alone.

    forward(x [B, n, d]) -> logits [W, B, n, out], in the order of `widths`.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        d_in: int,
        widths: Sequence[int],
        n_out: int,
        *,
        init: str = "torch_default",
        dtype=torch.float32,
    ):
        super().__init__()
        self.widths = list(widths)
        per_width = [BatchedMLP(seeds, [d_in, h, h, n_out], "relu", init=init, dtype=dtype) for h in self.widths]
        self.w1 = nn.Parameter(torch.cat([m.weights[0].detach() for m in per_width], dim=2))
        self.b1 = nn.Parameter(torch.cat([m.biases[0].detach() for m in per_width], dim=1))
        self.w2 = nn.ParameterList([m.weights[1] for m in per_width])
        self.b2 = nn.ParameterList([m.biases[1] for m in per_width])
        self.w3 = nn.ParameterList([m.weights[2] for m in per_width])
        self.b3 = nn.ParameterList([m.biases[2] for m in per_width])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.logits_per_width(x))

    def logits_per_width(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The logits [B, n, out] of each width, in the order of `widths` (no stacked copy: training reads them
        one width at a time)."""
        h1 = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), x, self.w1))
        out = []  # split, not slices: its backward is one concatenation, not a zero-filled buffer per width
        for part, w2, b2, w3, b3 in zip(h1.split(self.widths, dim=-1), self.w2, self.b2, self.w3, self.b3):
            h2 = torch.relu(torch.baddbmm(b2.unsqueeze(1), part, w2))
            out.append(torch.baddbmm(b3.unsqueeze(1), h2, w3))
        return out
