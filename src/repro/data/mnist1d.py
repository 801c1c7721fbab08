"""MNIST-1D (Greydanus 2020), generated offline with the `mnist1d` package's `make_dataset`.

We never call its `get_dataset`, which tries to download a pickle. Generation is deterministic given
its seed, so the file is a cache of a pure function of the parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from repro.data import load_arrays, save_arrays

DEFAULTS = {"num_samples": 5000, "train_split": 0.8, "seed": 42}


def build(params: dict, path: Path) -> None:
    from mnist1d.data import get_dataset_args, make_dataset

    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown mnist1d parameter(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    args = get_dataset_args()
    for k, v in {**DEFAULTS, **params}.items():
        setattr(args, k, v)
    d = make_dataset(args)
    save_arrays(
        path,
        {
            "x": d["x"].astype(np.float32),
            "y": d["y"].astype(np.int64),
            "x_test": d["x_test"].astype(np.float32),
            "y_test": d["y_test"].astype(np.int64),
        },
    )


load = load_arrays
