"""FROZEN BASELINE — do not modernise. The training loop as it was at commit 85a4629 (src/repro/train.py), cut
down to what runs outside a shard (no checkpointer is active there, so the checkpoint calls were no-ops), for the
"new step vs old step" benchmarks to measure the current `repro.train.train` against.

What made the old step slow, kept on purpose:
- a host check of every step's loss, `bad = ~torch.isfinite(loss.detach()); if bad.any(): ...` (a device
  synchronisation per step);
- whatever optimizer the caller built (the experiments built non-fused `torch.optim.Adam`/`SGD`);
- progress bookkeeping per step (`Progress.__call__`, a clock read per step and a line at the end);
- the per-step record/stop checks.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch


class OldDiverged(RuntimeError):
    pass


class OldProgress:
    """`repro.train.Progress` at 85a4629."""

    def __init__(self, label: str, total: int, every_s: float | None = 5.0):
        self.label, self.total, self.every_s = label, total, every_s
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
        print(
            f"[{self.label}] step {step}/{self.total}  loss median {med:.4g} "
            f"max {losses.detach().max().item():.4g}  {rate:.0f} steps/s",
            flush=True,
        )


def old_train(
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
    """`repro.train.train` at 85a4629, outside a shard run."""
    params = list(params)
    opt = optimizer(params)
    wanted = set(int(s) for s in record_steps)
    progress = OldProgress(label, steps, progress_every_s)
    if record is not None and 0 in wanted:
        with torch.no_grad():
            record(0)
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = losses()
        bad = ~torch.isfinite(loss.detach())
        if bad.any():
            names = model_names or [f"model {i}" for i in range(loss.numel())]
            raise OldDiverged(
                f"[{label}] loss is not finite at step {step} for "
                f"{', '.join(names[i] for i in bad.nonzero().flatten().tolist())}"
            )
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
            return step
    return steps


def old_adam(lr: float) -> Callable:
    """The experiments' optimizers at 85a4629: torch.optim defaults (on CPU, the per-parameter for-loop)."""
    return lambda p: torch.optim.Adam(p, lr=lr)


def old_sgd(lr: float, momentum: float = 0.0) -> Callable:
    return lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum)
