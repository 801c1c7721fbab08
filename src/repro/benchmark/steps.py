"""New training step against the frozen old step (`baseline.old_train`), per experiment, on its laptop models.

Each case builds the experiment's batched model, minibatch order and loss exactly as its shard does (same shapes,
same seeds), and both loops start from identical weights, so the two runs of a pair do the same arithmetic; the
old loop gets the experiments' old optimizers, the new one goes through the real `repro.train.train` with the
optimizers the experiments use now (`new_optimizer`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
from dataclasses import dataclass
from typing import Callable

import torch

from repro.benchmark import baseline
from repro.benchmark.timing import Pair, Timing, fmt_s, mlp_flops, paired
from repro.config import compose
from repro.train import MinibatchOrder, lean_adam

Build = Callable[[], tuple[list[torch.nn.Parameter], Callable[[], torch.Tensor], Callable[[], None] | None]]


def new_optimizer(kind: str, lr: float, momentum: float = 0.0, **fused) -> Callable:
    """The optimizer factory the experiments use now: `repro.train.adam(lr)` / `repro.train.sgd(lr, momentum=...)`
    when `repro.train` has them, else torch.optim's defaults. `fused=True` asks `repro.train` for the fused kernel."""
    import repro.train as t

    factory = getattr(t, kind, None)
    if callable(factory) and not isinstance(factory, type):
        return factory(lr, momentum=momentum, **fused) if kind == "sgd" else factory(lr, **fused)
    return baseline.old_sgd(lr, momentum) if kind == "sgd" else baseline.old_adam(lr)


def _opts(kind: str, lr: float, momentum: float = 0.0) -> dict:
    return dict(
        old_opt=baseline.old_sgd(lr, momentum) if kind == "sgd" else baseline.old_adam(lr),
        new_opt=new_optimizer(kind, lr, momentum),
        fused_opt=new_optimizer(kind, lr, momentum, fused=True),
    )


def new_train(
    params,
    losses,
    *,
    steps: int,
    optimizer: Callable,
    after_step=None,
    progress_every_s=5.0,
    compile_step: bool = False,
) -> int:
    """`repro.train.train` with whatever keywords its current signature takes (defaults for the rest, e.g. the
    divergence-check interval)."""
    from repro.train import train

    kw = dict(steps=steps, optimizer=optimizer, after_step=after_step, progress_every_s=progress_every_s, label="bench")
    if compile_step:
        kw["compile_step"] = True
    accepted = inspect.signature(train).parameters
    return train(params, losses, **{k: v for k, v in kw.items() if k in accepted})


def can_compile() -> bool:
    from repro.train import train

    return "compile_step" in inspect.signature(train).parameters


@dataclass
class StepCase:
    name: str
    what: str  # one line: the models
    build: Build  # fresh model (identical weights every call), minibatch order and loss closure
    flops: Callable[[int], int]  # matmul FLOPs of `steps` training steps (forward + backward)
    old_opt: Callable  # the experiments' optimizer at 85a4629
    new_opt: Callable  # the experiments' optimizer now
    fused_opt: Callable  # the same, with torch's fused kernel forced
    progress_every_s: float | None = 5.0  # what the experiment's train() call uses


def _rows_per_step(n: int, batch: int, steps: int, drop_last: bool) -> list[int]:
    per_epoch = n // batch if drop_last else -(-n // batch)
    return [min(batch, n - (s % per_epoch) * batch) for s in range(steps)]


def _ib_data(data_dir: str, device: str, train_fraction: float, split_seed: int):
    """The 12-bit data (x, y) and the training indices of a shuffled split, as the information-bottleneck shard."""
    from repro.data import DataRef, load

    d = load(DataRef("ib12"), data_dir)
    x = torch.tensor(d["x"], dtype=torch.float32, device=device)
    y = torch.tensor(d["y"], device=device)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed)).to(device)
    return x, y, order[: int(round(train_fraction * len(x)))]


def ib_case(data_dir: str = "data", device: str = "cpu") -> StepCase:
    """The information bottleneck's 12-10-7-5-4-3-2 net, 8 tanh seeds in one batch with Saxe et al.'s batch size (as
    its `tanh` shard), through autograd (the `ib-fused` case times the shard's hand-written step against this)."""
    from repro.nn.batched import BatchedMLP

    cfg = compose(["experiment=info_bottleneck", "scale=laptop", "tracking=disabled"])
    c = cfg.experiment
    batch_size = c.protocols["saxe"].batch_size
    x, y, tr = _ib_data(data_dir, device, c.train_fraction, c.split_seed)
    points = [("tanh", s) for s in range(len(cfg.seeds))]
    sizes, B = [12, *c.hidden, 2], len(points)

    def build():
        model = BatchedMLP([s for _, s in points], sizes, [a for a, _ in points], init="truncated_normal").to(device)
        batches = MinibatchOrder(tr, [7_919 * s + 1 for _, s in points], batch_size, drop_last=False)

        def losses() -> torch.Tensor:
            idx = batches()
            logits = model(x[idx])
            return (
                torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y[idx].reshape(-1), reduction="none")
                .view(B, -1)
                .mean(1)
            )

        return list(model.parameters()), losses, None

    return StepCase(
        "ib-step",
        f"{B} models {'-'.join(map(str, sizes))} (tanh), batch {batch_size}, Adam {c.lr:g}",
        build,
        lambda steps: sum(mlp_flops(sizes, r, B) for r in _rows_per_step(len(tr), batch_size, steps, False)),
        **_opts("adam", c.lr),
    )


def dd_case(data_dir: str = "data", device: str = "cpu") -> StepCase:
    """The double-descent MLP width sweep at laptop widths × 5 seeds, one block model (as its `mlp` shards)."""
    from repro.data import DataRef, load
    from repro.experiments.double_descent.sweep import noisy_labels
    from repro.nn.batched import WidthSweepMLP

    exp = compose(["experiment=double_descent", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.mlp
    d = load(DataRef("mnist1d", dict(exp.data)), data_dir)
    x = torch.tensor(d["x"][: c.n_train], dtype=torch.float32, device=device)
    y = noisy_labels(torch.tensor(d["y"][: c.n_train]), 0.15, c.noise_seed).to(device)
    seeds, widths = list(range(5)), list(c.widths)
    n, dim = x.shape
    B, W = len(seeds), len(widths)

    def build():
        model = WidthSweepMLP(seeds, dim, widths, 10).to(device)
        batches = MinibatchOrder(torch.arange(n, device=device), [1_000_003 * s + 17 for s in seeds], c.batch_size)

        def losses() -> torch.Tensor:
            idx = batches()
            logits = model(x[idx])
            return (
                torch.nn.functional.cross_entropy(
                    logits.reshape(-1, 10), y[idx].repeat(W, 1).reshape(-1), reduction="none"
                )
                .view(W * B, -1)
                .mean(1)
            )

        return list(model.parameters()), losses, None

    per_step = sum(mlp_flops([dim, h, h, 10], c.batch_size, B) for h in widths)
    return StepCase(
        "dd-step",
        f"{W} widths {widths[0]}..{widths[-1]} × {B} seeds, {dim}-h-h-10, batch "
        f"{c.batch_size}, SGD {c.lr:g} momentum {c.momentum:g}",
        build,
        lambda steps: per_step * steps,
        **_opts("sgd", c.lr, c.momentum),
        progress_every_s=10.0,
    )


def lt_case(data_dir: str = "data", device: str = "cpu") -> StepCase:
    """One lottery-ticket level: 4 arms × 5 seeds of the laptop MLP, masked at 50/50/30% (as `train_level`)."""
    from repro.data import DataRef, load
    from repro.experiments.lottery_ticket.imp import magnitude_prune
    from repro.nn.batched import BatchedMLP

    exp = compose(["experiment=lottery_ticket", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.imp
    d = load(DataRef("mnist1d", dict(exp.data)), data_dir)
    x = torch.tensor(d["x"][: c.n_train], dtype=torch.float32, device=device)
    y = torch.tensor(d["y"][: c.n_train], device=device)
    sizes, B = [x.shape[1], *c.hidden, 10], 20
    init = BatchedMLP(range(B), sizes, "relu", init="glorot_normal")
    masks = magnitude_prune(
        [w.detach() for w in init.weights], [torch.ones_like(w) for w in init.weights], [0.5, 0.5, 0.3]
    )

    def build():
        model = BatchedMLP(range(B), sizes, "relu").to(device)
        with torch.no_grad():
            for p, v in zip([*model.weights, *model.biases], [*init.weights, *init.biases]):
                p.copy_(v)
        model.set_masks(masks)
        batches = MinibatchOrder(torch.arange(len(x), device=device), [7_919 * s + 1 for s in range(B)], c.batch_size)

        def losses() -> torch.Tensor:
            idx = batches()
            logits = model(x[idx])
            return (
                torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y[idx].reshape(-1), reduction="none")
                .view(B, -1)
                .mean(1)
            )

        return list(model.parameters()), losses, model.apply_masks_

    return StepCase(
        "lt-step",
        f"{B} masked models {'-'.join(map(str, sizes))} (relu), batch {c.batch_size}, Adam {c.lr:g}",
        build,
        lambda steps: mlp_flops(sizes, c.batch_size, B) * steps,
        **_opts("adam", c.lr),
    )


def fp1_case(data_dir: str = "data", device: str = "cpu") -> StepCase:
    """FP1's laptop points (activations × targets × 5 seeds) on the full 101-point grid, with the per-step
    spectral tracking of its loss (as its `fp1` shard)."""
    from repro.experiments.f_principle import PerActivationMLP, fp1_targets, relative_spectral_error
    from repro.experiments.f_principle.claims import FP1_THRESHOLD

    c = compose(["experiment=f_principle", "scale=laptop", "tracking=disabled"]).experiment.fp1
    x, ys = fp1_targets(c)
    points = [(a, t, s) for a in c.activations for t in c.amplitudes for s in range(5)]
    X = x.float().unsqueeze(1).to(device)
    Y = torch.stack([ys[t] for _, t, _ in points]).float().to(device)
    sizes, B = [1, *c.hidden, 1], len(points)

    def build():
        model = PerActivationMLP.for_points(c, [a for a, *_ in points], [s for *_, s in points]).to(device)
        last_above = torch.zeros(B, c.n_points // 2 + 1, dtype=torch.long, device=device)
        state = {"step": 0}

        def losses() -> torch.Tensor:
            pred = model(X)[..., 0]
            with torch.no_grad():
                above = relative_spectral_error(pred, Y) >= FP1_THRESHOLD
                last_above[above] = state["step"]
            state["step"] += 1
            return ((pred - Y) ** 2).mean(dim=1)

        return list(model.parameters()), losses, None

    return StepCase(
        "fp1-step",
        f"{B} models {'-'.join(map(str, sizes))} (tanh, relu), full batch {c.n_points}, Adam {c.lr:g}",
        build,
        lambda steps: mlp_flops(sizes, c.n_points, B) * steps,
        **_opts("adam", c.lr),
    )


CASES = {"ib-step": ib_case, "dd-step": dd_case, "lt-step": lt_case, "fp1-step": fp1_case}


# What A and B of each comparison are: (loop, optimizer, compiled) per side, and the names printed.
COMPARISONS = {
    "new": (("new", "new", False), ("old", "old", False), "new", "old"),  # the step as the experiments run it now
    "loop": (("new", "old", False), ("old", "old", False), "loop", "old"),  # the loop alone: same optimizer
    "fused": (("new", "fused", False), ("new", "new", False), "fused", "new"),  # torch's fused optimizer kernel
    "compile": (("new", "new", True), ("new", "new", False), "compiled", "eager"),  # compile_step on/off
}


def run_pair(case: StepCase, steps: int, *, repeats: int, warmup: int, compare: str = "new") -> tuple[Pair, float]:
    """Time A against B (`COMPARISONS[compare]`), interleaved; returns the pair and the largest parameter
    difference between the two sides' final weights (0 when both do exactly the same arithmetic).

    new: `repro.train.train` with the experiments' current optimizers against the frozen old loop with the old
    ones. loop: the new loop against the old, both with the old (non-fused) optimizer, so the loop's share of the
    speed-up alone (its Δθ must be 0). fused: the new step with torch's fused optimizer kernel forced against the
    new step as the experiments run it (on CPU `repro.train` does not fuse: see its `_fast_kwargs`). compile: the
    new step with `compile_step=True` against eager; the compile time counts (each run starts from a reset
    compiler, as each train() call of a shard compiles its own)."""
    side_a, side_b, _, _ = COMPARISONS[compare]
    final: dict[int, list[torch.Tensor]] = {}

    def go(i: int, loop: str, opt: str, compiled: bool):
        optimizer = {"new": case.new_opt, "old": case.old_opt, "fused": case.fused_opt}[opt]

        def run(built):
            params, losses, after_step = built
            with contextlib.redirect_stdout(io.StringIO()):  # the progress line each loop prints at its end
                if loop == "new":
                    new_train(
                        params,
                        losses,
                        steps=steps,
                        optimizer=optimizer,
                        after_step=after_step,
                        progress_every_s=case.progress_every_s,
                        compile_step=compiled,
                    )
                else:
                    baseline.old_train(
                        params,
                        losses,
                        steps=steps,
                        optimizer=optimizer,
                        after_step=after_step,
                        progress_every_s=case.progress_every_s,
                    )
            final[i] = [p.detach().clone() for p in params]

        return run

    def setup(compiled: bool):
        if not compiled:
            return case.build

        def fresh():
            torch._dynamo.reset()
            return case.build()

        return fresh

    pair = paired(
        go(0, *side_a),
        go(1, *side_b),
        repeats=repeats,
        warmup=warmup,
        setup_a=setup(side_a[2]),
        setup_b=setup(side_b[2]),
    )
    diff = max(float((a - b).abs().max()) for a, b in zip(final[0], final[1]))
    return pair, diff


def report_line(case: StepCase, steps: int, pair: Pair, diff: float, peak: float, compare: str = "new") -> str:
    gflops = case.flops(steps) / 1e9
    ra, rb = gflops / pair.a.median, gflops / pair.b.median
    _, _, a, b = COMPARISONS[compare]
    per_step = f"{fmt_s(pair.a.median / steps)}/step"
    return (
        f"{case.name:9s} {a} {pair.a}  {b} {pair.b}  {b}/{a} {pair.ratio_str()}  ({per_step})  "
        f"roofline: {a} {ra:.2f} GFLOP/s = {100 * ra / peak:.2f}% of peak, {b} {rb:.2f} = "
        f"{100 * rb / peak:.2f}%  max|Δθ| {diff:.1e}"
    )


# ---------------------------------------------------------------- ib-fused: the hand-written step vs autograd


@dataclass
class FusedCase:
    what: str  # one line: the models
    build_autograd: Callable  # () -> (params, losses): BatchedMLP + autograd cross-entropy, 12 tensors
    build_fused: Callable  # () -> (params, losses): FlatBatchedMLP + cross_entropy_losses, one tensor
    optimizer: Callable  # the autograd path's optimizer factory: repro.train.adam (torch.optim.Adam, foreach)
    optimizer_fused: Callable  # the shard's: repro.train.lean_adam (the same update without torch.optim's overhead)


def ib_fused_case(
    data_dir: str = "data",
    device: str = "cpu",
    n_models: int = 8,
    activation: str = "tanh",
    *,
    batch_size: int = 256,
    lr: float = 4e-4,
) -> FusedCase:
    """The 12-bit net (`n_models` seeds, one activation) trained the current way (BatchedMLP, autograd) and through
    `repro.nn.fused` (FlatBatchedMLP, hand-written backward, `LeanAdam` on one tensor), as the shard trains it. The
    papers' values (Shwartz-Ziv &
    Tishby 2017 §3: 12-10-7-5-4-3-2, truncated normal, batch 256, Adam 4e-4, 80/20 split) are written here rather
    than composed from conf/, so the case measures the same step whatever the protocol's config looks like."""
    from repro.nn.batched import BatchedMLP
    from repro.nn.fused import FlatBatchedMLP, cross_entropy_losses, gather_rows

    x, y, tr = _ib_data(data_dir, device, 0.8, 0)
    seeds, sizes = list(range(n_models)), [12, 10, 7, 5, 4, 3, 2]

    def build(fused: bool):
        def make():
            cls = FlatBatchedMLP if fused else BatchedMLP
            model = cls(seeds, sizes, activation, init="truncated_normal").to(device)
            batches = MinibatchOrder(tr, [7_919 * s + 1 for s in seeds], batch_size, drop_last=False)

            def losses() -> torch.Tensor:
                idx = batches()
                if fused:  # as the shard (info_bottleneck.measure): one index_select per tensor
                    return cross_entropy_losses(model, gather_rows(x, idx), gather_rows(y, idx))
                return (
                    torch.nn.functional.cross_entropy(
                        model(x[idx]).reshape(-1, 2), y[idx].reshape(-1), reduction="none"
                    )
                    .view(n_models, -1)
                    .mean(1)
                )

            return list(model.parameters()), losses

        return make

    return FusedCase(
        f"{n_models} models {'-'.join(map(str, sizes))} ({activation}), batch {batch_size}, Adam {lr:g}",
        build(False),
        build(True),
        new_optimizer("adam", lr),
        lean_adam(lr),
    )


def run_fused(case: FusedCase, steps: int, *, repeats: int, warmup: int) -> str:
    """Time the fused path (A) against the autograd path (B), interleaved, both through `repro.train.train`; returns
    the report line: per-step times, median [min–max], the per-pair speed-up, and the largest difference between
    the two paths' final parameters (rounding only: the arithmetic is the same up to float32 reordering)."""
    final: dict[str, list[torch.Tensor]] = {}

    def go(name: str):
        def run(built):
            params, losses = built
            optimizer = case.optimizer_fused if name == "fused" else case.optimizer
            with contextlib.redirect_stdout(io.StringIO()):
                new_train(params, losses, steps=steps, optimizer=optimizer)
            final[name] = [p.detach().reshape(-1) for p in params]

        return run

    pair = paired(
        go("fused"),
        go("autograd"),
        repeats=repeats,
        warmup=warmup,
        setup_a=case.build_fused,
        setup_b=case.build_autograd,
    )
    # FlatBatchedMLP's layout is [w0, b0, w1, b1, ...]; BatchedMLP.parameters() gives all weights, then all biases
    ref = final["autograd"]
    n = len(ref) // 2
    ref = torch.cat([t for wb in zip(ref[:n], ref[n:]) for t in wb])
    diff = float((final["fused"][0] - ref).abs().max())

    def per_step(t: Timing) -> str:
        us = [v / steps * 1e6 for v in (t.median, t.lo, t.hi)]
        return f"{us[0]:.0f} µs [{us[1]:.0f}–{us[2]:.0f}]"

    return (
        f"ib-fused  fused {per_step(pair.a)}/step  autograd {per_step(pair.b)}/step  autograd/fused "
        f"{pair.ratio_str()}  max|Δθ| {diff:.1e}"
    )
