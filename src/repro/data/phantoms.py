"""Phantoms for 2-D image reconstruction: random ellipses to train on, and the modified Shepp–Logan phantom.

Random-ellipse distribution (in the spirit of the ellipse training sets of learned reconstruction papers, e.g.
Adler & Öktem 2018): the image is the square [-1, 1]² sampled at the centres of size × size pixels. Each
image holds K ~ uniform{3, …, 10} ellipses, each with

    centre     uniform in [-0.6, 0.6]²
    semi-axes  a, b uniform in [0.05, 0.5] (independently)
    rotation   uniform in [0, π)
    intensity  uniform in [-0.3, 1.0], added inside the ellipse,

and the sum is clipped to [0, 1]. Negative intensities carve darker regions out of brighter ones, as the
ventricles of Shepp–Logan do. Each image draws its parameters from one row of a single uniform draw, so the
first n images of a split do not depend on how many are asked for, and the three splits use independent
streams spawned from the seed (the test images do not change when n_train does).

The modified Shepp–Logan phantom (Toft 1996; the ellipse table MATLAB's `phantom` uses) has values in [0, 1]
already; it is clipped and divided by its maximum to be sure.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from repro.data import load_arrays, save_arrays

DEFAULTS = {"size": 64, "n_train": 1000, "n_val": 50, "n_test": 100, "seed": 0}
MAX_ELLIPSES = 10
_CHUNK = 128  # images per vectorised block: keeps [chunk, ellipses, size, size] temporaries small

# intensity, semi-axis a, semi-axis b, centre x, centre y, rotation (degrees): the modified Shepp–Logan table
SHEPP_LOGAN = (
    (1.0, 0.69, 0.92, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0),
    (-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0),
    (-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0),
    (0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0),
    (0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0),
    (0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0),
    (0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0),
)


def check_params(params: dict) -> dict:
    """Defaults filled in; unknown keys or bad values raise ValueError naming them and the valid ones."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown phantoms parameter(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    p = DEFAULTS | dict(params)
    lows = {"size": 8, "n_train": 1, "n_val": 1, "n_test": 1, "seed": 0}
    for key, low in lows.items():
        v = p[key]
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
            raise ValueError(f"phantoms {key} must be an integer >= {low}, got {v!r}")
    return {k: int(v) for k, v in p.items()}


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates on [-1, 1]²: x grows to the right, y grows upward (row 0 is the top)."""
    c = (2 * np.arange(size) + 1) / size - 1
    return c[None, :], -c[:, None]


def ellipses(size: int, table: np.ndarray) -> np.ndarray:
    """Sum of ellipses [n, m, 6] (intensity, a, b, x0, y0, angle in radians) on the grid: float32 [n, size, size].

    Vectorised over images, ellipses and pixels; an ellipse with intensity 0 adds nothing (padding)."""
    x, y = grid(size)
    t = table[..., None, None]  # broadcast each parameter over the pixel grid
    amp, a, b, x0, y0, phi = (t[:, :, i] for i in range(6))
    dx, dy = x - x0, y - y0
    cos, sin = np.cos(phi), np.sin(phi)
    inside = ((dx * cos + dy * sin) / a) ** 2 + ((dy * cos - dx * sin) / b) ** 2 <= 1.0
    return (amp * inside).sum(1).astype(np.float32)


def shepp_logan(size: int) -> np.ndarray:
    """The modified Shepp–Logan phantom, float32 [size, size] in [0, 1]."""
    table = np.array(SHEPP_LOGAN, dtype=np.float64)
    table[:, 5] = np.deg2rad(table[:, 5])
    img = np.clip(ellipses(size, table[None])[0], 0.0, 1.0)
    return (img / img.max()).astype(np.float32)


def ellipse_table(u: np.ndarray) -> np.ndarray:
    """Map uniform draws [n, 1 + 6 * MAX_ELLIPSES] to ellipse parameters [n, MAX_ELLIPSES, 6] (see module doc)."""
    n = len(u)
    count = 3 + np.floor(u[:, 0] * 8).astype(int)  # 3 .. 10 ellipses
    v = u[:, 1:].reshape(n, MAX_ELLIPSES, 6)
    table = np.stack([
        -0.3 + 1.3 * v[..., 0],  # intensity in [-0.3, 1]
        0.05 + 0.45 * v[..., 1],  # semi-axis a in [0.05, 0.5]
        0.05 + 0.45 * v[..., 2],  # semi-axis b
        -0.6 + 1.2 * v[..., 3],  # centre x in [-0.6, 0.6]
        -0.6 + 1.2 * v[..., 4],  # centre y
        math.pi * v[..., 5],  # rotation in [0, π)
    ], axis=-1)
    table[np.arange(MAX_ELLIPSES)[None, :] >= count[:, None], 0] = 0.0  # unused slots add nothing
    return table


def random_ellipses(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """n random-ellipse phantoms, float32 [n, size, size] in [0, 1]; image i uses row i of one draw."""
    table = ellipse_table(rng.random((n, 1 + 6 * MAX_ELLIPSES)))
    out = np.empty((n, size, size), dtype=np.float32)
    for i in range(0, n, _CHUNK):
        out[i:i + _CHUNK] = np.clip(ellipses(size, table[i:i + _CHUNK]), 0.0, 1.0)
    return out


def generate(params: dict) -> dict:
    """All arrays of the family for (validated or raw) params."""
    p = check_params(params)
    train, val, test = (np.random.default_rng(s) for s in np.random.SeedSequence(p["seed"]).spawn(3))
    return {"x_train": random_ellipses(p["n_train"], p["size"], train),
            "x_val": random_ellipses(p["n_val"], p["size"], val),
            "x_test": random_ellipses(p["n_test"], p["size"], test),
            "shepp_logan": shepp_logan(p["size"])}


def build(params: dict, path: Path) -> None:
    save_arrays(path, generate(params))


load = load_arrays
