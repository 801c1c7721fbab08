"""The one training loop.

It trains a *batch* of independent models at once: `losses()` returns one loss per model, and the
loop steps on their sum. Because the models share no parameters, the gradient of the sum with
respect to one model's parameters is that model's own gradient, and element-wise optimizers (SGD,
Adam) keep per-parameter state, so each model trains exactly as it would alone.

The step never waits on the host: each step's loss vector goes into a buffer on the device, and the
buffer is checked for non-finite losses every `check_every` steps (and before every record, checkpoint and
return). A divergence is reported at the step where it happened, naming the models (see `train`).
It prints progress (step, loss, rate) to stdout, at most every few seconds, which Snakemake sends to the
job's log.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from repro import checkpoint, tracking

CHECK_EVERY = 50  # steps between two divergence checks (each is one device synchronisation)


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
    """Prints a line at most every `every_s` seconds, and on the last step. Between two lines it costs one
    clock read: the losses are read (a device synchronisation) only when a line is due."""

    label: str
    total: int
    every_s: float | None = 5.0  # None: silent

    def __post_init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def due(self, step: int) -> bool:
        if self.every_s is None:
            return False
        return step == self.total or time.perf_counter() - self.last >= self.every_s

    def __call__(self, step: int, losses: torch.Tensor) -> None:
        if not self.due(step):
            return
        now = self.last = time.perf_counter()
        rate = step / max(now - self.start, 1e-9)
        losses = losses.detach().float()
        median, worst = losses.median().item(), losses.max().item()
        print(
            f"[{self.label}] step {step}/{self.total}  loss median {median:.4g} max {worst:.4g}  {rate:.0f} steps/s",
            flush=True,
        )
        key = f"progress/{self.label}"  # live in the shard's tracker (tracking=online shows it while the job runs)
        tracking.current().log(
            {f"{key}/step": step, f"{key}/loss_median": median, f"{key}/loss_max": worst, f"{key}/steps_per_s": rate}
        )


# ---------------------------------------------------------------- optimizers


def _fast_kwargs(params: Sequence[torch.nn.Parameter], fused: bool | None, kw: dict) -> dict:
    """How the update runs. `fused=None` (the default): torch's fused kernel on CUDA, the foreach (multi-tensor)
    implementation elsewhere. Not fused on CPU: there the fused Adam and momentum-SGD kernels round an element
    differently in their vector body and their scalar tail, so a model's numbers would depend on its position in
    the batch (tests/test_train_step.py), and this project guarantees they do not. `fused=True` forces the fused
    kernel; `foreach=...` in `kw` is passed through instead."""
    if fused is None:
        fused = bool(params) and all(p.device.type == "cuda" and torch.is_floating_point(p) for p in params)
    if fused:
        return {"fused": True}
    return {} if "foreach" in kw else {"foreach": True}


def _factory(cls, lr: float, fused: bool | None, kw: dict):
    def make(params: Sequence[torch.nn.Parameter] | Sequence[dict]) -> torch.optim.Optimizer:
        params = list(params)  # tensors, or parameter groups (dicts with "params" and their own options)
        flat = [p for g in params for p in g["params"]] if params and isinstance(params[0], dict) else params
        return cls(params, lr=lr, **kw, **_fast_kwargs(flat, fused, kw))

    return make


def adam(lr: float, *, fused: bool | None = None, **kw) -> Callable[[Sequence[torch.nn.Parameter]], torch.optim.Adam]:
    """An optimizer factory for `train`: Adam with `lr` (and `kw`), fused on CUDA, foreach elsewhere (see
    `_fast_kwargs`)."""
    return _factory(torch.optim.Adam, lr, fused, kw)


@contextlib.contextmanager
def denormals_flushed():
    """Flush subnormal floats (below ~1.2e-38 in float32) to zero inside the block, where the CPU supports it.

    x86 CPUs compute on subnormals many times slower. Long Adam runs make them: a parameter whose gradient is
    exactly zero (a dead ReLU unit) has a second moment that decays by 0.999 a step into the subnormal range, and
    the information bottleneck's ReLU shard ran ~15% slower for it. Flushing changes nothing any result depends on
    (Adam's denominator is sqrt(v) + 1e-8), but it does change bits, so it is opt-in, per experiment."""
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


class LeanAdam:
    """Adam with torch.optim.Adam's update, bit for bit (its foreach and single-tensor paths without amsgrad, weight
    decay or maximize), and none of torch.optim's per-step machinery (hooks, profiler records, grouping by device
    and dtype).

    For models whose step is all per-op overhead, such as `repro.nn.fused.FlatBatchedMLP` (one flat tensor):
    torch.optim.Adam costs ~100-150 µs a step there inside the training loop, this ~30 µs. Element-wise, in place,
    one tensor at a time, so a model's numbers never depend on its position in a batch (the rounding of the fused
    CPU kernel does). Checkpoints through `state_dict` / `load_state_dict`, like any torch optimizer.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = float(lr), betas, float(eps)
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1**self.steps)  # torch: lr / bias_correction1, as Python floats
        bias_correction2_sqrt = (1 - b2**self.steps) ** 0.5
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            g = p.grad
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "exp_avg": [t.clone() for t in self.exp_avg],
            "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
            "hyper": {"lr": self.lr, "betas": (self.beta1, self.beta2), "eps": self.eps},
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        for mine, saved in ((self.exp_avg, state["exp_avg"]), (self.exp_avg_sq, state["exp_avg_sq"])):
            for t, v in zip(mine, saved):
                t.copy_(v)


def lean_adam(lr: float, **kw) -> Callable[[Sequence[torch.nn.Parameter]], LeanAdam]:
    """An optimizer factory for `train`: `LeanAdam` (torch's Adam update without torch.optim's per-step overhead)."""
    return lambda params: LeanAdam(params, lr, **kw)


def adamw(lr: float, *, fused: bool | None = None, **kw) -> Callable[[Sequence[torch.nn.Parameter]], torch.optim.AdamW]:
    """Like `adam`, for AdamW."""
    return _factory(torch.optim.AdamW, lr, fused, kw)


def sgd(lr: float, *, fused: bool | None = None, **kw) -> Callable[[Sequence[torch.nn.Parameter]], torch.optim.SGD]:
    """Like `adam`, for SGD (momentum, weight_decay etc. pass through)."""
    return _factory(torch.optim.SGD, lr, fused, kw)


# ---------------------------------------------------------------- the loop


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
    check_every: int = CHECK_EVERY,
    checkpointer: checkpoint.Checkpointer | None = None,
    compile_step: bool = False,
) -> int:
    """Run `steps` optimizer steps on `losses().sum()`.

    `record(step)` is called (under `torch.inference_mode`: it must only read the models, and tensors it keeps
    must not enter autograd later) before the first step and after every step listed in `record_steps` (step s
    means "after s updates"). `stop()`, checked after each step, ends training early (e.g. once every model has
    converged). `after_step()` runs (under no_grad) right after every optimizer step (e.g. to re-apply pruning
    masks). Returns the number of steps taken.

    Raises `Diverged` for the first step whose loss is not finite, naming the models. The losses are checked
    every `check_every` steps, and before every record, checkpoint and return, so by the time it is raised the
    parameters may have been updated for up to `check_every - 1` steps past that step (training stops with the
    error, so nothing uses them).

    `compile_step` compiles the optimizer update with `torch.compile` (once per call). Off by default: on CPU (one
    thread, the information-bottleneck net, 1000 steps) it compiled for ~2.5 s and then ran no faster (1.6 s
    against 1.4 s eager, warm cache), and its parameters differ from eager's (by up to 7e-3 after 300 steps;
    tests/test_train_step.py checks 10 steps within rtol 1e-5, atol 1e-6). Compiling the model's forward and loss
    instead cost ~20 s cold for the same step time (1.31 against 1.30 ms), 3e-7 from eager after 300 steps.

    Inside a shard run (`checkpointer`, by default the one `repro.run` made current), the call checkpoints itself
    periodically, at its end and on SIGTERM, and a rerun resumes it (or skips it, if it had finished) instead of
    starting over; the checkpointer's fault hook (tests) runs after every step.
    """
    params = list(params)
    ck = checkpointer if checkpointer is not None else checkpoint.current()
    opt = optimizer(params)
    run = _Run(
        params=params,
        opt=opt,
        losses=losses,
        steps=steps,
        label=label,
        model_names=model_names,
        record=record,
        wanted=set(int(s) for s in record_steps),
        stop=stop,
        after_step=after_step,
        progress=Progress(label, steps, progress_every_s),
        check_every=max(1, int(check_every)),
    )
    if compile_step:
        run.opt_step = torch.compile(opt.step, dynamic=False)
    if ck is not None:
        run.call, run.fault = ck.open_call(), ck.fault
        if ck.enabled:
            skip, run.start = ck.begin(run.call, params, opt)
            if skip:
                return run.start
            run.ck, run.timer = ck, ck.timer()
    if run.ck is None:
        return run.loop()
    run.ck.in_call = True
    try:
        return run.loop()
    finally:
        run.ck.in_call = False


@dataclass
class _Run:
    """One train() call: what the loop needs, and the losses since the last divergence check."""

    params: list[torch.nn.Parameter]
    opt: torch.optim.Optimizer
    losses: Callable[[], torch.Tensor]
    steps: int
    label: str
    model_names: Sequence[str] | None
    record: Callable[[int], None] | None
    wanted: set[int]
    stop: Callable[[], bool] | None
    after_step: Callable[[], None] | None
    progress: Progress
    check_every: int
    start: int = 0  # the step to start after (a resumed call)
    ck: checkpoint.Checkpointer | None = None  # saves (None: outside a shard run, or a shard that does not)
    call: int | None = None  # this call's index in the shard run
    timer: checkpoint.Timer | None = None  # when the next periodic checkpoint is due
    fault: Callable[[int, int], None] | None = None  # the test hook, fault(call, step)
    opt_step: Callable[[], object] | None = None
    buffer: torch.Tensor | None = field(default=None, repr=False)  # [check_every, B]: losses of unchecked steps
    pending: int = 0  # rows of `buffer` filled
    first: int = 1  # the step of buffer row 0

    def loop(self) -> int:
        if self.record is not None and 0 in self.wanted and self.start == 0:
            with torch.inference_mode():
                self.record(0)
        opt_step = self.opt_step or self.opt.step
        self.first = self.start + 1
        step = self.start
        try:
            for step in range(self.start + 1, self.steps + 1):
                self.opt.zero_grad(set_to_none=True)
                loss = self.losses()
                self._keep(loss.detach())
                loss.sum().backward()
                opt_step()
                if self.after_step is not None:
                    with torch.no_grad():
                        self.after_step()
                if self.progress.due(step):
                    self.progress(step, loss)
                if self.record is not None and step in self.wanted:
                    self.check()
                    with torch.inference_mode():
                        self.record(step)
                if self.stop is not None and self.stop():
                    self.check()
                    self.progress.total = step
                    self.progress(step, loss)
                    if self.ck is not None:
                        self.ck.finished(step, self.params, self.opt, call=self.call)
                    return step
                if self.fault is not None:
                    self.fault(self.call, step)
                if self.ck is not None and (self.ck.terminate or self.timer.due()):
                    self.check()
                    self.ck.save(self.params, self.opt, step, call=self.call)
                    if self.ck.terminate:
                        raise checkpoint.Preempted(
                            f"[{self.label}] SIGTERM at step {step}: checkpoint saved in {self.ck.dir}"
                        )
            self.check()
        except Exception as e:
            if not isinstance(e, Diverged):
                self.check()  # a non-finite loss earlier is the cause to report
            raise
        if self.ck is not None:
            self.ck.finished(self.steps, self.params, self.opt, call=self.call)
        return self.steps

    def _keep(self, loss: torch.Tensor) -> None:
        """Store this step's loss vector on the device; check the buffer once it is full."""
        loss = loss.reshape(-1)
        if self.buffer is None or self.buffer.shape[1] != loss.numel() or self.buffer.dtype != loss.dtype:
            if self.pending:
                self.check()
            self.buffer = torch.empty(self.check_every, loss.numel(), dtype=loss.dtype, device=loss.device)
        self.buffer[self.pending].copy_(loss)
        self.pending += 1
        if self.pending == self.check_every:
            self.check()

    def check(self) -> None:
        """Raise `Diverged` for the first unchecked step with a non-finite loss (one synchronisation)."""
        if self.pending:
            seen = self.buffer[: self.pending]
            finite = torch.isfinite(seen).all(dim=1)
            if not bool(finite.all()):
                row = int((~finite).nonzero()[0, 0])
                bad = (~torch.isfinite(seen[row])).nonzero().flatten().tolist()
                names = self.model_names or [f"model {i}" for i in range(seen.shape[1])]
                raise Diverged(self.label, self.first + row, [names[i] for i in bad])
        self.first += self.pending
        self.pending = 0


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
            self.perm = torch.stack(
                [self.pool[torch.randperm(len(self.pool), generator=g).to(self.pool.device)] for g in self.gens]
            )
        self.step += 1
        return self.perm[:, i * self.batch_size : (i + 1) * self.batch_size]


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
