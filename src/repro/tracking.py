"""Experiment tracking behind one small interface.

wandb runs offline by default (files under tracking.dir, uploaded later with `wandb sync`), so a run
never waits on the network. `disabled` (used by the tests) imports nothing.
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

    run = wandb.init(project=project, dir=directory, name=name, group=group, config=config,
                     mode=mode, reinit="finish_previous", settings=wandb.Settings(silent=True))
    try:
        yield _Wandb(run)
    finally:
        run.finish()
