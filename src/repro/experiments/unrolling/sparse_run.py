"""One sparse-recovery shard: train the LISTA family, then measure it and the classical baselines on the test set.

Rows (tidy): method, seed, lam, layer (layer or iteration), step (training steps taken; 0 for classical),
metric, value, plus the shard's noise setting in column `noise`. Metrics: `nmse_db` (test NMSE after the layer or
iteration), `val_nmse_db` (validation NMSE at the end of each layer's training, the last layer's only in the greedy
schedule; for ISTA/FISTA at 16 iterations, for choosing lam), `val_curve_db` (the learned nets' validation curve:
NMSE of the full-depth output against the training step, over the steps that train that output; see `train_seed`),
`theta` and `gamma` (the learned thresholds and ALISTA's step sizes per layer), `iterations` (ISTA/FISTA: layer =
iterations run, value 1 when every lam plateaued), and the oracle's `nmse_db` (method `oracle`, layer 0). ISTA,
FISTA and the oracle do not depend on a training seed: their rows have seed -1.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import torch

from repro.data import load
from repro.experiments.unrolling import lasso
from repro.experiments.unrolling.claims import CONVERGENCE_WINDOW, CURVE
from repro.experiments.unrolling.lista import Unrolled, train_greedy, train_layerwise
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
        rows.append(
            {
                "noise": noise,
                "method": method,
                "seed": seed,
                "lam": lam,
                "layer": layer,
                "step": step,
                "metric": metric,
                "value": float(value),
            }
        )

    for seed in ctx.seeds[: c.seeds]:
        t0 = time.perf_counter()
        train_seed(ctx, seed, snr_db, a, sets, y, row)
        print(f"[{ctx.label()}] seed {seed}: trained and scored in {time.perf_counter() - t0:.1f} s", flush=True)

    classical(c, a, sets, y, row)
    row("oracle", NO_SEED, 0, 0, "nmse_db", lasso.oracle_nmse_db(a.cpu(), sets["test"][0].cpu(), y["test"].cpu()))
    return pd.DataFrame(rows)


def train_seed(ctx, seed: int, snr_db: float | None, a: torch.Tensor, sets: dict, y: dict, row) -> None:
    """Train the learned methods with one seed, then record their per-layer test NMSE and parameters.

    The validation curve (`val_curve_db`) follows the full-depth output over the training calls that train it: the
    last layer's stage (earlier stages train shallower outputs) and, in the greedy schedule, the end-to-end finish.
    Without early stopping it is recorded at CURVE_FRACTIONS of those calls' steps; with early stopping, at the
    validations the stopping rule makes anyway (every eval_every steps), at the stage's start and at the end.
    """
    c, dev = ctx.exp, ctx.device
    torch.manual_seed(seed)
    models = [Unrolled(m, a, c.layers, c.lam, c.ss_step, c.ss_max, c.alista_step, c.init).to(dev) for m in c.methods]
    gen = torch.Generator().manual_seed(10_007 * seed + 3)
    taken = {"steps": 0, "calls": 0, "curve_last": -1}
    for name, obj in (("gen", gen), ("taken", taken), *((m.method, m) for m in models)):
        ctx.keep(f"seed{seed}-{name}", obj)
    n_phases = 1 + len(c.decays)
    greedy = c.schedule == "greedy"
    early_stopping = not greedy and c.patience is not None
    first_full = n_phases * (c.layers - 1)  # the first call that trains depth K
    full_calls = [c.steps] * n_phases + ([c.finish_steps] if greedy and c.finish_steps > 0 else [])
    marks = sorted({int(round(f * sum(full_calls))) for f in CURVE_FRACTIONS})

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
        if j < 0 or j >= len(full_calls):
            return []
        if early_stopping:
            return [0] if j == 0 else []
        lo = sum(full_calls[:j])
        return [k - lo for k in marks if lo < k <= lo + full_calls[j] or (j == 0 and k == 0)]

    def counting_train(*args, **kw):
        wanted = curve_steps(taken["calls"])
        taken["calls"] += 1
        if wanted:
            kw.update(record=lambda s: curve_point(taken["steps"] + s), record_steps=wanted)
        n = train(*args, **kw)
        taken["steps"] += n
        return n

    def after_stage(k: int) -> None:
        if greedy and k != c.layers:  # each costs a k-layer pass over the validation set; greedy reads the last
            return
        with torch.no_grad():
            for m in models:
                row(
                    m.method,
                    seed,
                    k,
                    taken["steps"],
                    "val_nmse_db",
                    lasso.nmse_db(m(y["val"], upto=k)[-1], sets["val"][0]),
                )

    label = f"{ctx.label()} seed {seed}"
    method_lr = dict(c.method_lr)
    if greedy:
        # A fixed pool from its own stream (the same after a resume); minibatch rows come from `gen`.
        pool_gen = torch.Generator().manual_seed(10_007 * seed + 5)
        x_pool = codes_from(pool_gen, c.pool, c.n, c.p).to(dev)
        y_pool = lasso.measure(a, x_pool, torch.randn(c.pool, c.m, generator=pool_gen).to(dev), snr_db)
        train_greedy(
            models,
            (y_pool, x_pool),
            lambda: torch.randint(c.pool, (c.batch_size,), generator=gen).to(dev),
            lr=c.lr,
            scalar_lr=c.scalar_lr,
            decays=c.decays,
            steps=c.steps,
            finish_steps=c.finish_steps,
            finish_lr=c.finish_lr,
            train_fn=counting_train,
            label=label,
            method_lr=method_lr,
            after_stage=after_stage,
        )
    else:

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            x = codes_from(gen, c.batch_size, c.n, c.p).to(dev)
            z = torch.randn(c.batch_size, c.m, generator=gen).to(dev)
            return lasso.measure(a, x, z, snr_db), x

        train_layerwise(
            models,
            batch,
            lr=c.lr,
            scalar_lr=c.scalar_lr,
            decays=c.decays,
            decay_rate=c.decay_rate,
            steps=c.steps,
            train_fn=counting_train,
            label=label,
            method_lr=method_lr,
            stop_factory=stop_factory(ctx, seed, models, y, sets, curve_point, taken) if early_stopping else None,
            after_stage=after_stage,
        )
    if taken["curve_last"] != taken["steps"]:  # the curve ends where training ends
        curve_point(taken["steps"])
    with torch.no_grad():
        for m in models:
            for k, x_hat in enumerate(m(y["test"]), start=1):
                row(m.method, seed, k, taken["steps"], "nmse_db", lasso.nmse_db(x_hat, sets["test"][0]))
                row(m.method, seed, k, taken["steps"], "theta", m.theta[k - 1])
                if m.method == "alista":
                    row(m.method, seed, k, taken["steps"], "gamma", m.gamma[k - 1])


def stop_factory(ctx, seed: int, models: list, y: dict, sets: dict, curve_point, taken: dict):
    """Early stopping of each phase (the authors' utils/train.py): validate every eval_every steps; stop once
    `patience` validations in a row improved no model."""
    c = ctx.exp

    def make(k: int):
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

    return make


def codes_from(gen: torch.Generator, count: int, n: int, p: float) -> torch.Tensor:
    """Fresh training codes, Bernoulli(p) x N(0, 1) as `repro.data.sparse.codes`, from a torch generator."""
    mask = torch.rand(count, n, generator=gen) < p
    return mask * torch.randn(count, n, generator=gen)


def classical(c, a, sets, y, row) -> None:
    """ISTA and FISTA on the test set for every lam, recorded at every iteration up to the depth of the learned
    nets and log-spaced after, until every lam has plateaued (`plateaued`) or `classical_iterations`; and each lam's
    validation NMSE at that depth, for choosing lam. Metric `iterations` (layer: iterations run; value 1 when every
    lam had plateaued, else 0) says where and why each run stopped."""
    record = sorted(set(range(c.layers + 1)) | set(log_spaced_steps(c.classical_iterations, 80)))
    for method, solver in (("ista", lasso.ista), ("fista", lasso.fista)):
        val = solver(a, y["val"], c.classical_lams, c.layers)
        for lam, x_hat in zip(c.classical_lams, val):
            row(method, NO_SEED, c.layers, 0, "val_nmse_db", lasso.nmse_db(x_hat, sets["val"][0]), lam)
        history: dict[int, list[float]] = {}
        state = {"k": 0, "flat": False}

        def on_record(k: int, x_hat: torch.Tensor, method=method, history=history, state=state) -> bool:
            history[k] = [lasso.nmse_db(est, sets["test"][0]) for est in x_hat]
            for lam, v in zip(c.classical_lams, history[k]):
                row(method, NO_SEED, k, 0, "nmse_db", v, lam)
            state["k"], state["flat"] = k, k >= c.layers and plateaued(history, c.plateau_db)
            return state["flat"]

        print(
            f"[unrolling] {method.upper()}: {len(c.classical_lams)} values of lam x {len(y['test'])} test "
            f"vectors, until every lam gains < {c.plateau_db:g} dB over the last 10% of its iterations (at most "
            f"{c.classical_iterations})",
            flush=True,
        )
        t0 = time.perf_counter()
        solver(a, y["test"], c.classical_lams, c.classical_iterations, record, on_record)
        row(method, NO_SEED, state["k"], 0, "iterations", float(state["flat"]))
        print(
            f"[unrolling] {method.upper()}: stopped at iteration {state['k']} "
            f"({'every lam plateaued' if state['flat'] else 'the cap'}) after {time.perf_counter() - t0:.1f} s",
            flush=True,
        )


def plateaued(history: dict[int, list[float]], tol_db: float) -> bool:
    """Every lam's NMSE (dB) fell by less than `tol_db` from the last record at or before 90% of the latest
    iteration to the latest (a non-finite NMSE, an exact solution, counts as plateaued)."""
    k = max(history)
    earlier = [j for j in history if j <= 0.9 * k]
    if not earlier:
        return False
    before, now = history[max(earlier)], history[k]
    return all(not math.isfinite(n) or b - n < tol_db for b, n in zip(before, now))
