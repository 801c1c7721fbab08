"""Phantoms for 2-D image reconstruction: random ellipses to train on, and the modified Shepp–Logan phantom.

Random-ellipse distribution: the authors' (Adler & Öktem 2018, learned primal-dual; `random_phantom` in
adler/odl/phantom.py, drawn into ODL's `ellipsoid_phantom`). The image is the square [-1, 1]² sampled at the
centres of size × size pixels. Each image holds K ~ Poisson(n_ellipse) ellipses (50 in the paper; at most
MAX_ELLIPSES, far in the tail), each with

    intensity  (U(0, 1) - 0.5) · Exp(scale 0.4), added inside the ellipse (signed: ellipses carve and overlap)
    semi-axes  a, b = 0.2 · Exp(1) each (mostly small: thin structures occur)
    centre     uniform in [-1, 1]²
    rotation   uniform in [0, 2π),

summed without clipping (as ODL sums them). Each image draws its parameters from one row of a single uniform
draw (inverse CDFs), so the first n images of a split do not depend on how many are asked for, and the three splits
use independent streams spawned from the seed (the test images do not change when n_train does).

The modified Shepp–Logan phantom (Toft 1996; the ellipse table MATLAB's `phantom` uses) has values in [0, 1]
already; it is clipped and divided by its maximum to be sure.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from repro.data import load_arrays, save_arrays

DEFAULTS = {"size": 64, "n_train": 1000, "n_val": 50, "n_test": 100, "seed": 0, "n_ellipse": 50}
MAX_ELLIPSES = 100  # P(Poisson(50) > 100) < 1e-9
DRAWS = 7  # uniforms per ellipse: intensity sign and scale, two semi-axes, centre x and y, rotation
_CHUNK = 8  # images per vectorised block: keeps [chunk, ellipses, size, size] temporaries small

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
    lows = {"size": 8, "n_train": 1, "n_val": 1, "n_test": 1, "seed": 0, "n_ellipse": 1}
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


def ellipse_table(u: np.ndarray, n_ellipse: int) -> np.ndarray:
    """Map uniform draws [n, 1 + DRAWS * MAX_ELLIPSES] to ellipse parameters [n, MAX_ELLIPSES, 6] (see module
    doc): the first column gives the count, then DRAWS per ellipse."""
    from scipy.stats import poisson

    n = len(u)
    count = np.minimum(poisson.ppf(u[:, 0], n_ellipse), MAX_ELLIPSES).astype(int)
    v = u[:, 1:].reshape(n, MAX_ELLIPSES, DRAWS)
    exp = -np.log1p(-v[..., 1:4])  # Exp(1) by inversion: intensity scale, semi-axis a, semi-axis b
    table = np.stack(
        [
            (v[..., 0] - 0.5) * 0.4 * exp[..., 0],  # signed intensity
            0.2 * exp[..., 1],  # semi-axis a
            0.2 * exp[..., 2],  # semi-axis b
            -1.0 + 2.0 * v[..., 4],  # centre x in [-1, 1]
            -1.0 + 2.0 * v[..., 5],  # centre y in [-1, 1]
            2 * math.pi * v[..., 6],  # rotation in [0, 2π)
        ],
        axis=-1,
    )
    table[np.arange(MAX_ELLIPSES)[None, :] >= count[:, None], 0] = 0.0  # unused slots add nothing
    return table


def random_ellipses(n: int, size: int, rng: np.random.Generator, n_ellipse: int) -> np.ndarray:
    """n random-ellipse phantoms, float32 [n, size, size]; image i uses row i of one draw."""
    table = ellipse_table(rng.random((n, 1 + DRAWS * MAX_ELLIPSES)), n_ellipse)
    out = np.empty((n, size, size), dtype=np.float32)
    for i in range(0, n, _CHUNK):
        out[i : i + _CHUNK] = ellipses(size, table[i : i + _CHUNK])
    return out


def generate(params: dict) -> dict:
    """All arrays of the family for (validated or raw) params."""
    p = check_params(params)
    train, val, test = (np.random.default_rng(s) for s in np.random.SeedSequence(p["seed"]).spawn(3))
    return {
        "x_train": random_ellipses(p["n_train"], p["size"], train, p["n_ellipse"]),
        "x_val": random_ellipses(p["n_val"], p["size"], val, p["n_ellipse"]),
        "x_test": random_ellipses(p["n_test"], p["size"], test, p["n_ellipse"]),
        "shepp_logan": shepp_logan(p["size"]),
    }


def build(params: dict, path: Path) -> None:
    save_arrays(path, generate(params))


load = load_arrays
