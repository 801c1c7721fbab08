"""Sparse-coding problems for the unrolling experiment (Chen et al. 2018; Liu et al. 2019), generated offline.

The dictionary A is m x n with N(0, 1/m) entries and then unit-norm columns; the codes are Bernoulli(p) x N(0, 1)
(each entry non-zero with probability p). The file holds A, a fixed test set and a validation set of codes,
and a standard-normal noise draw for each (scaled to the wanted SNR where used, see
`repro.experiments.unrolling.lasso.measure`). Training codes are not stored: training draws fresh ones every step.

params: m, n, p, n_test, n_val, seed.  Arrays: A [m, n], x_test [n_test, n], z_test [n_test, m], x_val, z_val
(float32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from repro.data import load_arrays, save_arrays

DEFAULTS = {"m": 250, "n": 500, "p": 0.1, "n_test": 1000, "n_val": 1000, "seed": 0}


def check(params: dict) -> dict:
    """The parameters with defaults filled in; ValueError naming a bad key or value."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown sparse parameter(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    p = DEFAULTS | params
    for k in ("m", "n", "n_test", "n_val"):
        if isinstance(p[k], bool) or not isinstance(p[k], int) or p[k] < 1:
            raise ValueError(f"sparse parameter {k} must be a positive integer, got {p[k]!r}")
    if not 0 < p["p"] <= 1:
        raise ValueError(f"sparse parameter p (probability of a non-zero) must be in (0, 1], got {p['p']!r}")
    return p


def codes(rng: np.random.Generator, count: int, n: int, p: float) -> np.ndarray:
    """Bernoulli(p) x N(0, 1) codes [count, n]."""
    return (rng.random((count, n)) < p) * rng.standard_normal((count, n))


def dictionary(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    a = rng.standard_normal((m, n)) / np.sqrt(m)
    return a / np.linalg.norm(a, axis=0, keepdims=True)


def build(params: dict, path: Path) -> None:
    p = check(params)
    rng = np.random.default_rng(p["seed"])
    a = dictionary(rng, p["m"], p["n"])
    arrays = {"A": a}
    for split in ("test", "val"):
        count = p[f"n_{split}"]
        arrays[f"x_{split}"] = codes(rng, count, p["n"], p["p"])
        arrays[f"z_{split}"] = rng.standard_normal((count, p["m"]))
    save_arrays(path, {k: v.astype(np.float32) for k, v in arrays.items()})


def load(path: Path) -> dict:
    return load_arrays(path)
