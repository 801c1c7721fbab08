"""Experiment tracking behind one small interface.

wandb runs offline by default (files under tracking.dir, uploaded later with `wandb sync`), so a run
never waits on the network. `disabled` (used by the tests) imports nothing.

While a shard runs, its tracker is the active one (`activated`, `current`): the training loop logs its progress to it
at the progress cadence (repro.train.Progress), so `tracking=online` shows a job's loss while it trains. These
records go under `progress/<training call>/...` on wandb's own step counter; the shard's tidy curves, logged once it
ends, go under `curves/...` against their own step (`curves/step`: the epoch or iteration of the table).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator


class Tracker:
    def log(self, metrics: dict, step: int | None = None) -> None: ...
    def summary(self, metrics: dict) -> None: ...


class _Wandb(Tracker):
    def __init__(self, run):
        self.run = run
        run.define_metric("curves/*", step_metric="curves/step")  # the tables' steps restart per training call

    def log(self, metrics: dict, step: int | None = None) -> None:
        self.run.log(metrics, step=step)

    def summary(self, metrics: dict) -> None:
        self.run.summary.update(metrics)


@contextmanager
def tracker(mode: str, *, project: str, directory: str, name: str, group: str, config: dict) -> Iterator[Tracker]:
    if mode == "disabled":
        yield Tracker()
        return
    os.makedirs(directory, exist_ok=True)
    if mode == "offline":
        os.environ["WANDB_MODE"] = "offline"  # belt and braces: no network attempt at all
    import wandb

    run = wandb.init(
        project=project,
        dir=directory,
        name=name,
        group=group,
        config=config,
        mode=mode,
        reinit="finish_previous",
        settings=wandb.Settings(silent=True),
    )
    try:
        yield _Wandb(run)
    finally:
        run.finish()


_active: list[Tracker] = []


def current() -> Tracker:
    """The tracker of the shard that is running (one that logs nowhere outside a shard run)."""
    return _active[-1] if _active else Tracker()


@contextmanager
def activated(track: Tracker) -> Iterator[Tracker]:
    """Make `track` the one `current` returns, for the duration of a shard run."""
    _active.append(track)
    try:
        yield track
    finally:
        _active.remove(track)
