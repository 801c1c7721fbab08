"""MNIST (LeCun et al. 1998) from the four official IDX files, parsed without torchvision.

The files `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz` and
`t10k-labels-idx1-ubyte.gz` live beside the built files, at `<data_dir>/mnist/`. Files already placed
there are used as they are; missing ones are downloaded from the first mirror that answers (yann.lecun.com
itself no longer serves them reliably), through pooch (`repro.data.fetch`). Offline, `build` raises
`DataMissing` naming every file still missing and where to put it. Each file's MD5 is checked before
anything is read from it; a placed file that does not match is renamed to `*.bad` and stops the build.

Sources: the file names, the MD5s and the primary mirror are torchvision's `MNIST.resources` and
`MNIST.mirrors` (`torchvision/datasets/mnist.py` of pytorch/vision, seen via verbatim copies of that class
in public repositories); the fallback mirror is the CVDF copy that TensorFlow's and JAX's MNIST examples
download from (`https://storage.googleapis.com/cvdf-datasets/mnist/`), which serves the same files.

IDX format (LeCun's page): a big-endian header, two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions, then each dimension as a 32-bit big-endian integer, then the data in row-major order.
Images are idx3 [N, 28, 28], labels idx1 [N].

The built npz holds `x` uint8 [N, 1, 28, 28], `y` int64 [N], `x_test` uint8 [10000, 1, 28, 28] and
`y_test` int64 [10000]: raw pixels; scaling and normalisation are the model's input pipeline's job.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from repro.data import ChecksumError as ChecksumError  # re-exported: a refused file raises it
from repro.data import DataMissing, load_arrays, save_arrays, subset_param, take_subset
from repro.data.fetch import Unreachable, fetch

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's MNIST.mirrors
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF mirror (TensorFlow / JAX examples)
)
FILES = {  # role -> file name
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MD5 = {  # torchvision.datasets.MNIST.resources
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
N_TRAIN, N_TEST = 60_000, 10_000
IDX_UBYTE = 0x08


def _missing_message(folder: Path, missing: dict[str, list[str]]) -> str:
    lines = [
        f"MNIST file(s) missing and could not be downloaded: {', '.join(missing)}.",
        f"Put these files in {folder} (i.e. <data_dir>/mnist/, by default data/mnist/) and run again:",
    ]
    for name, errors in missing.items():
        lines.append(
            f"  {folder / name}  (md5 {MD5[name]}, from {MIRRORS[0]}{name} or {MIRRORS[1]}{name}; "
            f"tried: {'; '.join(errors)})"
        )
    return "\n".join(lines)


def fetch_files(folder: Path) -> dict[str, Path]:
    """The four verified files in `folder` (role -> path): placed ones used, missing ones downloaded from
    the first mirror that answers (`repro.data.fetch`). A checksum mismatch raises ChecksumError; files that
    cannot be had raise DataMissing naming all of them."""
    folder = Path(folder)
    paths = {role: folder / name for role, name in FILES.items()}
    missing: dict[str, list[str]] = {}
    for path in paths.values():
        try:
            fetch(folder, path.name, MD5[path.name], [m + path.name for m in MIRRORS])
        except Unreachable as e:
            missing[path.name] = e.errors
    if missing:
        raise DataMissing(_missing_message(folder, missing))
    return paths


def read_idx(path: str | Path) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes into a uint8 array of its stated shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != IDX_UBYTE:
        raise ValueError(f"{path}: IDX type code {raw[2]:#04x}, expected {IDX_UBYTE:#04x} (unsigned byte)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != n:
        raise ValueError(f"{path}: IDX header says {dims} ({n} bytes) but {len(raw) - header} data bytes follow")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{images}: expected images [N, 28, 28], got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{labels}: expected {len(x)} labels, got shape {y.shape}")
    if len(y) and y.max() > 9:
        raise ValueError(f"{labels}: labels outside 0..9")
    return x[:, None], y.astype(np.int64)


def read_files(paths: dict[str, Path]) -> dict:
    """Parse the four files (role -> path) into x, y, x_test, y_test (no checksum check here)."""
    x, y = _pair(paths["train_images"], paths["train_labels"])
    x_test, y_test = _pair(paths["test_images"], paths["test_labels"])
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


def build(params: dict, path: Path) -> None:
    """Write the npz for `params` at `path` (atomically), from the IDX files in `path.parent`."""
    subset = subset_param("mnist", params, N_TRAIN)
    path = Path(path)
    d = read_files(fetch_files(path.parent))
    save_arrays(path, take_subset("mnist", d, subset))


load = load_arrays
