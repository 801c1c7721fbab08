"""Batched against one model at a time, on the laptop protocols (both sides use the current `repro.train`).

Each pair is timed with `timing.paired`: the batched run and the whole one-at-a-time loop alternate, repeat by
repeat, and the ratio (one at a time / batched) is reported per pair.
"""

from __future__ import annotations

import torch

from repro.benchmark.timing import Pair, Timing, paired
from repro.config import compose


def _line(what: str, pair: Pair) -> str:
    return f"{what}: batched {pair.a}  one at a time {pair.b}  speed-up {pair.ratio_str()}"


def bench_batched(steps: int, *, repeats: int, warmup: int) -> Pair:
    """FP1's laptop points (activations × targets × seeds) trained together, then one at a time."""
    from repro.benchmark.steps import new_optimizer
    from repro.experiments.f_principle import PerActivationMLP, fp1_targets
    from repro.train import train

    c = compose(["scale=laptop", "tracking=disabled"]).experiment.fp1
    x, ys = fp1_targets(c)
    points = [(a, t, s) for a in c.activations for t in c.amplitudes for s in range(5)]
    X = x.float().unsqueeze(1)

    def fit(batch) -> None:
        model = PerActivationMLP.for_points(c, [a for a, *_ in batch], [s for *_, s in batch])
        Y = torch.stack([ys[t] for _, t, _ in batch]).float()
        train(
            model.parameters(),
            lambda: ((model(X)[..., 0] - Y) ** 2).mean(1),
            steps=steps,
            optimizer=new_optimizer("adam", c.lr),
            progress_every_s=None,
        )

    pair = paired(lambda: fit(points), lambda: [fit([p]) for p in points], repeats=repeats, warmup=warmup)
    print(_line(f"batched   {len(points)} FP1 models × {steps} steps", pair), flush=True)
    return pair


def bench_sweep(epochs: int, device: str, *, repeats: int, warmup: int, data_dir: str = "data") -> Pair:
    """The laptop double-descent MLP sweep: all widths × seeds in one batched run, then each alone."""
    from repro.data import DataRef, load
    from repro.experiments.double_descent.sweep import noisy_labels, train_width_sweep

    exp = compose(["experiment=double_descent", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.mlp
    d = load(DataRef("mnist1d", dict(exp.data)), data_dir)
    dev = torch.device(device)
    x, xt = (torch.tensor(d[k][:n], dtype=torch.float32, device=dev) for k, n in (("x", c.n_train), ("x_test", 1000)))
    y = noisy_labels(torch.tensor(d["y"][: c.n_train]), 0.15, c.noise_seed).to(dev)
    yt = torch.tensor(d["y_test"][:1000], device=dev)
    seeds = list(range(5))

    def fit(widths, seeds_) -> None:
        train_width_sweep(
            x,
            y,
            xt,
            yt,
            widths=widths,
            seeds=seeds_,
            epochs=epochs,
            batch_size=c.batch_size,
            lr=c.lr,
            momentum=c.momentum,
            record_epochs=[epochs],
            ensemble=False,
            progress_every_s=None,
        )

    pair = paired(
        lambda: fit(c.widths, seeds),
        lambda: [fit([h], [s]) for h in c.widths for s in seeds],
        repeats=repeats,
        warmup=warmup,
    )
    print(_line(f"sweep     {len(c.widths)} widths × {len(seeds)} seeds × {epochs} epochs on {dev}", pair), flush=True)
    return pair


def bench_imp(iterations: int, *, repeats: int, warmup: int, data_dir: str = "data") -> Pair:
    """One IMP level of the laptop protocol: the 4 arms × 5 seeds in one batch, then each model alone."""
    from repro.data import DataRef, load
    from repro.experiments.lottery_ticket.imp import Split, State, magnitude_prune, train_level
    from repro.nn.batched import BatchedMLP

    exp = compose(["experiment=lottery_ticket", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.imp
    d = load(DataRef("mnist1d", dict(exp.data)), data_dir)
    to = lambda x, y, lo, hi: Split(torch.tensor(x[lo:hi], dtype=torch.float32), torch.tensor(y[lo:hi]))  # noqa: E731
    tr, val = to(d["x"], d["y"], 0, c.n_train), to(d["x"], d["y"], c.n_train, c.n_train + c.n_val)
    test = to(d["x_test"], d["y_test"], 0, c.n_test)
    sizes, B = [40, *c.hidden, 10], 20
    theta = State.of(BatchedMLP(range(B), sizes, "relu", init="glorot_normal"))
    masks = magnitude_prune(theta.weights, [torch.ones_like(w) for w in theta.weights], [0.5, 0.5, 0.3])
    kw = dict(
        train_set=tr, val=val, test=test, iterations=iterations, batch_size=c.batch_size, lr=c.lr, eval_every=iterations
    )

    def fit(idx) -> None:
        train_level(theta.select(idx), [m[list(idx)] for m in masks], list(idx), sizes, **kw)

    pair = paired(lambda: fit(range(B)), lambda: [fit([b]) for b in range(B)], repeats=repeats, warmup=warmup)
    print(_line(f"imp       {B} masked models × {iterations} iterations", pair), flush=True)
    return pair


def bench_ista(
    iterations: int, vectors: int, device: str, *, repeats: int, warmup: int, data_dir: str = "data"
) -> Pair:
    """The unrolling shards' classical baseline: ISTA for the laptop lam grid over `vectors` test vectors in one
    batch, against one (vector, lam) at a time — the first 20 such runs, scaled up to all of them."""
    from repro.data import load
    from repro.experiments.unrolling import lasso, sparse_ref

    exp = compose(["experiment=unrolling", "scale=laptop", "tracking=disabled"]).experiment
    d = load(sparse_ref(exp), data_dir)
    a = torch.tensor(d["A"], device=device)
    y = torch.tensor(d["x_test"][:vectors], device=device) @ a.T
    lams = list(exp.classical_lams)
    sample = [(i, lam) for i in range(vectors) for lam in lams][:20]
    scale = vectors * len(lams) / len(sample)

    pair = paired(
        lambda: lasso.ista(a, y, lams, iterations),
        lambda: [lasso.ista(a, y[i : i + 1], [lam], iterations) for i, lam in sample],
        repeats=repeats,
        warmup=warmup,
    )
    pair = Pair(pair.a, Timing(tuple(t * scale for t in pair.b.times)))  # the sample's times scaled to every pair
    print(
        _line(
            f"ista      {vectors} vectors × {len(lams)} lam × {iterations} iterations on {device} "
            f"(one at a time: {len(sample)} timed, scaled ×{scale:.0f})",
            pair,
        ),
        flush=True,
    )
    return pair
