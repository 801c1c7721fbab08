"""Paper scale: Nakkiran et al.'s CIFAR-10 width sweeps (pre-activation ResNet18 and the 5-layer CNN).

One shard is one (architecture, width group, label noise, block of seeds). Its widths train one after another
(different shapes); the seeds of a width train together, as one `repro.nn.stacked.Stacked` model (grouped
convolutions, each model's own BatchNorm statistics), through the one training loop.

Each model trains exactly as it would alone, and its numbers do not depend on which seeds share its job: model
(k, seed) has its own initial weights (`make(arch, k, seed=seed)`), its own noisy labels (`noisy_labels(..., seed)`,
drawn once per seed and shared by the seed's widths, so DD7 can pair them), and its own generator, from which it
draws its minibatch order (a fresh permutation each epoch) and its crop/flip offsets in the order a model trained
alone draws them. Their losses are summed, so each model's gradient is its own. Up to floating-point rounding (a
grouped against a dense convolution), the stacked run equals one model at a time (tests/test_batched_images.py).

The input pipeline lives on the training device: the whole training set as uint8 [N, 3, 32, 32], the generators
on the device, the permutation, crop, flip and normalisation as tensor ops there; no DataLoader, no host copies.

Options for speed (`image.bf16`, `image.channels_last`, `image.compile`: "cuda" = on a CUDA device only, "always",
"never"; see `options`), each changing the numbers, never the protocol:
- bf16: the forward and backward passes under `torch.autocast(bfloat16)`; weights, optimizer state, BatchNorm
  statistics and the loss stay float32. Results differ from float32 at the level of bf16 rounding (8 bits of
  mantissa in the activations): a bf16 run is not bit-comparable with a float32 one, and the comparison with
  one model at a time holds only to a loose tolerance.
- channels_last: NHWC weights and activations (what GPU tensor-core convolutions want). Same maths, different
  kernels: equal to the default layout up to rounding.
- compile: `torch.compile` of the stacked model's forward (backward through AOT autograd). Inductor's fused kernels
  round differently from eager, and the first steps pay the compile time (minutes for a ResNet18 on GPU; each
  change of input shape, e.g. the evaluation chunks, compiles again). cuDNN's convolution algorithms are chosen by
  benchmarking unless `torch.backends.cudnn.deterministic` is set, so GPU runs are not bit-reproducible anyway; on
  CPU the same config and seed give the same numbers.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import torch
import torch.nn.functional as F

from repro.data import DataRef, load
from repro.data.augment import crop_flip, draw_crop_flip, normalize
from repro.experiments.double_descent.sweep import noisy_labels, record_epochs
from repro.nn.stacked import Stacked
from repro.train import adam, sgd, train


def _models(arch: str):
    if arch == "resnet18":
        from repro.nn.resnet import make
    else:
        from repro.nn.cnn import make
    return make


def augmentation_seed(seed: int) -> int:
    """The seed of model `seed`'s data generator (minibatch order and crop/flip draws)."""
    return 1_000_003 * seed + 17


def options(c, device: torch.device) -> dict[str, bool]:
    """Which speed options apply on `device`: each of image.bf16 / channels_last / compile is "cuda" (on a CUDA
    device only), "always" or "never"."""
    on = {"always": True, "never": False, "cuda": device.type == "cuda"}
    return {"bf16": on[c.bf16], "channels_last": on[c.channels_last], "compile": on[c.compile]}


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on `device` when asked, else nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def crop_flip_stack(x: torch.Tensor, idx: torch.Tensor, gens: list[torch.Generator], padding: int = 4) -> torch.Tensor:
    """Model b's minibatch x[idx[b]], randomly cropped (zero padding) and flipped, for every b at once: x [N, C, H, W],
    idx [B, m] -> [B, m, C, H, W] (x's dtype).

    Model b's random numbers come from gens[b] alone, in `repro.data.augment.random_crop_flip`'s order (row
    offsets, column offsets, flips), so its images are exactly those `random_crop_flip(x[idx[b]], gens[b])` gives
    (tests/test_batched_images.py); the crops of all models are then one gather."""
    B, m = idx.shape
    draws = [draw_crop_flip(m, g, padding) for g in gens]
    di, dj, flips = (torch.cat([d[i] for d in draws]) for i in range(3))
    return crop_flip(x[idx.reshape(-1)], di, dj, flips, padding).view(B, m, *x.shape[1:])


def normalize_stack(x: torch.Tensor) -> torch.Tensor:
    """`normalize` (uint8 -> float, CIFAR-10 channel statistics) for [B, m, C, H, W]."""
    return normalize(x.flatten(0, 1)).view(x.shape)


def run_image(ctx) -> pd.DataFrame:
    c = ctx.exp.image
    from repro.experiments.double_descent import shards

    spec = shards(ctx.exp)[ctx.shard].point
    arch, ks, noise, seeds = spec["arch"], spec["k"], spec["noise"], list(spec["seeds"])
    if ctx.device.type == "cuda":  # let cuDNN time its convolution algorithms once per shape (GPU runs are not
        torch.backends.cudnn.benchmark = True  # bit-reproducible anyway: see the module docstring)
    d = load(DataRef("cifar10", {"subset": c.subset} if c.subset else {}), ctx.data_dir, build_missing=False)
    x = torch.tensor(d["x"], device=ctx.device)  # uint8 [N, 3, 32, 32], on the device for the whole run
    # Nakkiran et al. §3: the noisy labels are drawn once per run (not per epoch): here per seed, shared by the widths
    # of that seed, so a seed's widths stay paired (DD7 compares them per seed)
    y_clean = torch.tensor(d["y"])
    ys = torch.stack([noisy_labels(y_clean, noise, seed=s) for s in seeds]).to(ctx.device)  # [B, N]
    xt, yt = torch.tensor(d["x_test"], device=ctx.device), torch.tensor(d["y_test"], device=ctx.device)
    rows = []
    ctx.keep("rows", rows)
    for k in ks:
        rows += fit_stack(ctx, arch, k, noise, seeds, x, ys, xt, yt)
    # one order whatever the job's grouping of seeds
    return pd.DataFrame(rows).sort_values(["k", "seed", "step", "metric"], kind="stable").reset_index(drop=True)


def schedule(c, arch: str, n: int) -> tuple[int, int, int]:
    """(total steps, steps per epoch, epochs) of one model on n training images."""
    steps_per_epoch = max(1, n // c.batch_size)
    uses_sgd = c.optimizer[arch] == "sgd"
    total = c.sgd.steps if uses_sgd else c.epochs * steps_per_epoch
    total = total if c.max_steps is None else min(c.max_steps, total)
    epochs = -(-c.sgd.steps // steps_per_epoch) if uses_sgd else c.epochs
    return total, steps_per_epoch, epochs


def fit_stack(ctx, arch: str, k: int, noise: float, seeds: list[int], x, ys, xt, yt) -> list[dict]:
    """Train the models of width k for `seeds` together on augmented minibatches (Adam, or SGD on Nakkiran et al.'s
    inverse-square-root schedule), recording each model's train and test error."""
    c = ctx.exp.image
    total, steps_per_epoch, epochs = schedule(c, arch, len(x))
    trainer = StackTrainer(arch, k, seeds, x, ys, c.batch_size, ctx.device, **options(c, ctx.device))
    rows: list[dict] = []
    for name, obj in (("model", trainer.model), ("state", trainer.state), ("rows", rows)):
        ctx.keep(f"k{k}-{name}", obj)  # buffers (batch-norm statistics) too
    for s, g in zip(seeds, trainer.gens):
        ctx.keep(f"k{k}-gen{s}", g)  # each model's minibatch order and augmentation stream

    def record(step: int) -> None:
        errors = {"train_error": trainer.errors(x, ys), "test_error": trainer.errors(xt, yt)}
        epoch = step // steps_per_epoch if step < total else epochs
        for b, s in enumerate(seeds):
            for metric, v in errors.items():
                rows.append(
                    {"arch": arch, "k": k, "noise": noise, "seed": s, "step": epoch, "metric": metric, "value": v[b]}
                )

    wanted = {min(e * steps_per_epoch, total) for e in record_epochs(epochs, c.n_records)} | {total}
    train(
        trainer.model.parameters(),
        trainer.losses,
        steps=total,
        optimizer=trainer.optimizer(c, arch),
        after_step=trainer.after_step,
        record=record,
        record_steps=sorted(wanted),
        label=ctx.label(f"k={k}"),
        model_names=[f"{arch} k={k} seed{s}" for s in seeds],
    )
    return rows


class StackTrainer:
    """The models of one width (one per seed) as one `Stacked` model, with each model's data stream on the device.

    `losses()` is one training step's per-model losses [B]; `errors(x, y)` each model's error rate on a whole set
    (y [N] shared, or [B, N] per model); `optimizer(c, arch)` the protocol's optimizer factory for `train`."""

    def __init__(
        self,
        arch: str,
        k: int,
        seeds: list[int],
        x: torch.Tensor,
        ys: torch.Tensor,
        batch_size: int,
        device: torch.device,
        *,
        bf16: bool = False,
        channels_last: bool = False,
        compile: bool = False,
    ):
        self.seeds, self.x, self.ys, self.batch_size, self.device = list(seeds), x, ys, batch_size, device
        self.bf16 = bf16
        self.model = Stacked([_models(arch)(arch, k, seed=s) for s in seeds]).to(device)
        if channels_last:
            self.model.to_channels_last()
        self.forward = torch.compile(self.model) if compile else self.model
        self.gens = [torch.Generator(device=device).manual_seed(augmentation_seed(s)) for s in seeds]
        self.steps_per_epoch = max(1, len(x) // batch_size)
        self.state = {"step": 0, "perm": None}
        self._opt: list[torch.optim.Optimizer] = []
        self._lr_at = None

    def losses(self) -> torch.Tensor:
        st, m = self.state, self.batch_size
        i = st["step"] % self.steps_per_epoch
        if i == 0:  # each model's own permutation, from its own generator, as a model trained alone draws it
            st["perm"] = torch.stack([torch.randperm(len(self.x), generator=g, device=self.device) for g in self.gens])
        idx = st["perm"][:, i * m : (i + 1) * m]  # [B, m]
        xb = normalize_stack(crop_flip_stack(self.x, idx, self.gens))
        st["step"] += 1
        self.model.train()
        with autocast(self.device, self.bf16):
            logits = self.forward(xb)  # [B, m, classes]
        ce = F.cross_entropy(logits.float().flatten(0, 1), self.ys.gather(1, idx).flatten(), reduction="none")
        return ce.view(len(self.seeds), -1).mean(1)

    @torch.no_grad()
    def errors(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000) -> list[float]:
        """Each model's error rate on x (uint8 images), against y [N] or its own labels y[b] ([B, N])."""
        self.model.eval()
        B = len(self.seeds)
        y = y.expand(B, -1) if y.dim() == 1 else y
        wrong = torch.zeros(B, dtype=torch.long, device=x.device)
        for i in range(0, len(x), chunk):
            xb = normalize(x[i : i + chunk])
            with autocast(self.device, self.bf16):
                pred = self.forward(xb.unsqueeze(0).expand(B, *xb.shape)).argmax(-1)  # [B, chunk]
            wrong += (pred != y[:, i : i + chunk]).sum(1)
        return (wrong.double() / len(x)).tolist()

    def optimizer(self, c, arch: str):
        """Adam (lr c.lr), or plain SGD whose rate follows c.sgd's schedule (see `after_step`)."""
        if c.optimizer[arch] != "sgd":
            return adam(c.lr)
        self._lr_at = c.sgd.lr_at

        def make(params):
            self._opt.append(sgd(c.sgd.lr_at(self.state["step"]))(params))
            return self._opt[-1]

        return make

    def after_step(self) -> None:
        if self._lr_at is not None:  # the rate of the next update; a resumed run restores it with the optimizer
            for g in self._opt[-1].param_groups:
                g["lr"] = self._lr_at(self.state["step"])
