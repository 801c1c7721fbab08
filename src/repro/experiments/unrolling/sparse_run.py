"""One sparse-recovery shard: train the LISTA family, then measure it and the classical baselines on the test set.

Rows (tidy): method, seed, lam, layer (layer or iteration), step (training steps taken; 0 for classical),
metric, value, plus the shard's noise setting in column `noise`. Metrics: `nmse_db` (test NMSE after the layer or
iteration), `val_nmse_db` (validation NMSE at the end of each layer's training; for ISTA/FISTA at 16 iterations,
for choosing lam), `val_curve_db` (the learned nets' validation curve: NMSE of the full-depth output against the
training step, over the steps that train that output; see `train_seed`), `theta` and `gamma` (the learned
thresholds and ALISTA's step sizes per layer), and the oracle's `nmse_db` (method `oracle`, layer 0). ISTA, FISTA
and the oracle do not depend on a training seed: their rows have seed -1.
"""

from __future__ import annotations

import pandas as pd
import torch

from repro.data import load
from repro.experiments.unrolling import lasso
from repro.experiments.unrolling.claims import CONVERGENCE_WINDOW, CURVE
from repro.experiments.unrolling.lista import Unrolled, train_end_to_end, train_layerwise
from repro.train import log_spaced_steps, train

# Where the validation curve is recorded without early stopping, as fractions of the steps that train the full-depth
# output: the start of the claims' convergence window (its last CONVERGENCE_WINDOW) and its end, and a few points
# for the figure. Each point is one forward pass of the validation set, about 3.6 training steps of the four nets at
# 250 x 500 (measured on one CPU thread): six points cost under 2% of the laptop schedule's 1200 steps.
CURVE_FRACTIONS = tuple(sorted({0.0, 0.25, 0.5, 0.75, round(1.0 - CONVERGENCE_WINDOW, 6), 1.0}))
NO_SEED = -1  # the seed of rows that do not depend on a training seed (ISTA, FISTA, the oracle)


def run_sparse(ctx, snr_db: float | None) -> pd.DataFrame:
    from repro.experiments.unrolling import noise_name, sparse_ref

    c = ctx.exp
    dev = ctx.device
    d = load(sparse_ref(c), ctx.data_dir)
    a = torch.tensor(d["A"], device=dev)
    sets = {s: (torch.tensor(d[f"x_{s}"], device=dev), torch.tensor(d[f"z_{s}"], device=dev)) for s in ("test", "val")}
    y = {s: lasso.measure(a, x, z, snr_db) for s, (x, z) in sets.items()}
    noise = noise_name(snr_db)
    rows: list[dict] = []
    ctx.keep("rows", rows)  # a resumed run gets these back (see repro.checkpoint)

    def row(method, seed, layer, step, metric, value, lam=float("nan")) -> None:
        rows.append({"noise": noise, "method": method, "seed": seed, "lam": lam, "layer": layer, "step": step,
                     "metric": metric, "value": float(value)})

    for seed in ctx.seeds[: c.seeds]:
        train_seed(ctx, seed, snr_db, a, sets, y, row)

    classical(c, a, sets, y, row)
    row("oracle", NO_SEED, 0, 0, "nmse_db", lasso.oracle_nmse_db(a.cpu(), sets["test"][0].cpu(), y["test"].cpu()))
    return pd.DataFrame(rows)


def train_seed(ctx, seed: int, snr_db: float | None, a: torch.Tensor, sets: dict, y: dict, row) -> None:
    """Train the learned methods with one seed, then record their per-layer test NMSE and parameters.

    The validation curve (`val_curve_db`) follows the full-depth output over the training calls that train it:
    every call end to end; the last layer's stage in the layer-wise schedule (earlier stages train shallower
    outputs). Without early stopping it is recorded at CURVE_FRACTIONS of those calls' steps; with early stopping,
    at the validations the stopping rule makes anyway (every eval_every steps), at the stage's start and at the end.
    """
    c, dev = ctx.exp, ctx.device
    torch.manual_seed(seed)
    models = [Unrolled(m, a, c.layers, c.lam, c.ss_step, c.ss_max).to(dev) for m in c.methods]
    gen = torch.Generator().manual_seed(10_007 * seed + 3)
    taken = {"steps": 0, "calls": 0, "curve_last": -1}
    for name, obj in (("gen", gen), ("taken", taken), *((m.method, m) for m in models)):
        ctx.keep(f"seed{seed}-{name}", obj)
    n_phases = 1 + len(c.decays)
    early_stopping = c.schedule == "layerwise" and c.patience is not None
    first_full = 0 if c.schedule == "end_to_end" else n_phases * (c.layers - 1)  # the first call training depth K
    marks = sorted({int(round(f * n_phases * c.steps)) for f in CURVE_FRACTIONS})

    def curve_point(step: int, values: list[float] | None = None) -> None:
        """The full-depth validation NMSE of every model at global training step `step`."""
        if values is None:
            with torch.no_grad():
                values = [lasso.nmse_db(m(y["val"])[-1], sets["val"][0]) for m in models]
        for m, v in zip(models, values):
            row(m.method, seed, c.layers, step, CURVE, v)
        taken["curve_last"] = step

    def curve_steps(call: int) -> list[int]:
        """The steps of training call `call` (counted from 0 in the call) at which to record the curve."""
        j = call - first_full
        if j < 0:
            return []
        if early_stopping:
            return [0] if j == 0 else []
        return [k - j * c.steps for k in marks if j * c.steps < k <= (j + 1) * c.steps or (j == 0 and k == 0)]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        x = codes_from(gen, c.batch_size, c.n, c.p).to(dev)
        z = torch.randn(c.batch_size, c.m, generator=gen).to(dev)
        return lasso.measure(a, x, z, snr_db), x

    def counting_train(*args, **kw):
        wanted = curve_steps(taken["calls"])
        taken["calls"] += 1
        if wanted:
            kw.update(record=lambda s: curve_point(taken["steps"] + s), record_steps=wanted)
        n = train(*args, **kw)
        taken["steps"] += n
        return n

    def stop_factory(k: int):
        if c.patience is None:
            return None
        state = {"best": [float("inf")] * len(models), "since": 0, "step": 0}
        ctx.keep(f"seed{seed}-stop", state)  # a resumed phase carries on with its own stopping state

        def stop() -> bool:
            state["step"] += 1
            if state["step"] % c.eval_every:
                return False
            with torch.no_grad():
                now = [lasso.nmse_db(m(y["val"], upto=k)[-1], sets["val"][0]) for m in models]
            if k == c.layers:  # the full-depth output: a point of the validation curve, at no extra cost
                curve_point(taken["steps"] + state["step"], now)
            improved = [n < b for n, b in zip(now, state["best"])]
            state["best"] = [min(n, b) for n, b in zip(now, state["best"])]
            state["since"] = 0 if any(improved) else state["since"] + 1
            return state["since"] >= c.patience
        return stop

    def after_stage(k: int) -> None:
        with torch.no_grad():
            for m in models:
                row(m.method, seed, k, taken["steps"], "val_nmse_db",
                    lasso.nmse_db(m(y["val"], upto=k)[-1], sets["val"][0]))

    label = f"{ctx.label()} seed {seed}"
    if c.schedule == "layerwise":
        train_layerwise(models, batch, lr=c.lr, decays=c.decays, steps=c.steps, train_fn=counting_train,
                        label=label, stop_factory=stop_factory, after_stage=after_stage)
    else:
        train_end_to_end(models, batch, lr=c.lr, decays=c.decays, steps=c.steps, train_fn=counting_train,
                         label=label)
        for k in range(1, c.layers + 1):
            after_stage(k)
    if taken["curve_last"] != taken["steps"]:  # the curve ends where training ends
        curve_point(taken["steps"])
    with torch.no_grad():
        for m in models:
            for k, x_hat in enumerate(m(y["test"]), start=1):
                row(m.method, seed, k, taken["steps"], "nmse_db", lasso.nmse_db(x_hat, sets["test"][0]))
                row(m.method, seed, k, taken["steps"], "theta", m.theta[k - 1])
                if m.method == "alista":
                    row(m.method, seed, k, taken["steps"], "gamma", m.gamma[k - 1])


def codes_from(gen: torch.Generator, count: int, n: int, p: float) -> torch.Tensor:
    """Fresh training codes, Bernoulli(p) x N(0, 1) as `repro.data.sparse.codes`, from a torch generator."""
    mask = torch.rand(count, n, generator=gen) < p
    return mask * torch.randn(count, n, generator=gen)


def classical(c, a, sets, y, row) -> None:
    """ISTA and FISTA on the test set for every lam, recorded at every iteration up to the depth of the learned
    nets and log-spaced after; and each lam's validation NMSE at that depth, for choosing lam."""
    record = sorted(set(range(c.layers + 1)) | set(log_spaced_steps(c.classical_iterations, 60)))
    for method, solver in (("ista", lasso.ista), ("fista", lasso.fista)):
        val = solver(a, y["val"], c.classical_lams, c.layers)
        for lam, x_hat in zip(c.classical_lams, val):
            row(method, NO_SEED, c.layers, 0, "val_nmse_db", lasso.nmse_db(x_hat, sets["val"][0]), lam)

        def on_record(k: int, x_hat: torch.Tensor, method=method) -> None:
            for lam, est in zip(c.classical_lams, x_hat):
                row(method, NO_SEED, k, 0, "nmse_db", lasso.nmse_db(est, sets["test"][0]), lam)

        print(f"[unrolling] {method.upper()}: {len(c.classical_lams)} values of lam x {len(y['test'])} test "
              f"vectors, {c.classical_iterations} iterations", flush=True)
        solver(a, y["test"], c.classical_lams, c.classical_iterations, record, on_record)

