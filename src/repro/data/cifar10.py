"""CIFAR-10 (Krizhevsky 2009) from the official python archive, parsed without torchvision.

The archive `cifar-10-python.tar.gz` lives beside the built files, at `<data_dir>/cifar10/`. If it is
absent, `build` downloads it from the official URL; offline, it raises `DataMissing` saying which file
to put where. The archive's MD5 is checked before anything is read from it (the same value torchvision's
`CIFAR10.tgz_md5` holds, in `torchvision/datasets/cifar.py` of pytorch/vision); a mismatch renames the
file to `*.bad` and stops. The batches inside are Python pickles (`data`: uint8 [10000, 3072], the
red, green and blue 32x32 planes in row-major order; `labels`: a list of ints); unpickling is safe only
because the archive's checksum matched first.

The built npz holds `x` uint8 [N, 3, 32, 32], `y` int64 [N], `x_test` uint8 [10000, 3, 32, 32] and
`y_test` int64 [10000]: raw pixels, so augmentation (`repro.data.augment`) pads with true black.
"""

from __future__ import annotations

import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from repro.data import ChecksumError, DataMissing, load_arrays, save_arrays, subset_param, take_subset
from repro.io import atomic_path, file_hash

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILENAME = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"  # torchvision.datasets.CIFAR10.tgz_md5
SIZE = 170_498_071  # bytes, for the progress display only
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
N_TRAIN, N_TEST = 50_000, 10_000
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TIMEOUT_S = 30


def md5_file(path: str | Path) -> str:
    return file_hash(path, "md5")


def _missing_message(dest: Path, why: str) -> str:
    return (f"CIFAR-10 archive is missing and could not be downloaded ({why}). "
            f"Put the file {FILENAME} (md5 {MD5}, from {URL}) at {dest} "
            f"(i.e. <data_dir>/cifar10/{FILENAME}, by default data/cifar10/{FILENAME}) and run again.")


def _refuse(path: Path, got: str) -> None:
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    raise ChecksumError(f"{path} has md5 {got}, expected {MD5}; refused and moved to {bad}. "
                        f"Delete it and fetch {FILENAME} again from {URL}.")


def download(url: str, dest: Path, timeout: float = TIMEOUT_S) -> None:
    """Download `url` to `dest` atomically, printing progress; network failures raise DataMissing."""
    print(f"downloading {url} -> {dest}", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_path(dest) as tmp:
            total = int(resp.headers.get("Content-Length") or 0) or SIZE
            done, shown = 0, -1
            with open(tmp, "wb") as f:
                while block := resp.read(1 << 20):
                    f.write(block)
                    done += len(block)
                    pct = min(100, 100 * done // total)
                    if pct // 10 > shown:
                        shown = pct // 10
                        print(f"  {done / 2**20:.0f} MiB of {total / 2**20:.0f} MiB ({pct}%)", flush=True)
    except (urllib.error.URLError, OSError) as e:  # URLError, HTTPError, timeouts, resets
        raise DataMissing(_missing_message(dest, f"{type(e).__name__}: {e}")) from e


def fetch_archive(dest: Path) -> Path:
    """The verified archive at `dest`: used if present, else downloaded; refused on an MD5 mismatch."""
    if not dest.exists():
        download(URL, dest)
    got = md5_file(dest)
    if got != MD5:
        _refuse(dest, got)
    return dest


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
    return {"x": np.concatenate([x for x, _ in train]), "y": np.concatenate([y for _, y in train]),
            "x_test": x_test, "y_test": y_test}


def build(params: dict, path: Path) -> None:
    """Write the npz for `params` at `path` (atomically), from the archive in `path.parent`."""
    subset = subset_param("cifar10", params, N_TRAIN)
    path = Path(path)
    archive = fetch_archive(path.parent / FILENAME)
    d = read_archive(archive)
    save_arrays(path, take_subset("cifar10", d, subset))


load = load_arrays
