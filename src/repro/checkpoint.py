"""Resume a killed shard from its last checkpoint.

A shard's training is a sequence of `repro.train.train` calls. While a shard runs, `repro.run` makes a
`Checkpointer` active, and every `train` call saves through it, atomically, into the shard's scratch directory
(`.<shard>.scratch` beside the output directory: never a Snakemake output, removed once the outputs are
complete):

- which call is running (its index in the shard) and the step it has reached;
- that call's parameters and optimizer state;
- everything the experiment registered with `keep(name, obj)`: models, minibatch orders, generators, the rows
  recorded so far, small dicts of counters; and the global torch RNG;

every `REPRO_CHECKPOINT_S` seconds (default 60), at the end of every call, and when SIGTERM arrives (a SLURM
pre-emption): then it raises `Preempted`, and the job exits with status 143.

On a rerun, calls before the saved one are skipped (each returns the number of steps it took); the saved call
restores everything and carries on from its step; later calls run as usual. Work done between skipped calls runs
against state that is not restored yet, but all it can change (the registered state and rows) is replaced at the
restore, so the table is the one an uninterrupted run writes (tests compare them byte for byte). A checkpoint
written for another configuration (its digest differs) is discarded.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from repro.io import atomic_path
from repro.paths import scratch_dir

STATE_FILE = "checkpoint.pt"
EVERY_ENV = "REPRO_CHECKPOINT_S"
FAULT_ENV = "REPRO_FAULT"
_active: Checkpointer | None = None


class Preempted(BaseException):
    """SIGTERM arrived; a checkpoint was saved. BaseException, so no experiment's `except Exception` hides it."""

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a process ended by SIGTERM


def _state(obj):
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}: give it state_dict/load_state_dict")


def _restore(obj, state) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(state)
    elif isinstance(obj, torch.Tensor):
        with torch.no_grad():
            obj.copy_(state)
    elif isinstance(obj, list):
        obj[:] = state
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(state)
    else:
        obj.load_state_dict(state)


class Checkpointer:
    """The checkpoints of one shard run (see the module docstring).

    `train()` gets it explicitly (`checkpointer=`) or takes the one `activated` made current, once per call; it
    numbers its calls (`open_call`) and carries it in its loop state. `fault(call, step)`, run after every step,
    is the tests' fault injection: by default parsed once, here, from REPRO_FAULT (see `fault_from_spec`);
    pass a callable, or None for none.
    """

    def __init__(
        self,
        directory: str | Path,
        digest: str,
        every_s: float | None = None,
        enabled: bool = True,
        fault: Callable[[int, int], None] | None | str = "env",
    ):
        self.dir, self.digest, self.enabled = Path(directory), digest, enabled
        self.every_s = float(os.environ.get(EVERY_ENV, "60")) if every_s is None else every_s
        # the test hook, called as fault(call, step) after every step; read from REPRO_FAULT once, here
        self.fault = fault_from_spec(os.environ.get(FAULT_ENV)) if fault == "env" else fault
        self.kept: dict[str, object] = {}
        self.calls = 0  # train() calls started in this process
        self.returns: list[int] = []  # steps taken by each finished call
        self.in_call = False
        self.terminate = False
        self.saved = self._load() if enabled else None
        self.resumed_from: tuple[int, int] | None = None  # (call, step) when this run resumed
        self.last_save = time.monotonic()  # periodic saves count from here, across calls

    def _load(self) -> dict | None:
        path = self.dir / STATE_FILE
        if not path.is_file():
            return None
        try:
            saved = torch.load(path, weights_only=False)
        except Exception as e:  # a checkpoint that cannot be read is not trusted
            print(f"[checkpoint] ignoring unreadable {path}: {e}", flush=True)
            return None
        if saved.get("digest") != self.digest:
            print(f"[checkpoint] ignoring {path}: it was written for another configuration", flush=True)
            return None
        return saved

    def keep(self, name: str, obj) -> None:
        """Register state that a resumed run must get back (a name stable across runs)."""
        self.kept[name] = obj

    # ---- the train() side

    def open_call(self) -> int:
        """Count a train() call of this shard run and return its index (the `call` of begin/save/fault)."""
        self.calls += 1
        return self.calls - 1

    def timer(self) -> Timer:
        return Timer(self.every_s, self.last_save)

    def begin(self, index: int, params: Sequence[torch.Tensor], opt: torch.optim.Optimizer) -> tuple[bool, int]:
        """At the start of train() call `index`: (skip this call, step to start after)."""
        saved = self.saved
        if saved is None or index > saved["call"]:
            return False, 0
        between_calls = saved["opt"] is None  # saved at the end of call saved["call"] - 1
        if between_calls and index == saved["call"] - 1:
            self._restore_kept(saved)
            self.returns = list(saved["returns"])
            self.resumed_from = (index + 1, 0)
            print(f"[checkpoint] resuming after training call {index} from {self.dir}", flush=True)
            self.saved = None
            return True, saved["returns"][index]
        if index < saved["call"]:
            return True, saved["returns"][index]
        self._restore_kept(saved)
        with torch.no_grad():
            for p, v in zip(params, saved["params"]):
                p.copy_(v)
        opt.load_state_dict(saved["opt"])
        self.returns = list(saved["returns"][:index])
        self.resumed_from = (index, saved["step"])
        print(f"[checkpoint] resuming training call {index} at step {saved['step']} from {self.dir}", flush=True)
        self.saved = None
        return False, saved["step"]

    def _restore_kept(self, saved: dict) -> None:
        for name, state in saved["kept"].items():
            if name in self.kept:
                _restore(self.kept[name], state)
        torch.set_rng_state(saved["rng"])

    def save(
        self,
        params: Sequence[torch.Tensor],
        opt: torch.optim.Optimizer | None,
        step: int,
        finished: bool = False,
        call: int | None = None,
    ) -> None:
        index = self.calls - 1 if call is None else call
        state = {
            "digest": self.digest,
            "call": index + 1 if finished else index,
            "step": 0 if finished else step,
            "returns": self.returns + ([step] if finished else []),
            "params": [] if finished else [p.detach().clone() for p in params],
            "opt": None if finished else opt.state_dict(),
            "kept": {k: _state(v) for k, v in self.kept.items()},
            "rng": torch.get_rng_state(),
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.dir / STATE_FILE) as tmp:
            torch.save(state, tmp)
        self.last_save = time.monotonic()

    def finished(self, steps: int, params, opt, call: int | None = None) -> None:
        """A call ended. Saved only when the last save is at least every_s old, like the periodic saves: a shard of
        many short calls (the unrolling experiment's greedy schedule has about 50 per seed) would otherwise write its
        whole state after each. A rerun after a kill replays the calls since the last save (deterministically: the
        kept state and the RNG are restored with it)."""
        if time.monotonic() - self.last_save >= self.every_s:
            self.save(params, opt, steps, finished=True, call=call)
        self.returns.append(steps)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def active() -> Checkpointer | None:
    """The running shard's checkpointer when it saves (None outside a shard run or when it does not)."""
    return _active if _active is not None and _active.enabled else None


def current() -> Checkpointer | None:
    """The running shard's checkpointer, saving or not (it still counts calls and holds the fault hook)."""
    return _active


def keep(name: str, obj) -> None:
    """Register state with the active checkpointer (nothing happens outside a shard run)."""
    if _active is not None:
        _active.keep(name, obj)


@contextmanager
def activated(ck: Checkpointer):
    """Make `ck` the active checkpointer, with a SIGTERM handler that checkpoints and stops."""
    global _active
    previous_ck, _active = _active, ck

    def on_term(signum, frame):
        if not ck.enabled:
            raise Preempted("SIGTERM; a rerun resumes after this shard's last finished stage (or starts it again)")
        if ck.in_call:
            ck.terminate = True  # train() saves at the end of this step, then raises Preempted
        else:
            raise Preempted("SIGTERM between training calls; the last checkpoint stands")

    previous = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    try:
        yield ck
    finally:
        _active = previous_ck
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def fault_from_spec(spec: str | None) -> Callable[[int, int], None] | None:
    """Fault injection for the tests: REPRO_FAULT="CALL:STEP:SIGNAL" (e.g. "0:3:TERM" or "1:2:KILL") gives a hook
    that sends this process that signal at that step of that training call, so the real handler and resume paths
    run. "CALL:STEP:SLOW<s>" (e.g. "0:9:SLOW2") instead sleeps s seconds after every step of that call from STEP on:
    a job that outlasts a scheduler's time limit, or that a test can signal mid-training. The Checkpointer parses the
    variable once, when it is created; None when it is unset."""
    if not spec:
        return None
    c, s, sig = spec.split(":")
    call, step = int(c), int(s)
    if sig.startswith("SLOW"):
        pause = float(sig[4:])

        def slow(at_call: int, at_step: int) -> None:
            if at_call == call and at_step >= step:
                time.sleep(pause)  # SIGTERM's handler runs meanwhile; the loop saves and stops after this step

        slow.spec = spec  # type: ignore[attr-defined]
        return slow
    signum = getattr(signal, f"SIG{sig}")

    def fault(at_call: int, at_step: int) -> None:
        if at_call == call and at_step == step:
            os.kill(os.getpid(), signum)

    fault.spec = spec  # type: ignore[attr-defined]
    return fault


class Stages:
    """The saved state after each finished stage of a shard (e.g. a pruning level), for experiments whose stages
    hand state to the next one outside `keep` (masks): a rerun starts after the last finished stage. Files live
    in the shard's scratch directory and go with it."""

    def __init__(self, out: str | Path, digest: str):
        self.dir, self.digest = scratch_dir(out) / "stages", digest

    def last(self, map_location=None) -> dict | None:
        done = sorted(self.dir.glob("stage-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
        if not done:
            return None
        saved = torch.load(done[-1], map_location=map_location, weights_only=False)
        if saved.get("digest") != self.digest:
            print(f"[checkpoint] ignoring {self.dir}: it was written for another configuration", flush=True)
            return None
        return saved["state"]

    def save(self, index: int, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.dir / f"stage-{index}.pt") as tmp:
            torch.save({"digest": self.digest, "state": state}, tmp)


class Timer:
    """When the next periodic checkpoint is due."""

    def __init__(self, every_s: float, last: float | None = None):
        self.every_s, self.last = every_s, time.monotonic() if last is None else last

    def due(self) -> bool:
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            return True
        return False
