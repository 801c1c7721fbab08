"""Speed benchmarks. Each prints what it measured in one run; none is a test.

  python -m repro.benchmark batched    # batched trainer vs one model at a time (FP1's laptop models): the ratio
  python -m repro.benchmark sweep      # the double-descent width sweep (every width × 5 seeds) batched vs one
                                       # (width, seed) at a time, on the laptop protocol: the ratio
  python -m repro.benchmark imp        # one lottery-ticket level (4 arms × 5 seeds, laptop MLP) batched vs one
                                       # model at a time: the ratio
  python -m repro.benchmark ista       # ISTA on the unrolling test set batched over vectors and lam vs one
                                       # (vector, lam) at a time: the ratio
  python -m repro.benchmark workflow [--experiment E]   # wall time of the real Snakemake DAG, smoke and laptop,
       against the targets on 2 cores (f_principle: smoke <= 30 s, laptop <= 120 s; double_descent: laptop <= 300 s)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from repro.config import compose, conf_dir
from repro.nn.batched import BatchedMLP
from repro.train import train

TARGETS_S = {("f_principle", "smoke"): 30.0, ("f_principle", "laptop"): 120.0,
             ("double_descent", "laptop"): 300.0, ("lottery_ticket", "laptop"): 300.0}


def bench_batched(steps: int) -> float:
    """FP1's laptop points (activations × targets × seeds) trained together, then one at a time."""
    from repro.experiments.f_principle import fp1_targets

    c = compose(["scale=laptop", "tracking=disabled"]).experiment.fp1
    x, ys = fp1_targets(c)
    points = [(a, t, s) for a in c.activations for t in c.amplitudes for s in range(5)]
    X = x.float().unsqueeze(1)

    def fit(batch) -> float:
        model = BatchedMLP([s for *_, s in batch], [1, *c.hidden, 1], [a for a, *_ in batch], init=c.init)
        Y = torch.stack([ys[t] for _, t, _ in batch]).float()
        t0 = time.perf_counter()
        train(model.parameters(), lambda: ((model(X)[..., 0] - Y) ** 2).mean(1), steps=steps,
              optimizer=lambda p: torch.optim.Adam(p, lr=c.lr), progress_every_s=None)
        return time.perf_counter() - t0

    together = fit(points)
    alone = sum(fit([p]) for p in points)
    print(f"{len(points)} models × {steps} steps: batched {together:.2f} s, one at a time {alone:.2f} s, "
          f"speed-up {alone / together:.1f}x  (torch threads: {torch.get_num_threads()})")
    return alone / together


def bench_sweep(epochs: int, device: str) -> float:
    """The laptop double-descent MLP sweep: all widths × seeds in one batched run, then each alone."""
    from repro.data import DataRef, load
    from repro.experiments.double_descent.sweep import noisy_labels, train_width_sweep

    exp = compose(["experiment=double_descent", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.mlp
    d = load(DataRef("mnist1d", dict(exp.data)))
    dev = torch.device(device)
    x, xt = (torch.tensor(d[k][:n], dtype=torch.float32, device=dev) for k, n in (("x", c.n_train), ("x_test", 1000)))
    y = noisy_labels(torch.tensor(d["y"][: c.n_train]), 0.15, c.noise_seed).to(dev)
    yt = torch.tensor(d["y_test"][:1000], device=dev)
    seeds = list(range(5))

    def fit(widths, seeds_) -> float:
        t0 = time.perf_counter()
        train_width_sweep(x, y, xt, yt, widths=widths, seeds=seeds_, epochs=epochs, batch_size=c.batch_size,
                          lr=c.lr, momentum=c.momentum, record_epochs=[epochs], ensemble=False,
                          progress_every_s=None)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    fit(c.widths[:2], seeds[:1])  # warm-up: first-call costs count for neither side
    together = fit(c.widths, seeds)
    alone = sum(fit([h], [s]) for h in c.widths for s in seeds)
    print(f"{len(c.widths)} widths × {len(seeds)} seeds × {epochs} epochs on {dev}: batched {together:.2f} s, "
          f"one at a time {alone:.2f} s, speed-up {alone / together:.1f}x  (torch threads: {torch.get_num_threads()})")
    return alone / together


def bench_imp(iterations: int) -> float:
    """One IMP level of the laptop protocol: the 4 arms × 5 seeds in one batch, then each model alone."""
    from repro.data import DataRef, load
    from repro.experiments.lottery_ticket.imp import Split, State, magnitude_prune, train_level

    exp = compose(["experiment=lottery_ticket", "scale=laptop", "tracking=disabled"]).experiment
    c = exp.imp
    d = load(DataRef("mnist1d", dict(exp.data)))
    to = lambda x, y, lo, hi: Split(torch.tensor(x[lo:hi], dtype=torch.float32), torch.tensor(y[lo:hi]))  # noqa: E731
    tr, val = to(d["x"], d["y"], 0, c.n_train), to(d["x"], d["y"], c.n_train, c.n_train + c.n_val)
    test = to(d["x_test"], d["y_test"], 0, c.n_test)
    sizes, B = [40, *c.hidden, 10], 20
    theta = State.of(BatchedMLP(range(B), sizes, "relu", init="glorot_normal"))
    masks = magnitude_prune(theta.weights, [torch.ones_like(w) for w in theta.weights], [0.5, 0.5, 0.3])
    kw = dict(train_set=tr, val=val, test=test, iterations=iterations, batch_size=c.batch_size, lr=c.lr,
              eval_every=iterations)

    def fit(idx) -> float:
        t0 = time.perf_counter()
        train_level(theta.select(idx), [m[list(idx)] for m in masks], list(idx), sizes, **kw)
        return time.perf_counter() - t0

    fit([0])  # warm-up
    together = fit(range(B))
    alone = sum(fit([b]) for b in range(B))
    print(f"IMP level, {B} masked models × {iterations} iterations: batched {together:.2f} s, one at a time "
          f"{alone:.2f} s, speed-up {alone / together:.1f}x  (torch threads: {torch.get_num_threads()})")
    return alone / together


def bench_ista(iterations: int, vectors: int, device: str) -> float:
    """The unrolling shards' classical baseline: ISTA for the laptop lam grid over `vectors` test vectors in one
    batch, then one (vector, lam) at a time (extrapolated from the first 20 such runs)."""
    from repro.data import load
    from repro.experiments.unrolling import lasso, sparse_ref

    exp = compose(["experiment=unrolling", "scale=laptop", "tracking=disabled"]).experiment
    d = load(sparse_ref(exp))
    a = torch.tensor(d["A"], device=device)
    y = torch.tensor(d["x_test"][:vectors], device=device) @ a.T
    lams = exp.classical_lams

    def fit(rows, lam_list) -> float:
        t0 = time.perf_counter()
        lasso.ista(a, y[rows], lam_list, iterations)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    fit(slice(0, 1), lams[:1])  # warm-up
    together = fit(slice(None), lams)
    sample = [(i, lam) for i in range(vectors) for lam in lams][:20]
    alone = sum(fit(slice(i, i + 1), [lam]) for i, lam in sample) * vectors * len(lams) / len(sample)
    print(f"ISTA, {vectors} vectors × {len(lams)} lam × {iterations} iterations on {device}: batched {together:.2f} s, "
          f"one at a time {alone:.1f} s (extrapolated from {len(sample)}), speed-up {alone / together:.0f}x  "
          f"(torch threads: {torch.get_num_threads()})")
    return alone / together


def bench_workflow(experiment: str, scales: list[str], cores: int) -> dict[str, float]:
    """Run the real DAG for one experiment in a scratch copy of the workflow, from nothing, per scale."""
    repo = conf_dir().parent
    out = {}
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix=f"repro-bench-{scale}-") as tmp:
            for part in ("Snakefile", "workflow", "conf", "environment.yml"):
                src = repo / part
                (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(tmp) / part)
            cmd = ["snakemake", "--cores", str(cores), "--config", f"scale={scale}", f"experiments=[{experiment}]",
                   "tracking=disabled", "--quiet", "all"]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode:
                sys.exit(f"snakemake failed at scale={scale}:\n{(r.stdout + r.stderr)[-3000:]}")
            target = TARGETS_S.get((experiment, scale))
            verdict = "" if target is None else (f"  target {target:.0f} s: " + ("met" if wall <= target else "MISSED"))
            print(f"{experiment} workflow, scale={scale}, --cores {cores}: {wall:.1f} s{verdict}", flush=True)
            out[scale] = wall
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("batched")
    b.add_argument("--steps", type=int, default=300)
    sw = sub.add_parser("sweep")
    sw.add_argument("--epochs", type=int, default=2)
    sw.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    sw.add_argument("--threads", type=int, default=2)
    im = sub.add_parser("imp")
    im.add_argument("--iterations", type=int, default=200)
    ist = sub.add_parser("ista")
    ist.add_argument("--iterations", type=int, default=200)
    ist.add_argument("--vectors", type=int, default=1000)
    ist.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    w = sub.add_parser("workflow")
    w.add_argument("--scales", nargs="+", default=["smoke", "laptop"], choices=["smoke", "laptop", "paper"])
    w.add_argument("--cores", type=int, default=2)
    w.add_argument("--experiment", default="f_principle")
    a = p.parse_args(argv)
    if a.what == "batched":
        torch.set_num_threads(1)
        bench_batched(a.steps)
    elif a.what == "imp":
        torch.set_num_threads(2)
        bench_imp(a.iterations)
    elif a.what == "ista":
        torch.set_num_threads(1)
        bench_ista(a.iterations, a.vectors, a.device)
    elif a.what == "sweep":
        torch.set_num_threads(a.threads)
        bench_sweep(a.epochs, a.device)
    else:
        bench_workflow(a.experiment, a.scales, a.cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
