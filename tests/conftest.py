"""Shared fixtures: real smoke-scale shard outputs, made once per test session."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from repro.config import compose
from repro.run import run


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    """A directory holding results/smoke/f_principle/<shard>/ from a real smoke run (a few seconds).
    Tests copy it (fixture `smoke_copy`) before changing anything."""
    root = tmp_path_factory.mktemp("smoke")
    with contextlib.chdir(root):
        run(compose(["experiment=f_principle", "scale=smoke", "tracking=disabled", f"data_dir={root}/data"]))
    return root


@pytest.fixture
def smoke_copy(smoke_results, tmp_path, monkeypatch) -> Path:
    """A private copy of the smoke shard outputs, with the working directory set to it."""
    shutil.copytree(smoke_results / "results", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    return tmp_path
