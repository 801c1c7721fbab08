"""CIFAR-10 (Krizhevsky 2009) from the official python archive, parsed without torchvision.

The archive `cifar-10-python.tar.gz` lives beside the built files, at `<data_dir>/cifar10/`. If it is
absent, `build` downloads it from the official URL through pooch (`repro.data.fetch`); offline, it raises
`DataMissing` saying which file to put where. The archive's MD5 is checked before anything is read from
it (the same value torchvision's `CIFAR10.tgz_md5` holds, in `torchvision/datasets/cifar.py` of
pytorch/vision); a placed archive that does not match is renamed to `*.bad` and stops the build.
The batches inside are Python pickles (`data`: uint8 [10000, 3072], the
red, green and blue 32x32 planes in row-major order; `labels`: a list of ints); unpickling is safe only
because the archive's checksum matched first.

The built npz holds `x` uint8 [N, 3, 32, 32], `y` int64 [N], `x_test` uint8 [10000, 3, 32, 32] and
`y_test` int64 [10000]: raw pixels, so augmentation (`repro.data.augment`) pads with true black.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

from repro.data import ChecksumError as ChecksumError  # re-exported: a refused archive raises it
from repro.data import DataMissing, load_arrays, save_arrays, subset_param, take_subset
from repro.data.fetch import Unreachable, fetch

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILENAME = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"  # torchvision.datasets.CIFAR10.tgz_md5
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
N_TRAIN, N_TEST = 50_000, 10_000
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _missing_message(dest: Path, why: str) -> str:
    return (
        f"CIFAR-10 archive is missing and could not be downloaded ({why}). "
        f"Put the file {FILENAME} (md5 {MD5}, from {URL}) at {dest} "
        f"(i.e. <data_dir>/cifar10/{FILENAME}, by default data/cifar10/{FILENAME}) and run again."
    )


def fetch_archive(dest: Path) -> Path:
    """The verified archive at `dest`: used if present, else downloaded (`repro.data.fetch`); refused on an MD5
    mismatch; DataMissing when it cannot be had."""
    try:
        return fetch(dest.parent, dest.name, MD5, [URL])
    except Unreachable as e:
        raise DataMissing(_missing_message(dest, "; ".join(e.errors))) from None


def _batch(tar: tarfile.TarFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    member = f"{FOLDER}/{name}"
    try:
        f = tar.extractfile(member)
    except KeyError:
        f = None
    if f is None:
        raise ValueError(f"{tar.name} has no file {member}; is it the CIFAR-10 python archive?")
    with f:
        d = pickle.load(f, encoding="latin1")  # Python 2 pickles; safe: the archive's md5 was checked
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    x = np.asarray(d["data"], dtype=np.uint8)
    y = np.asarray(d["labels"], dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or len(x) != len(y):
        raise ValueError(f"{member}: unexpected shapes data {x.shape}, labels {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= len(CLASSES)):
        raise ValueError(f"{member}: labels outside 0..9")
    return x.reshape(-1, 3, 32, 32), y


def read_archive(archive: Path) -> dict:
    """Parse the python batches of the archive into x, y, x_test, y_test (no checksum check here)."""
    with tarfile.open(archive, "r:gz") as tar:
        train = [_batch(tar, name) for name in TRAIN_BATCHES]
        x_test, y_test = _batch(tar, TEST_BATCH)
    return {
        "x": np.concatenate([x for x, _ in train]),
        "y": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
    }


def build(params: dict, path: Path) -> None:
    """Write the npz for `params` at `path` (atomically), from the archive in `path.parent`."""
    subset = subset_param("cifar10", params, N_TRAIN)
    path = Path(path)
    archive = fetch_archive(path.parent / FILENAME)
    d = read_archive(archive)
    save_arrays(path, take_subset("cifar10", d, subset))


load = load_arrays
