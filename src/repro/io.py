"""Atomic writes and provenance.

Every file a job declares as output is written to a temporary file in the same directory and then
renamed over the target, so a killed job never leaves a half-written file that Snakemake could take
as done.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_table(path: str | Path, df: pd.DataFrame) -> None:
    """Tidy tables are CSV: readable anywhere, and byte-identical for identical contents."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.9g")


def read_table(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path)


def save_figure(path: str | Path, fig) -> None:
    """Save a matplotlib figure (format from the suffix) atomically, with a fixed SVG hash salt
    so reruns give identical files."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp,
            format=path.suffix.lstrip("."),
            bbox_inches="tight",
            metadata={"Date": None} if path.suffix == ".svg" else None,
        )
    plt.close(fig)


# ---------------------------------------------------------------- provenance

PACKAGES = ("repro", "torch", "numpy", "pandas", "hydra-core", "omegaconf", "snakemake", "wandb", "mnist1d")


def git_state(cwd: str | Path | None = None) -> dict:
    """The commit the code ran from, and whether the tree had uncommitted changes."""
    cwd = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty if commit else None}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_description(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def provenance(
    *, device: str, seeds: list[int], wall_time_s: float, started: str, resumed_from: tuple[int, int] | None = None
) -> dict:
    """Where and how a shard ran. `resumed_from` = (training call, step) when it resumed from a checkpoint;
    its wall time is then that of the last attempt only."""
    return {
        "git": git_state(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "device": device_description(device),
        "seeds": seeds,
        "started": started,
        "wall_time_s": round(wall_time_s, 3),
        "resumed_from": list(resumed_from) if resumed_from else None,
    }
