"""The one training loop.

It trains a *batch* of independent models at once: `losses()` returns one loss per model, and the
loop steps on their sum. Because the models share no parameters, the gradient of the sum with
respect to one model's parameters is that model's own gradient, and element-wise optimizers (SGD,
Adam) keep per-parameter state, so each model trains exactly as it would alone.

It prints progress (step, loss, rate) to stdout, which Snakemake sends to the job's log, and stops
at the step where any model's loss stops being finite.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from repro import checkpoint


class Diverged(RuntimeError):
    """A loss became NaN or inf. The message names the models (points) and the step."""

    def __init__(self, label: str, step: int, models: Sequence[str]):
        self.step, self.models = step, list(models)
        super().__init__(
            f"[{label}] loss is not finite at step {step} for {', '.join(self.models)}; "
            "likely cause: learning rate too large for this model/scale (lower it in conf/)."
        )


@dataclass
class Progress:
    """Prints a line at most every `every_s` seconds, and on the last step."""

    label: str
    total: int
    every_s: float | None = 5.0  # None: silent

    def __post_init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def __call__(self, step: int, losses: torch.Tensor) -> None:
        if self.every_s is None:
            return
        now = time.perf_counter()
        if now - self.last < self.every_s and step != self.total:
            return
        self.last = now
        rate = step / max(now - self.start, 1e-9)
        med = losses.detach().median().item()
        print(f"[{self.label}] step {step}/{self.total}  loss median {med:.4g} "
              f"max {losses.detach().max().item():.4g}  {rate:.0f} steps/s", flush=True)


def train(
    params: Sequence[torch.nn.Parameter],
    losses: Callable[[], torch.Tensor],
    *,
    steps: int,
    optimizer: Callable[[Sequence[torch.nn.Parameter]], torch.optim.Optimizer],
    record: Callable[[int], None] | None = None,
    record_steps: Sequence[int] = (),
    label: str = "train",
    model_names: Sequence[str] | None = None,
    progress_every_s: float | None = 5.0,
    stop: Callable[[], bool] | None = None,
    after_step: Callable[[], None] | None = None,
) -> int:
    """Run `steps` optimizer steps on `losses().sum()`.

    `record(step)` is called (under no_grad) before the first step and after every step listed in
    `record_steps` (step s means "after s updates"). Raises `Diverged` at the first non-finite loss.
    `stop()`, checked after each step, ends training early (e.g. once every model has converged).
    `after_step()` runs right after every optimizer step (e.g. to re-apply pruning masks).
    Returns the number of steps taken.

    Inside a shard run (`repro.checkpoint.active()`), the call checkpoints itself periodically, at its end and on
    SIGTERM, and a rerun resumes it (or skips it, if it had finished) instead of starting over.
    """
    params = list(params)
    opt = optimizer(params)
    wanted = set(int(s) for s in record_steps)
    progress = Progress(label, steps, progress_every_s)
    index, ck = checkpoint.call_started(), checkpoint.active()
    start = 0
    if ck is not None:
        skip, start = ck.begin(index, params, opt)
        if skip:
            return start
        ck.in_call, timer = True, checkpoint.Timer(ck.every_s)
    try:
        return _loop(params, opt, losses, start, steps, wanted, progress, record, label, model_names, stop,
                     after_step, ck, timer if ck is not None else None, index)
    finally:
        if ck is not None:
            ck.in_call = False


def _loop(params, opt, losses, start, steps, wanted, progress, record, label, model_names, stop, after_step, ck,
          timer, index) -> int:
    if record is not None and 0 in wanted and start == 0:
        with torch.no_grad():
            record(0)
    for step in range(start + 1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = losses()
        bad = ~torch.isfinite(loss.detach())
        if bad.any():
            names = model_names or [f"model {i}" for i in range(loss.numel())]
            raise Diverged(label, step, [names[i] for i in bad.nonzero().flatten().tolist()])
        loss.sum().backward()
        opt.step()
        if after_step is not None:
            with torch.no_grad():
                after_step()
        progress(step, loss)
        if record is not None and step in wanted:
            with torch.no_grad():
                record(step)
        if stop is not None and stop():
            progress.total = step
            progress(step, loss)
            if ck is not None:
                ck.finished(step, params, opt)
            return step
        if index is not None:
            checkpoint.inject_fault(index, step)
        if ck is not None and (ck.terminate or timer.due()):
            ck.save(params, opt, step)
            if ck.terminate:
                raise checkpoint.Preempted(f"[{label}] SIGTERM at step {step}: checkpoint saved in {ck.dir}")
    if ck is not None:
        ck.finished(steps, params, opt)
    return steps


class MinibatchOrder:
    """Each model's own shuffled minibatches, for a batch of B models trained together.

    Model b draws a fresh permutation of `pool` (sample indices) at the start of every epoch from its
    own generator, seeded `seeds[b]`, so its order never depends on which models share the batch.
    Each call returns the next step's indices, [B, batch_size] (the last batch of an epoch may be
    shorter unless `drop_last`).
    """

    def __init__(self, pool: torch.Tensor, seeds: Sequence[int], batch_size: int, *, drop_last: bool = True):
        self.pool, self.batch_size = pool, batch_size
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        n = len(pool)
        self.steps_per_epoch = n // batch_size if drop_last else -(-n // batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(f"batch_size={batch_size} exceeds the {n} training samples")
        self.step, self.perm = 0, None

    def state_dict(self) -> dict:
        return {"gens": [g.get_state() for g in self.gens], "step": self.step, "perm": self.perm}

    def load_state_dict(self, state: dict) -> None:
        for g, s in zip(self.gens, state["gens"]):
            g.set_state(s)
        self.step, self.perm = state["step"], state["perm"]

    def __call__(self) -> torch.Tensor:
        i = self.step % self.steps_per_epoch
        if i == 0:
            self.perm = torch.stack([self.pool[torch.randperm(len(self.pool), generator=g).to(self.pool.device)]
                                     for g in self.gens])
        self.step += 1
        return self.perm[:, i * self.batch_size:(i + 1) * self.batch_size]


def log_spaced_steps(total: int, n: int, dense_until: int = 0) -> list[int]:
    """About `n` record steps from 0 to `total`, log-spaced, plus every step up to `dense_until`."""
    steps = {0, total, *range(min(dense_until, total) + 1)}
    if total > 0 and n > 0:
        steps.update(int(round(x)) for x in torch.logspace(0, math.log10(total), n).tolist())
    return sorted(s for s in steps if 0 <= s <= total)


def pick_device(requested: str) -> torch.device:
    """`auto` means cuda when available, else cpu. Asking for cuda without one is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("scale.device=cuda but no CUDA device is available; use scale.device=auto or cpu")
    return torch.device(requested)
