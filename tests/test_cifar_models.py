"""CIFAR-10 data family (from a tiny fake archive in the official format), augmentation, ResNet18 and CNN5."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from repro.data import DataMissing, DataRef, augment, cifar10, fetch
from repro.data import __main__ as data_main
from repro.data import build as data_build
from repro.data import load as data_load
from repro.nn import cnn, resnet

PER_BATCH = 4  # images per fake batch: 5 train batches -> 20 train images, 4 test images


def _batch_pickle(rng: np.random.Generator, n: int, offset: int, bytes_keys: bool) -> tuple[bytes, np.ndarray, list]:
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in (np.arange(n) + offset) % 10]
    d = {"batch_label": "fake", "labels": labels, "data": data, "filenames": [f"img{offset + i}.png" for i in range(n)]}
    if bytes_keys:  # what the real (Python 2) pickles give under encoding="bytes"
        d = {k.encode(): v for k, v in d.items()}
    return pickle.dumps(d, protocol=2), data, labels


def make_fake_archive(path: Path) -> dict:
    """A cifar-10-python.tar.gz in the official layout (cifar-10-batches-py/data_batch_1..5, test_batch,
    batches.meta), each batch a pickled dict with `data` uint8 [n, 3072] and `labels` list[int]."""
    rng = np.random.default_rng(0)
    xs, ys = [], []
    members = {}
    for i in range(1, 6):
        blob, x, y = _batch_pickle(rng, PER_BATCH, 100 * i, bytes_keys=(i % 2 == 1))
        members[f"data_batch_{i}"] = blob
        xs.append(x)
        ys += y
    blob, xt, yt = _batch_pickle(rng, PER_BATCH, 7, bytes_keys=False)
    members["test_batch"] = blob
    members["batches.meta"] = pickle.dumps({"label_names": list(cifar10.CLASSES), "num_vis": 3072}, protocol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return {
        "x": np.concatenate(xs),
        "y": np.array(ys),
        "x_test": xt,
        "y_test": np.array(yt),
        "md5": hashlib.md5(path.read_bytes()).hexdigest(),
    }


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake archive placed where build looks for it, with the expected MD5 patched to the fake's."""
    data_dir = tmp_path / "data"
    truth = make_fake_archive(data_dir / "cifar10" / cifar10.FILENAME)
    monkeypatch.setattr(cifar10, "MD5", truth["md5"])
    return data_dir, truth


def _no_network(*args, **kwargs):
    raise AssertionError("a download was attempted")


# ------------------------------------------------------------------------------------------- data


def test_cifar10_builds_from_placed_archive(fake, monkeypatch):
    data_dir, truth = fake
    monkeypatch.setattr(fetch.pooch, "retrieve", _no_network)  # a placed archive needs no network
    ref = DataRef("cifar10", {})
    path = data_build(ref, data_dir)
    assert path == data_dir / "cifar10" / f"{ref.key}.npz"
    d = data_load(ref, data_dir)
    assert set(d) == {"x", "y", "x_test", "y_test"}
    assert d["x"].shape == (5 * PER_BATCH, 3, 32, 32) and d["x"].dtype == np.uint8
    assert d["x_test"].shape == (PER_BATCH, 3, 32, 32) and d["y"].dtype == np.int64
    np.testing.assert_array_equal(d["y"], truth["y"])
    np.testing.assert_array_equal(d["y_test"], truth["y_test"])
    # the row layout is R, G, B planes of 32x32, each row-major
    flat = truth["x"]
    assert d["x"][5, 0, 0, 0] == flat[5, 0] and d["x"][5, 1, 0, 0] == flat[5, 1024]
    assert d["x"][5, 2, 31, 30] == flat[5, 2048 + 31 * 32 + 30] and d["x"][5, 0, 1, 0] == flat[5, 32]
    np.testing.assert_array_equal(d["x"].reshape(len(flat), -1), flat)
    np.testing.assert_array_equal(d["x_test"].reshape(PER_BATCH, -1), truth["x_test"])


def test_cifar10_subset_and_params(fake):
    data_dir, truth = fake
    d = data_load(DataRef("cifar10", {"subset": 6}), data_dir)
    assert d["x"].shape[0] == 6 and len(d["x_test"]) == PER_BATCH
    np.testing.assert_array_equal(d["y"], truth["y"][:6])
    with pytest.raises(ValueError, match=r"unknown cifar10 parameter.*'sbset'.*valid: subset"):
        data_build(DataRef("cifar10", {"sbset": 6}), data_dir)
    for bad in (0, -1, 2.5, True, 50_001):
        with pytest.raises(ValueError, match="subset must be an integer"):
            data_build(DataRef("cifar10", {"subset": bad}), data_dir)
    with pytest.raises(ValueError, match="exceeds the 20 training images"):
        data_build(DataRef("cifar10", {"subset": 21}), data_dir)


def test_cifar10_downloads_when_absent(tmp_path, monkeypatch, capsys, file_server):
    base, root, seen = file_server
    truth = make_fake_archive(root / cifar10.FILENAME)
    monkeypatch.setattr(cifar10, "MD5", truth["md5"])
    monkeypatch.setattr(cifar10, "URL", base + "ok/" + cifar10.FILENAME)
    data_dir = tmp_path / "data"
    d = data_load(DataRef("cifar10", {}), data_dir)
    assert seen == ["/ok/" + cifar10.FILENAME]
    assert (data_dir / "cifar10" / cifar10.FILENAME).read_bytes() == (root / cifar10.FILENAME).read_bytes()
    assert "downloading" in capsys.readouterr().out
    np.testing.assert_array_equal(d["y"], truth["y"])
    data_load(DataRef("cifar10", {"subset": 8}), data_dir)  # the archive is there now: no second download
    assert len(seen) == 1


def test_cifar10_download_of_another_file_is_refused(tmp_path, monkeypatch, file_server):
    """The mirror serves a file whose MD5 is not the published one: pooch deletes it, nothing is kept."""
    base, root, _ = file_server
    make_fake_archive(root / cifar10.FILENAME)
    monkeypatch.setattr(cifar10, "URL", base + "ok/" + cifar10.FILENAME)
    data_dir = tmp_path / "data"
    with pytest.raises(cifar10.ChecksumError, match="c58f30108f718f92721af3b95e74349a"):
        data_build(DataRef("cifar10", {}), data_dir)
    folder = data_dir / "cifar10"
    assert not folder.exists() or not any(folder.iterdir())


def test_cifar10_wrong_checksum_is_refused(tmp_path, capsys):
    """The real MD5 (not patched) against the fake archive: refused, renamed to .bad, no npz."""
    data_dir = tmp_path / "data"
    archive = data_dir / "cifar10" / cifar10.FILENAME
    truth = make_fake_archive(archive)
    ref = DataRef("cifar10", {})
    with pytest.raises(cifar10.ChecksumError) as e:
        data_build(ref, data_dir)
    msg = str(e.value)
    assert truth["md5"] in msg and cifar10.MD5 == "c58f30108f718f92721af3b95e74349a" and cifar10.MD5 in msg
    assert "expected" in msg
    assert not archive.exists() and archive.with_name(archive.name + ".bad").exists()
    assert not ref.path(data_dir).exists()
    assert sorted(p.name for p in archive.parent.iterdir()) == [cifar10.FILENAME + ".bad"]
    # the command-line builder (Snakemake's data rule) reports it as a clean error
    make_fake_archive(archive)
    assert data_main.main(["cifar10", "{}", str(ref.path(data_dir))]) == 2
    assert "expected c58f30108f718f92721af3b95e74349a" in capsys.readouterr().err
    assert not ref.path(data_dir).exists()


def test_cifar10_offline_without_archive(tmp_path, monkeypatch, closed_port_url):
    monkeypatch.setattr(cifar10, "URL", closed_port_url + cifar10.FILENAME)
    data_dir = tmp_path / "data"
    ref = DataRef("cifar10", {"subset": 10})
    with pytest.raises(DataMissing) as e:
        data_load(ref, data_dir)
    msg = str(e.value)
    assert str(data_dir / "cifar10" / cifar10.FILENAME) in msg
    assert "data/cifar10/cifar-10-python.tar.gz" in msg
    assert "c58f30108f718f92721af3b95e74349a" in msg and cifar10.URL in msg and "ConnectionError" in msg
    assert not ref.path(data_dir).exists()
    folder = data_dir / "cifar10"
    assert not folder.exists() or not any(folder.iterdir())  # no partial download left behind


def test_cifar10_interrupted_download_leaves_nothing(tmp_path, monkeypatch, file_server):
    """The server announces the whole archive and closes the connection half-way: DataMissing, no file kept."""
    base, root, seen = file_server
    truth = make_fake_archive(root / cifar10.FILENAME)
    monkeypatch.setattr(cifar10, "MD5", truth["md5"])
    monkeypatch.setattr(cifar10, "URL", base + "drop/" + cifar10.FILENAME)
    data_dir = tmp_path / "data"
    with pytest.raises(DataMissing, match=r"drop/cifar-10-python.tar.gz: \w+Error"):
        data_build(DataRef("cifar10", {}), data_dir)
    assert seen == ["/drop/" + cifar10.FILENAME]
    folder = data_dir / "cifar10"
    assert not folder.exists() or not any(folder.iterdir())


# ------------------------------------------------------------------------------------------- models


def resnet18_params(k: int, classes: int = 10) -> int:
    """Parameter count of the pre-activation ResNet18 of width k, counted by hand."""
    n, c_in = 27 * k, k  # stem 3x3 conv, 3 -> k, no bias
    for i in range(4):
        c = k * 2**i
        n += 2 * c_in + 9 * c_in * c + 2 * c + 9 * c * c + (c_in * c if i > 0 else 0)  # block 1 (+ 1x1 shortcut)
        n += 2 * c + 9 * c * c + 2 * c + 9 * c * c  # block 2
        c_in = c
    return n + 8 * k * classes + classes


def cnn5_params(k: int, classes: int = 10) -> int:
    n, c_in = 0, 3
    for i in range(4):
        c = k * 2**i
        n += 9 * c_in * c + c + 2 * c  # conv with bias + BN
        c_in = c
    return n + 8 * k * classes + classes


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_param_counts():
    # 11,171,146 is the count of kuangliu/pytorch-cifar's PreActResNet18 (the authors' code's base)
    assert resnet18_params(64) == 11_171_146
    assert n_params(resnet.make("resnet18", 64)) == 11_171_146
    assert n_params(cnn.make("cnn5", 64)) == cnn5_params(64) == 1_558_026
    for k in (1, 3, 12):
        assert n_params(resnet.make("resnet18", k)) == resnet18_params(k)
        assert n_params(cnn.make("cnn5", k)) == cnn5_params(k)


def hooked_macs(model: torch.nn.Module) -> int:
    """Multiply-accumulates of the convolutions and linear layers in one 32x32 image's forward pass, counted
    from the output shapes that really come out of each layer."""
    total = [0]

    def count(module, _inp, out):
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total[0] += out.numel() * per_output
        elif isinstance(module, torch.nn.Linear):
            total[0] += out.numel() * module.in_features

    handles = [
        m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    return total[0]


@pytest.mark.parametrize("k", [1, 5, 64])
def test_forward_macs_count_what_the_models_compute(k):
    """The plan's run-time estimates come from these closed forms: they equal a count taken on the real models."""
    assert resnet.forward_macs(k) == hooked_macs(resnet.make("resnet18", k))
    assert cnn.forward_macs(k) == hooked_macs(cnn.make("cnn5", k))
    assert resnet.forward_macs(64) == 555_422_720  # ~0.56 GMAC: the usual figure for a CIFAR ResNet18


@pytest.mark.parametrize("family,name", [(resnet, "resnet18"), (cnn, "cnn5")])
@pytest.mark.parametrize("k", [1, 64])
def test_one_training_step(family, name, k):
    torch.manual_seed(0)
    model = family.make(name, k, seed=k)
    x = augment.normalize(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    y = torch.tensor([3, 7])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and model(x).shape == (2, 10)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_make_errors_and_seeds():
    for family, name in ((resnet, "resnet18"), (cnn, "cnn5")):
        with pytest.raises(ValueError, match=rf"unknown .*'vgg'.*valid: {name}"):
            family.make("vgg", 4)
        for bad in (0, -2, 1.5, True):
            with pytest.raises(ValueError, match="width k must be an integer >= 1"):
                family.make(name, bad)
        state = torch.random.get_rng_state()
        a, b = family.make(name, 2, seed=5), family.make(name, 2, seed=5)
        assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        c = family.make(name, 2, seed=6)
        assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


# ------------------------------------------------------------------------------------------- augmentation


def _reference_crops(x: torch.Tensor, padding: int) -> dict:
    """Every (row offset, column offset, flip) crop of one image [C, H, W], by plain pad + slice."""
    h, w = x.shape[-2:]
    xp = F.pad(x, (padding,) * 4)
    out = {}
    for a in range(2 * padding + 1):
        for b in range(2 * padding + 1):
            crop = xp[:, a : a + h, b : b + w]
            out[(a, b, False)] = crop
            out[(a, b, True)] = crop.flip(-1)
    return out


def test_augment_matches_reference_crops_and_is_deterministic():
    n = 64
    # unique positive values: each crop/flip is identifiable, and padding shows as zeros
    x = (torch.arange(32 * 32, dtype=torch.float32) + 1).view(1, 1, 32, 32).repeat(n, 3, 1, 1)
    x[:, 1] += 10_000
    out = augment.random_crop_flip(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    seen = set()
    for i in range(n):
        matches = [key for key, ref in _reference_crops(x[i], 4).items() if torch.equal(ref, out[i])]
        assert len(matches) == 1, f"image {i} is no padded crop (+flip) of its input"
        seen.add(matches[0])
    assert len({(a, b) for a, b, _ in seen}) > 20 and {f for *_, f in seen} == {False, True}
    # same seed, same output; another seed, another output
    assert torch.equal(out, augment.random_crop_flip(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, augment.random_crop_flip(x, torch.Generator().manual_seed(2)))


def test_augment_analytic_cases():
    x = torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8)
    # no padding: each image is itself or its mirror image, and flipping the flipped ones back restores x
    out = augment.random_crop_flip(x, torch.Generator().manual_seed(0), padding=0)
    flipped = torch.tensor([not torch.equal(o, xi) for o, xi in zip(out, x)])
    assert 0 < flipped.sum() < len(x) and out.dtype == torch.uint8
    restored = torch.where(flipped[:, None, None, None], out.flip(-1), out)
    assert torch.equal(restored, x)
    # an all-ones image: the zero border is |offset - 4| rows and columns wide, so the number of ones
    # in a crop is (32 - |dr|) * (32 - |dc|) with |dr|, |dc| <= 4; at least (32 - 4)^2 and at most 32^2
    ones = augment.random_crop_flip(torch.ones(200, 1, 32, 32), torch.Generator().manual_seed(3), flip=False)
    counts = ones.sum(dim=(1, 2, 3))
    assert counts.min() >= 28 * 28 and counts.max() <= 32 * 32
    possible = {(32 - a) * (32 - b) for a in range(5) for b in range(5)}
    assert set(counts.long().tolist()) <= possible
    assert (ones.sum(dim=(1, 2, 3)) == 32 * 32).any()  # offset (4, 4) keeps the whole image
    with pytest.raises(ValueError, match="expected a batch"):
        augment.random_crop_flip(torch.ones(3, 32, 32), torch.Generator())


def test_normalize_and_stats():
    mean = torch.tensor(augment.CIFAR10_MEAN).view(1, 3, 1, 1)
    assert torch.allclose(augment.normalize(mean.expand(2, 3, 4, 4)), torch.zeros(2, 3, 4, 4), atol=1e-7)
    x = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    m, s = augment.channel_stats(x)
    xf = x.double() / 255
    assert np.allclose(m, xf.mean(dim=(0, 2, 3))) and np.allclose(s, xf.std(dim=(0, 2, 3), unbiased=False))
    z = augment.normalize(x, m, s).double()
    assert np.allclose(z.mean(dim=(0, 2, 3)), 0, atol=1e-5) and np.allclose(z.std(dim=(0, 2, 3), unbiased=False), 1)
