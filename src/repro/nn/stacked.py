"""B same-shape convolutional networks as one network: grouped convolutions, per-model BatchNorm.

`Stacked(models)` takes B models of one architecture (e.g. a ResNet18 of width k for each of 5 seeds) and builds
one module that runs all of them in a single pass. Channels are laid out model-major (channel b·C + c is model b's
channel c) and every layer is swapped for its stacked form:

- `Conv2d(C_in, C_out, groups=g)` -> `Conv2d(B·C_in, B·C_out, groups=B·g)`: group b maps model b's input
  channels to its own output channels only, with model b's weights;
- `BatchNorm2d(C)` -> `BatchNorm2d(B·C)`: BatchNorm normalises each channel over (N, H, W), so the batch
  statistics, the running statistics and the affine weights are each model's own, with no extra code;
- `Linear(F, O)` -> `StackedLinear(B, F, O)`: a batched matrix product on the [N, B·F] features;
- ReLU, pooling, residual sums, the global average pool and `flatten(1)` act per channel and need no change.

The models' own `forward` code then runs unchanged on the stacked layers (the module tree is deep-copied and its
leaves replaced), so anything the one-model code does, the stacked model does per model.

Why grouped convolutions rather than `torch.func.stack_module_state` + `functional_call` + `vmap`: vmap's batching
rule for a convolution with batched weights lowers to this same grouped convolution, so the kernels are the same
(and vmap does update stacked BatchNorm buffers per model, if they are passed in as batched tensors). But with vmap
the weights live in dicts of tensors outside any module, the buffers must be threaded through every call, and the
training loop, the optimizers, checkpointing and `torch.compile` would each need a functional path. Here the stacked
model is an ordinary `nn.Module` with ordinary Parameters: `repro.train.train`, torch's optimizers (element-wise, so
each model's slice is updated as if alone), checkpointing (`state_dict` holds the running statistics),
`channels_last`, `torch.autocast` and `torch.compile` apply to it unchanged, and the models' own `forward` code runs.

On CPU (oneDNN, 1 thread, batch 32 per model, 5 models) the grouped convolutions of a whole ResNet18 ran about as
fast as the 5 models' dense ones from k = 4 up (k = 16: 0.72 s against 0.65 s a forward and backward pass) and
faster below (k = 2: 0.18 against 0.24 s); a loop of dense convolutions over each layer's channel slices was tried
and was no faster at any width (the slicing and concatenation cost what the dense kernels save). On CPU the gain
of stacking is therefore the per-operation overhead of the small widths; on GPUs, where one small model leaves the
device idle between kernel launches, it is expected to be larger (not measured here: no GPU).

Each model sees its own images: `forward` takes x [B, N, C, H, W] (model b's minibatch is x[b]) and returns
logits [B, N, classes]. Because the models share no parameter and no statistic, the gradient of the sum of their
losses with respect to model b's weights is model b's own gradient, and one model's numbers do not depend on which
models share its stack (up to the floating-point rounding of a grouped against a dense convolution:
tests/test_batched_images.py). `unstack(b)` returns model b as a standalone module.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class StackedLinear(nn.Module):
    """B independent Linear(F, O) layers on features laid out [N, B·F] -> [N, B·O]."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.models, self.in_features, self.out_features = len(layers), layers[0].in_features, layers[0].out_features
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]).clone())  # [B, O, F]
        self.bias = (
            nn.Parameter(torch.stack([m.bias.detach() for m in layers]).clone()) if layers[0].bias is not None else None
        )  # [B, O]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        h = x.reshape(n, self.models, self.in_features).transpose(0, 1)  # [B, N, F]
        out = (
            torch.baddbmm(self.bias.unsqueeze(1), h, self.weight.transpose(1, 2))
            if self.bias is not None
            else torch.bmm(h, self.weight.transpose(1, 2))
        )
        return out.transpose(0, 1).reshape(n, self.models * self.out_features)

    def unstack(self, b: int) -> nn.Linear:
        m = nn.Linear(
            self.in_features,
            self.out_features,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            m.weight.copy_(self.weight[b])
            if self.bias is not None:
                m.bias.copy_(self.bias[b])
        return m


def _stack_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    c, B = convs[0], len(convs)
    if c.padding_mode != "zeros":
        raise ValueError(f"stacking supports zero-padded convolutions only, got padding_mode={c.padding_mode!r}")
    out = nn.Conv2d(
        B * c.in_channels,
        B * c.out_channels,
        c.kernel_size,
        stride=c.stride,
        padding=c.padding,
        dilation=c.dilation,
        groups=B * c.groups,
        bias=c.bias is not None,
        device=c.weight.device,
        dtype=c.weight.dtype,
    )
    with torch.no_grad():
        out.weight.copy_(torch.cat([m.weight for m in convs]))
        if c.bias is not None:
            out.bias.copy_(torch.cat([m.bias for m in convs]))
    return out


def _stack_bn(bns: list[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    b = bns[0]
    out = nn.BatchNorm2d(
        len(bns) * b.num_features,
        eps=b.eps,
        momentum=b.momentum,
        affine=b.affine,
        track_running_stats=b.track_running_stats,
        device=b.running_mean.device if b.running_mean is not None else None,
    )
    with torch.no_grad():
        if b.affine:
            out.weight.copy_(torch.cat([m.weight for m in bns]))
            out.bias.copy_(torch.cat([m.bias for m in bns]))
        if b.track_running_stats:
            out.running_mean.copy_(torch.cat([m.running_mean for m in bns]))
            out.running_var.copy_(torch.cat([m.running_var for m in bns]))
            out.num_batches_tracked.copy_(bns[0].num_batches_tracked)
    return out


_LEAVES = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
_STATELESS = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Identity, nn.Flatten, nn.Sequential)


def _stack_tree(models: list[nn.Module]) -> nn.Module:
    """A deep copy of models[0] whose conv, BatchNorm and linear leaves hold every model's weights, stacked."""
    out = copy.deepcopy(models[0])
    for name, mod in list(out.named_modules()):
        if isinstance(mod, _LEAVES):
            parts = [m.get_submodule(name) for m in models]
            if isinstance(mod, nn.Conv2d):
                new = _stack_conv(parts)
            elif isinstance(mod, nn.BatchNorm2d):
                new = _stack_bn(parts)
            else:
                new = StackedLinear(parts)
            parent, _, leaf = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, leaf, new)
        elif (
            not list(mod.children())
            and not isinstance(mod, _STATELESS)
            and (list(mod.parameters(recurse=False)) or list(mod.buffers(recurse=False)))
        ):
            raise TypeError(
                f"cannot stack layer {name!r} of type {type(mod).__name__}: only Conv2d, BatchNorm2d, "
                "Linear and stateless layers are supported"
            )
    return out


class Stacked(nn.Module):
    """B same-architecture models trained as one (see the module docstring). x [B, N, C, H, W] -> [B, N, classes]."""

    def __init__(self, models: list[nn.Module]):
        super().__init__()
        if not models:
            raise ValueError("Stacked needs at least one model")
        shapes = [[tuple(p.shape) for p in m.parameters()] for m in models]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("Stacked models must have the same architecture and shapes")
        self.models = len(models)
        self.channels_last = False  # set by `to_channels_last`: inputs are laid out NHWC before the first conv
        self.template = copy.deepcopy(models[0])  # for unstack; never trained
        self.template.requires_grad_(False)
        self.net = _stack_tree(models)

    def parameters(self, recurse: bool = True):  # the template is not trained
        return self.net.parameters(recurse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, n = x.shape[:2]
        if B != self.models:
            raise ValueError(f"expected inputs for {self.models} models (x [B, N, C, H, W]), got {tuple(x.shape)}")
        h = x.transpose(0, 1).reshape(n, B * x.shape[2], *x.shape[3:])  # [N, B·C, H, W], model-major channels
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        out = self.net(h)  # [N, B·classes]
        return out.reshape(n, B, -1).transpose(0, 1)

    def to_channels_last(self) -> Stacked:
        """Weights and activations in NHWC (`torch.channels_last`): on GPUs the tensor-core convolution kernels
        want it, and bf16 convolutions in NCHW pay for transposes. Same numbers up to the kernels' rounding."""
        self.net.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def unstack(self, b: int) -> nn.Module:
        """Model b as a standalone module (its weights and running statistics), in the training mode of this one."""
        one = copy.deepcopy(self.template).requires_grad_(True)
        stacked = dict(self.net.named_modules())
        for name, mod in one.named_modules():
            if not isinstance(mod, _LEAVES):
                continue
            s = stacked[name]
            with torch.no_grad():
                if isinstance(mod, nn.Linear):
                    mod.weight.copy_(s.weight[b])
                    if mod.bias is not None:
                        mod.bias.copy_(s.bias[b])
                    continue
                size = mod.weight.shape[0] if isinstance(mod, nn.Conv2d) else mod.num_features
                sl = slice(b * size, (b + 1) * size)
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    t = getattr(mod, attr, None)
                    if t is not None:
                        t.copy_(getattr(s, attr)[sl])
                if isinstance(mod, nn.BatchNorm2d) and mod.num_batches_tracked is not None:
                    mod.num_batches_tracked.copy_(s.num_batches_tracked)
        return one.train(self.training)
