"""Datasets: one module per family, each able to build (or download) its file and load it.

A `DataRef` names a family and its generation parameters; the file lives at
`<data_dir>/<family>/<key>.npz`, where the key is readable and ends with a hash of the parameters,
so different parameters never share a file. Snakemake's data rules build these files with
`python -m repro.data`; a run by hand builds offline-generated families on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from repro.io import atomic_path
from repro.paths import digest

FAMILIES = ("mnist1d", "cifar10", "mnist", "ib12", "sparse", "phantoms")


class ChecksumError(ValueError):
    """A file's checksum differs from the expected one; the file was refused."""


class DataMissing(FileNotFoundError):
    """A dataset file is absent and cannot be made here (e.g. a download while offline)."""


@dataclass(frozen=True)
class DataRef:
    family: str
    params: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown dataset family {self.family!r}; valid: {', '.join(FAMILIES)}")

    @property
    def key(self) -> str:
        return f"{self.family}-{digest(self.params, 10)}"

    def path(self, data_dir: str | Path = "data") -> Path:
        return Path(data_dir) / self.family / f"{self.key}.npz"


def save_arrays(path: str | Path, arrays: dict) -> None:
    """A dataset file: named numpy arrays in one npz, written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_arrays(path: str | Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def subset_param(family: str, params: dict, n_max: int) -> int | None:
    """The `subset` parameter (the first N training images) of a downloaded family, its only one."""
    unknown = set(params) - {"subset"}
    if unknown:
        raise ValueError(f"unknown {family} parameter(s) {sorted(unknown)}; valid: subset")
    n = params.get("subset")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= n_max):
        raise ValueError(f"{family} subset must be an integer in 1..{n_max} or null, got {n!r}")
    return n


def take_subset(family: str, arrays: dict, n: int | None) -> dict:
    """The first n training images and labels (all when n is None); the test set is kept whole."""
    if n is None:
        return arrays
    if n > len(arrays["y"]):
        raise ValueError(f"{family} subset {n} exceeds the {len(arrays['y'])} training images")
    return arrays | {"x": arrays["x"][:n], "y": arrays["y"][:n]}


def family(name: str):
    if name not in FAMILIES:
        raise ValueError(f"unknown dataset family {name!r}; valid: {', '.join(FAMILIES)}")
    return importlib.import_module(f"repro.data.{name}")


def build(ref: DataRef, data_dir: str | Path = "data") -> Path:
    """Make the file for `ref` (atomically) and return its path."""
    path = ref.path(data_dir)
    family(ref.family).build(ref.params, path)
    return path


def load(ref: DataRef, data_dir: str | Path = "data", *, build_missing: bool = True) -> dict:
    """Load `ref` as a dict of numpy arrays, building it first if it is missing and can be built offline."""
    path = ref.path(data_dir)
    fam = family(ref.family)
    if not path.exists():
        if not build_missing:
            raise DataMissing(
                f"{path} is missing; build it with `python -m repro.data {ref.family} ...` "
                "or let Snakemake's data rule make it"
            )
        print(f"building dataset {path} ...", flush=True)
        fam.build(ref.params, path)
    return fam.load(path)
