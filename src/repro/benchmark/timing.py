"""The one timing helper every benchmark uses, the analytic FLOP count, the matmul peak and the header.

`measure` runs a warm-up, then N timed repeats; `paired` interleaves the repeats of two variants (A B, B A, A B,
...) so that whatever the machine is doing at the time slows both, and reports the ratio of each pair.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch


def sync() -> None:
    """Wait for queued GPU work, so a timer measures it (no-op on CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed repeat (warm-ups excluded)."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def lo(self) -> float:
        return min(self.times)

    @property
    def hi(self) -> float:
        return max(self.times)

    def __str__(self) -> str:
        return f"{fmt_s(self.median)} [{fmt_s(self.lo)}–{fmt_s(self.hi)}]"


def fmt_s(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _timed(fn: Callable[..., Any], setup: Callable[[], Any] | None, clock: Callable[[], float]) -> float:
    arg = setup() if setup is not None else None  # untimed: building models, copying state
    sync()
    t0 = clock()
    fn(arg) if setup is not None else fn()
    sync()
    return clock() - t0


def measure(
    fn: Callable[..., Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
    setup: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """`warmup` untimed calls of `fn`, then `repeats` timed ones. With `setup`, each call is `fn(setup())` and only
    `fn` is timed."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        _timed(fn, setup, clock)
    return Timing(tuple(_timed(fn, setup, clock) for _ in range(repeats)))


@dataclass(frozen=True)
class Pair:
    """Two variants timed in one run, repeat by repeat. `ratios[i] = b.times[i] / a.times[i]`: how many times
    faster A was than B in pair i (> 1: A is faster)."""

    a: Timing
    b: Timing

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(tb / ta for ta, tb in zip(self.a.times, self.b.times))

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def ratio_str(self) -> str:
        r = self.ratios
        return f"{self.ratio:.2f}x [{min(r):.2f}–{max(r):.2f}]"


def paired(
    a: Callable[..., Any],
    b: Callable[..., Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
    setup_a: Callable[[], Any] | None = None,
    setup_b: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Pair:
    """Warm both up, then time `repeats` pairs, alternating which of the two goes first."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        _timed(a, setup_a, clock)
        _timed(b, setup_b, clock)
    ta, tb = [], []
    for i in range(repeats):
        if i % 2 == 0:
            ta.append(_timed(a, setup_a, clock))
            tb.append(_timed(b, setup_b, clock))
        else:
            tb.append(_timed(b, setup_b, clock))
            ta.append(_timed(a, setup_a, clock))
    return Pair(Timing(tuple(ta)), Timing(tuple(tb)))


# ---------------------------------------------------------------- FLOPs and the roofline


def mlp_flops(
    sizes: Sequence[int], rows: int, models: int = 1, *, backward: bool = True, input_grad: bool = False
) -> int:
    """Matmul FLOPs of `models` MLPs with layer sizes `sizes` (input first) on `rows` samples: 2·m·n·k per matmul
    forward; the backward pass adds the same again for each weight gradient and for each input gradient, but the
    first layer's input gradient is never computed (the data needs none) unless `input_grad`. So ×3 for every
    layer but the first, ×2 for the first. Biases, activations, the loss and the optimizer are not counted."""
    fwd = [2 * rows * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    if not backward:
        return models * sum(fwd)
    return models * (3 * sum(fwd) - (0 if input_grad else fwd[0]))


def matmul_peak(
    sizes: Sequence[int] = (256, 512, 1024, 2048), *, repeats: int = 3, device: str | torch.device = "cpu"
) -> tuple[float, int]:
    """The best float32 `torch.matmul` rate (GFLOP/s) over square n×n products, at the current thread count (per n
    the median of `repeats`, then the best n); returns (GFLOP/s, the n that reached it)."""
    best, best_n = 0.0, 0
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        x = torch.randn(n, n, generator=g).to(device)
        y = torch.randn(n, n, generator=g).to(device)
        k = max(1, int(2e8 // (2 * n**3)))  # enough products per call to time reliably at small n
        t = measure(lambda x=x, y=y, k=k: [torch.matmul(x, y) for _ in range(k)], repeats=repeats, warmup=1)
        rate = 2 * n**3 * k / t.median / 1e9
        if rate > best:
            best, best_n = rate, n
    return best, best_n


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(device: str | torch.device = "cpu") -> str:
    dev = torch.device(device)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_model()} ({os.cpu_count()} CPUs)"
    return (
        f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), {where}, python {platform.python_version()}"
    )
