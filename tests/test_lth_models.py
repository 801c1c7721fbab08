"""MNIST data family (from tiny fake IDX files) and the lottery-ticket networks of `repro.nn.lth`."""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from repro.data import DataMissing, DataRef, fetch, mnist
from repro.data import __main__ as data_main
from repro.data import build as data_build
from repro.data import load as data_load
from repro.nn import lth

N_TRAIN, N_TEST = 7, 3
REAL_MD5 = dict(mnist.MD5)


def _idx(arr: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic (0, 0, 0x08, ndim), big-endian dims, data."""
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def make_fake_files(folder: Path) -> dict:
    """The four MNIST .gz files in the official IDX format, with their arrays and MD5s."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(N_TRAIN) * 3 % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 0, 4], dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for role, arr in arrays.items():
        path = folder / mnist.FILES[role]
        path.write_bytes(gzip.compress(_idx(arr), mtime=0))
        md5[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return {**arrays, "md5": md5}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Fake files placed where build looks for them, with the expected MD5s patched to the fakes'."""
    data_dir = tmp_path / "data"
    truth = make_fake_files(data_dir / "mnist")
    monkeypatch.setattr(mnist, "MD5", truth["md5"])
    return data_dir, truth


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny per call: one thread is fastest and stays fast when other jobs share the cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _no_network(*args, **kwargs):
    raise AssertionError("a download was attempted")


# ------------------------------------------------------------------------------------------- data


def test_md5s_are_torchvisions():
    assert mnist.MD5 == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    assert set(mnist.MD5) == set(mnist.FILES.values()) and len(mnist.MIRRORS) == 2


def test_mnist_builds_from_placed_files(fake, monkeypatch):
    data_dir, truth = fake
    monkeypatch.setattr(fetch.pooch, "retrieve", _no_network)  # placed files need no network
    ref = DataRef("mnist", {})
    path = data_build(ref, data_dir)
    assert path == data_dir / "mnist" / f"{ref.key}.npz"
    d = data_load(ref, data_dir)
    assert set(d) == {"x", "y", "x_test", "y_test"}
    assert d["x"].shape == (N_TRAIN, 1, 28, 28) and d["x"].dtype == np.uint8
    assert d["x_test"].shape == (N_TEST, 1, 28, 28) and d["y"].dtype == d["y_test"].dtype == np.int64
    np.testing.assert_array_equal(d["x"][:, 0], truth["train_images"])
    np.testing.assert_array_equal(d["x_test"][:, 0], truth["test_images"])
    np.testing.assert_array_equal(d["y"], truth["train_labels"])
    np.testing.assert_array_equal(d["y_test"], [9, 0, 4])
    assert d["x"][4, 0, 27, 3] == truth["train_images"][4, 27, 3]  # rows, then columns


def test_mnist_subset_and_params(fake):
    data_dir, truth = fake
    d = data_load(DataRef("mnist", {"subset": 4}), data_dir)
    assert len(d["x"]) == len(d["y"]) == 4 and len(d["x_test"]) == N_TEST
    np.testing.assert_array_equal(d["y"], truth["train_labels"][:4])
    with pytest.raises(ValueError, match=r"unknown mnist parameter.*'sbset'.*valid: subset"):
        data_build(DataRef("mnist", {"sbset": 4}), data_dir)
    for bad in (0, -1, 2.5, True, 60_001):
        with pytest.raises(ValueError, match="subset must be an integer"):
            data_build(DataRef("mnist", {"subset": bad}), data_dir)
    with pytest.raises(ValueError, match="exceeds the 7 training images"):
        data_build(DataRef("mnist", {"subset": 8}), data_dir)


def test_mnist_downloads_missing_files_with_fallback(tmp_path, monkeypatch, capsys, file_server):
    """The primary mirror answers 503 for every file: each missing file comes from the fallback; a placed one is
    used as it is."""
    base, root, seen = file_server
    truth = make_fake_files(root)
    monkeypatch.setattr(mnist, "MD5", truth["md5"])
    monkeypatch.setattr(mnist, "MIRRORS", (base + "down/", base + "ok/"))
    data_dir = tmp_path / "data"
    folder = data_dir / "mnist"
    folder.mkdir(parents=True)
    placed = mnist.FILES["train_images"]
    (folder / placed).write_bytes((root / placed).read_bytes())  # one file placed by hand
    d = data_load(DataRef("mnist", {}), data_dir)
    others = [n for n in mnist.FILES.values() if n != placed]
    assert seen == [f"/{m}/{n}" for n in others for m in ("down", "ok")]  # primary first, then the fallback
    for n in mnist.FILES.values():
        assert (folder / n).read_bytes() == (root / n).read_bytes()
    assert "downloading" in capsys.readouterr().out
    np.testing.assert_array_equal(d["y"], truth["train_labels"])


def test_mnist_wrong_checksum_is_refused(tmp_path, capsys):
    """The real MD5s (not patched) against the fake files: refused, renamed to .bad, no npz."""
    data_dir = tmp_path / "data"
    folder = data_dir / "mnist"
    truth = make_fake_files(folder)
    ref = DataRef("mnist", {})
    with pytest.raises(mnist.ChecksumError) as e:
        data_build(ref, data_dir)
    msg = str(e.value)
    first = mnist.FILES["train_images"]
    assert "expected" in msg and REAL_MD5[first] in msg and truth["md5"][first] in msg
    assert not (folder / first).exists() and (folder / (first + ".bad")).exists()
    assert not ref.path(data_dir).exists()
    assert not any(p.suffix == ".npz" or p.name.endswith(".tmp") for p in folder.iterdir())
    # the command-line builder (Snakemake's data rule) reports it as a clean error
    make_fake_files(folder)
    assert data_main.main(["mnist", "{}", str(ref.path(data_dir))]) == 2
    assert f"expected {REAL_MD5[first]}" in capsys.readouterr().err
    assert not ref.path(data_dir).exists()


def test_mnist_offline_names_the_missing_files(tmp_path, monkeypatch, closed_port_url):
    monkeypatch.setattr(mnist, "MIRRORS", (closed_port_url + "a/", closed_port_url + "b/"))
    data_dir = tmp_path / "data"
    folder = data_dir / "mnist"
    truth = make_fake_files(tmp_path / "elsewhere")
    monkeypatch.setattr(mnist, "MD5", truth["md5"])
    folder.mkdir(parents=True)
    present = mnist.FILES["test_labels"]
    (folder / present).write_bytes((tmp_path / "elsewhere" / present).read_bytes())
    ref = DataRef("mnist", {"subset": 2})
    with pytest.raises(DataMissing) as e:
        data_load(ref, data_dir)
    msg = str(e.value)
    missing = [n for n in mnist.FILES.values() if n != present]
    for n in missing:
        assert str(folder / n) in msg and truth["md5"][n] in msg and mnist.MIRRORS[0] + n in msg
    assert present not in msg.split("\n")[0] and str(folder / present) not in msg
    assert "data/mnist/" in msg and "ConnectionError" in msg
    assert sorted(p.name for p in folder.iterdir()) == [present]  # no partial downloads, no npz


def test_read_idx_rejects_malformed(tmp_path):
    bad = tmp_path / "x.gz"
    bad.write_bytes(gzip.compress(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + b"\0" * 8))
    with pytest.raises(ValueError, match="type code"):
        mnist.read_idx(bad)
    bad.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5) + b"\0" * 4))
    with pytest.raises(ValueError, match="4 data bytes follow"):
        mnist.read_idx(bad)
    bad.write_bytes(gzip.compress(b"\x1f\x8b\x08\x03"))
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(bad)


# ------------------------------------------------------------------------------------------- models


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def mlp_params(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def convnet_params(widths, classes: int = 10) -> int:
    """Conv-2/4/6 by hand: conv3x3 pairs with bias, 2x2 pools, then FC (c * side^2)-256-256-classes."""
    n, c_in = 0, 3
    for w in widths:
        n += 9 * c_in * w + w + 9 * w * w + w
        c_in = w
    side = 32 // 2 ** len(widths)
    return n + mlp_params([c_in * side * side, 256, 256, classes])


def resnet20_params(classes: int = 10) -> int:
    n = 27 * 16 + 2 * 16  # stem conv (no bias) + BN
    c_in = 16
    for stage in range(3):
        c = 16 * 2**stage
        for _ in range(3):
            n += 9 * c_in * c + 2 * c + 9 * c * c + 2 * c  # two convs (no bias), two BNs
            if c_in != c:
                n += c_in * c + 2 * c  # 1x1 projection shortcut + BN
            c_in = c
    return n + 64 * classes + classes


def vgg16_params(classes: int = 10) -> int:
    n, c_in = 0, 3
    for spec in lth.VGG16_PLAN:
        if spec != "M":
            n += 9 * c_in * spec + spec + 2 * spec  # conv with bias + BN
            c_in = spec
    return n + 512 * classes + classes


def test_param_counts():
    assert mlp_params([784, 300, 100, 10]) == 266_610
    assert n_params(lth.make("lenet300")) == 266_610
    expected = {
        "conv2": convnet_params((64,)),
        "conv4": convnet_params((64, 128)),
        "conv6": convnet_params((64, 128, 256)),
        "resnet20": resnet20_params(),
        "vgg16": vgg16_params(),
    }
    assert expected == {
        "conv2": 4_301_642,
        "conv4": 2_425_930,
        "conv6": 2_262_602,
        "resnet20": 272_474,
        "vgg16": 14_728_266,
    }
    for name, n in expected.items():
        assert n_params(lth.make(name)) == n, name
    # the weight counts of FC19 Figure 2 (2-3 significant digits, some truncated rather than rounded):
    # Conv-2 4.3M / 38K conv, Conv-4 2.4M / 260K, ResNet 271K / 270K
    for name, total, conv in (("conv2", 4.3e6, 38e3), ("conv4", 2.4e6, 260e3), ("resnet20", 271e3, 270e3)):
        ws = lth.prunable(lth.make(name))
        assert abs(sum(p.numel() for _, p in ws) / total - 1) < 0.02, name
        assert abs(sum(p.numel() for _, p in ws if p.dim() == 4) / conv - 1) < 0.02, name


@pytest.mark.parametrize("name", list(lth.MODELS))
def test_one_adam_step(name):
    model = lth.make(name, seed=1)
    x = torch.rand(2, *lth.INPUT_SHAPES[name])
    y = torch.tensor([3, 7])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and model(x).shape == (2, 10)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if a.dim() > 1)


def test_prunable_excludes_biases_and_bn():
    for name in lth.MODELS:
        model = lth.make(name)
        pr = lth.prunable(model)
        names = [n for n, _ in pr]
        assert all(n.endswith(".weight") for n in names) and len(set(names)) == len(names)
        params = dict(model.named_parameters())
        assert all(params[n] is p for n, p in pr)
        expected = {n for n, p in params.items() if n.endswith("weight") and p.dim() > 1}  # BN weights are 1-d
        assert set(names) == expected, name
        assert not any("bn" in n or "bias" in n for n in names)
    kinds = lth.layer_kinds(lth.make("conv4"))
    assert list(kinds.values()) == ["conv"] * 4 + ["fc"] * 2 + ["output"]
    resnet = lth.make("resnet20")
    assert len(lth.prunable(resnet)) == 1 + 18 + 2 + 1  # stem, 18 block convs, 2 shortcuts, fc
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in resnet.modules()) == 1 + 18 + 2
    rates = lth.prune_rates("conv6", lth.make("conv6"))
    assert sorted(set(rates.values())) == [0.1, 0.15, 0.2] and rates["fc.weight"] == 0.1
    assert lth.prune_rates("lenet300", lth.make("lenet300")) == {
        "hidden.0.weight": 0.2,
        "hidden.1.weight": 0.2,
        "fc.weight": 0.1,
    }
    assert set(lth.prune_rates("vgg16", lth.make("vgg16")).values()) == {0.2, 0.0}


def test_glorot_normal_init_std():
    w = lth.make("lenet300", seed=0).hidden[0].weight.detach()
    assert w.shape == (300, 784)
    target = math.sqrt(2 / (784 + 300))
    assert abs(w.std().item() / target - 1) < 0.05 and abs(w.mean().item()) < 0.05 * target
    for name in ("conv2", "conv6"):
        conv = lth.make(name, seed=0).features[0]
        fan_in, fan_out = 3 * 9, 64 * 9
        assert abs(conv.weight.std().item() / math.sqrt(2 / (fan_in + fan_out)) - 1) < 0.05
        assert torch.count_nonzero(conv.bias) == 0
    fc = lth.make("resnet20", seed=0).blocks[8].conv2.weight  # He normal: std sqrt(2 / fan_in)
    assert abs(fc.std().item() / math.sqrt(2 / (64 * 9)) - 1) < 0.05


def test_make_errors_seeds_and_tables():
    with pytest.raises(ValueError, match=r"unknown lottery-ticket network 'lenet5'.*valid: lenet300, conv2"):
        lth.make("lenet5")
    with pytest.raises(ValueError, match="unknown lottery-ticket network"):
        lth.prune_rates("lenet5", lth.make("lenet300"))
    state = torch.random.get_rng_state()
    a, b, c = lth.make("conv2", seed=5), lth.make("conv2", seed=5), lth.make("conv2", seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    assert set(lth.PAPER) == set(lth.PRUNE_RATES) == set(lth.MODELS)
    for name, hp in lth.PAPER.items():
        assert {"source", "dataset", "optimizer", "lr", "iterations", "batch"} <= set(hp), name
    assert lth.PAPER["lenet300"]["lr"] == 1.2e-3 and lth.PAPER["lenet300"]["dataset"] == "mnist"
