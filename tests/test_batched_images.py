"""The paper-scale image sweep's batched path: same-shape models (one per seed) trained together as one stacked model
(repro.nn.stacked) equal the models trained one at a time; each model's data stream is its own; the speed options
run on CPU; a killed batched shard resumes to the table of an uninterrupted run; the benchmark prints its figures."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from repro.checkpoint import Preempted
from repro.config import compose
from repro.data import DataRef
from repro.data.augment import normalize, random_crop_flip
from repro.experiments.double_descent import SGDSchedule, images
from repro.nn import cnn, resnet
from repro.nn.stacked import Stacked
from repro.train import adam, sgd, train

MAKE = {"resnet18": resnet.make, "cnn5": cnn.make}


def _data(n: int = 8, n_test: int = 4, seed: int = 0):
    g = np.random.default_rng(seed)
    return (
        torch.tensor(g.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)),
        torch.arange(n) % 10,
        torch.tensor(g.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8)),
        torch.arange(n_test) % 10,
    )


@pytest.mark.parametrize("arch", ["resnet18", "cnn5"])
def test_stacked_forward_batchnorm_and_unstack_equal_the_models(arch):
    """Train-mode forward (batch statistics per model) and the running statistics it updates, model by model; eval
    mode then uses each model's own running statistics; `unstack` gives each model back."""
    models = [MAKE[arch](arch, 2, seed=s) for s in (3, 4, 5)]
    stacked = Stacked(copy.deepcopy(models))
    x = torch.randn(3, 6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = stacked(x)
    ref = torch.stack([m(x[b]) for b, m in enumerate(models)])
    assert out.shape == (3, 6, 10)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    stacked.eval()
    for m in models:
        m.eval()
    torch.testing.assert_close(stacked(x), torch.stack([m(x[b]) for b, m in enumerate(models)]), rtol=1e-5, atol=1e-5)
    for b, m in enumerate(models):
        mine, theirs = stacked.unstack(b).state_dict(), m.state_dict()
        assert mine.keys() == theirs.keys()
        for key in mine:
            torch.testing.assert_close(mine[key], theirs[key], rtol=1e-5, atol=1e-6, msg=key)
    # one model's output does not depend on the others' inputs
    y = x.clone()
    y[1] = torch.randn_like(y[1])
    torch.testing.assert_close(stacked(y)[[0, 2]], stacked(x)[[0, 2]])
    with pytest.raises(ValueError, match="same architecture"):
        Stacked([MAKE[arch](arch, 1), MAKE[arch](arch, 2)])


def test_crop_flip_stack_draws_each_models_augmentation_from_its_own_generator():
    x, *_ = _data(16)
    idx = torch.stack([torch.randperm(16, generator=torch.Generator().manual_seed(s))[:5] for s in (1, 2, 3)])
    gens = [torch.Generator().manual_seed(10 + b) for b in range(3)]
    out = images.crop_flip_stack(x, idx, gens)
    for b in range(3):
        one = random_crop_flip(x[idx[b]], torch.Generator().manual_seed(10 + b))
        assert torch.equal(out[b], one)
    assert gens[0].get_state().equal(_advanced(10, 5))  # each generator moved as far as random_crop_flip moves it


def _advanced(seed: int, m: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    random_crop_flip(torch.zeros(m, 3, 32, 32, dtype=torch.uint8), g)
    return g.get_state()


def _cfg(arch: str, opt: str):
    return SimpleNamespace(optimizer={arch: opt}, lr=1e-3, sgd=SGDSchedule(lr=0.01, decay_every=2, steps=5))


def _alone(arch: str, k: int, seed: int, x, y, batch: int, steps: int, opt: str) -> torch.nn.Module:
    """One model trained alone, as the image path did before stacking: its own generator, a fresh permutation each
    epoch, random_crop_flip, the project's optimizers (Adam, or SGD whose rate follows the schedule)."""
    c = _cfg(arch, opt)
    model = MAKE[arch](arch, k, seed=seed)
    gen = torch.Generator().manual_seed(images.augmentation_seed(seed))
    per_epoch = len(x) // batch
    o = adam(c.lr)(model.parameters()) if opt == "adam" else sgd(c.sgd.lr_at(0))(model.parameters())
    perm = None
    for step in range(steps):
        i = step % per_epoch
        if i == 0:
            perm = torch.randperm(len(x), generator=gen)
        idx = perm[i * batch : (i + 1) * batch]
        o.zero_grad()
        F.cross_entropy(model(normalize(random_crop_flip(x[idx], gen))), y[idx]).backward()
        o.step()
        for g in o.param_groups:
            g["lr"] = c.sgd.lr_at(step + 1) if opt == "sgd" else g["lr"]
    return model


def _together(arch: str, k: int, seeds: list[int], x, ys, batch: int, steps: int, opt: str, **options):
    t = images.StackTrainer(arch, k, seeds, x, ys, batch, torch.device("cpu"), **options)
    train(
        t.model.parameters(),
        t.losses,
        steps=steps,
        optimizer=t.optimizer(_cfg(arch, opt), arch),
        after_step=t.after_step,
        progress_every_s=None,
    )
    return t


def _assert_same_model(a: torch.nn.Module, b: torch.nn.Module, tol: float) -> None:
    for (key, u), v in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(u, v, rtol=tol, atol=tol, msg=key)


# The protocol's pairs: ResNet18 with Adam, CNN5 with the SGD schedule. (CNN5 with Adam is not compared: its conv
# biases feed BatchNorm, which subtracts them, so their gradient is zero up to rounding (~1e-9) and Adam, which divides
# by the gradient's size, moves them ±lr a step in the direction of that noise, in a stack or alone alike.)
@pytest.mark.parametrize("arch,opt", [("resnet18", "adam"), ("cnn5", "sgd")])
def test_batched_training_equals_one_model_at_a_time(arch, opt):
    """Three seeds of one width trained together for 5 steps (2 per epoch: permutations redrawn, the SGD rate decays
    every 2 steps) end where each ends trained alone, and a model's result does not depend on its company.

    Tiny batches (4 images) and a moderate SGD rate (0.01): a ReLU or max-pool whose input is within rounding of a
    tie can go either way in a grouped and a dense convolution and send a gradient elsewhere; at lr 0.05 one such
    flip moved a CNN5 weight by 1e-3 after 5 steps (chaos, not a batching error: that model in a stack of one matches
    the one-model loop bit for bit)."""
    x, y, *_ = _data(8)
    seeds = [7, 8, 9]
    ys = torch.stack([(y + s) % 10 for s in seeds])  # each model its own labels (as its noisy labels are)
    k = 1 if arch == "resnet18" else 2
    together = _together(arch, k, seeds, x, ys, 4, 5, opt)
    for b, s in enumerate(seeds):
        alone = _alone(arch, k, s, x, ys[b], 4, 5, opt)
        _assert_same_model(together.model.unstack(b), alone, 2e-4)
    # seed 8 among other seeds, in another position
    other = _together(arch, k, [8, 11], x, torch.stack([ys[1], y]), 4, 5, opt)
    _assert_same_model(other.model.unstack(0), together.model.unstack(1), 2e-4)
    # a stack of one is the one-model computation (bit for bit with SGD; Adam's first steps divide by gradients near
    # its eps and turn the last bit of the loss's reduction order into ~1e-6)
    one = _together(arch, k, [9], x, ys[2:], 4, 5, opt)
    _assert_same_model(one.model.unstack(0), _alone(arch, k, 9, x, ys[2], 4, 5, opt), 0.0 if opt == "sgd" else 2e-5)
    # and the models did train: they moved away from their initial weights
    start = MAKE[arch](arch, k, seed=7).state_dict()
    moved = together.model.unstack(0).state_dict()
    assert any(not torch.allclose(moved[k_], start[k_]) for k_ in start if k_.endswith("weight"))


def test_errors_are_each_models_own():
    x, y, xt, yt = _data(8)
    seeds = [1, 2]
    ys = torch.stack([y, (y + 1) % 10])
    t = images.StackTrainer("cnn5", 1, seeds, x, ys, 4, torch.device("cpu"))
    got = t.errors(x, ys, chunk=3)  # chunks that do not divide the set
    for b in range(len(seeds)):
        m = t.model.unstack(b).eval()
        with torch.no_grad():
            want = (m(normalize(x)).argmax(-1) != ys[b]).double().mean().item()
        assert got[b] == pytest.approx(want)
    assert len(t.errors(xt, yt)) == 2


def test_bf16_and_channels_last_run_on_cpu_and_stay_close_to_float32():
    """The GPU speed options are code paths a CPU runs: bf16 autocast (float32 weights and loss) and channels_last.
    channels_last is the same computation (tight tolerance); bf16 changes the numbers (loose tolerance, not equal)."""
    x, y, *_ = _data(8)
    ys = torch.stack([y, y])
    ref = _together("cnn5", 2, [1, 2], x, ys, 4, 3, "sgd")
    nhwc = _together("cnn5", 2, [1, 2], x, ys, 4, 3, "sgd", channels_last=True)
    assert nhwc.model.net.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    _assert_same_model(nhwc.model.unstack(1), ref.model.unstack(1), 1e-4)
    half = _together("cnn5", 2, [1, 2], x, ys, 4, 3, "sgd", bf16=True)
    assert all(p.dtype == torch.float32 for p in half.model.parameters())
    losses = half.losses()
    assert losses.dtype == torch.float32 and torch.isfinite(losses).all()
    a, b = dict(half.model.unstack(0).named_parameters()), dict(ref.model.unstack(0).named_parameters())
    diffs = [(a[k] - b[k]).abs().max().item() for k in a]
    assert 0 < max(diffs) < 0.05  # SGD lr 0.01, 3 steps: bf16 moves the weights a little differently


def test_options_resolve_per_device_and_compile_wraps_the_model(monkeypatch):
    """ "cuda" options are on only on a CUDA device. torch.compile itself is not run here (about 20 s cold on 2 CPU
    cores even for the tiny CNN): a stand-in checks that the compile option routes the forward pass through it."""
    c = SimpleNamespace(bf16="cuda", channels_last="always", compile="never")
    assert images.options(c, torch.device("cpu")) == {"bf16": False, "channels_last": True, "compile": False}
    assert images.options(c, torch.device("cuda")) == {"bf16": True, "channels_last": True, "compile": False}
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: compiled.append(m) or m)
    x, y, *_ = _data(8)
    t = images.StackTrainer("cnn5", 1, [1], x, y[None], 4, torch.device("cpu"), compile=True)
    assert compiled == [t.model] and torch.isfinite(t.losses()).all()


def _fake_cifar(tmp_path, n: int = 8):
    x, y, xt, yt = _data(n)
    path = DataRef("cifar10", {"subset": n}).path(tmp_path / "data")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x.numpy(), y=y.numpy(), x_test=xt.numpy(), y_test=yt.numpy())


@pytest.mark.parametrize("arch,fault", [("cnn5", "1:3:TERM"), ("resnet18", "0:2:TERM")])
def test_a_killed_batched_shard_resumes_to_the_uninterrupted_table(tmp_path, monkeypatch, arch, fault):
    """Two widths × two seeds stacked, 2 steps per epoch: SIGTERM (what SLURM sends before pre-empting a job) at a
    step of one width's training call; the job saves and stops; the rerun resumes from that step (models, BatchNorm
    statistics, optimizer, each model's generator and permutation, the rows) and writes the table of a run never
    interrupted, byte for byte."""
    from repro.paths import scratch_dir
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    _fake_cifar(tmp_path)
    s0 = compose(["experiment=double_descent"]).experiment.first_seed
    shard = f"img-{arch}-k1_2-noise0.2-seeds{s0}-{s0 + 1}"
    over = [
        "experiment=double_descent",
        "scale=paper",
        "scale.device=cpu",
        "tracking=disabled",
        f"data_dir={tmp_path / 'data'}",
        "experiment.image.subset=8",
        "experiment.image.batch_size=4",
        "experiment.image.k_groups=[[1,2]]",
        f"experiment.image.archs=[{arch}]",
        "experiment.image.noise=[0.2]",
        "experiment.image.seeds=2",
        "experiment.image.seeds_per_job=2",
        "experiment.image.n_records=3",
        "experiment.image.epochs=3",
        "experiment.image.sgd={lr: 0.05, decay_every: 2, steps: 6}",
        f"shard={shard}",
    ]
    [clean] = run(compose([*over, f"out={tmp_path / 'clean'}"]))
    monkeypatch.setenv("REPRO_CHECKPOINT_S", "0")
    monkeypatch.setenv("REPRO_FAULT", fault)
    out = tmp_path / "run"
    with pytest.raises(Preempted):
        run(compose([*over, f"out={out}"]))
    assert not (out / "table.csv").exists() and (scratch_dir(out) / "checkpoint.pt").is_file()
    monkeypatch.delenv("REPRO_FAULT")
    [resumed] = run(compose([*over, f"out={out}"]))
    assert (resumed / "table.csv").read_bytes() == (clean / "table.csv").read_bytes()
    import json

    call, step = json.loads((resumed / "provenance.json").read_text())["resumed_from"]
    assert f"{call}:{step}" == ":".join(fault.split(":")[:2])
    t = pd.read_csv(resumed / "table.csv")
    assert set(t["seed"]) == {s0, s0 + 1} and set(t["k"]) == {1, 2}


def test_the_benchmark_prints_its_figures(capsys):
    from repro.benchmark import main

    assert (
        main(
            [
                "resnet-batched",
                "--widths",
                "1",
                "--models",
                "2",
                "--batch",
                "4",
                "--steps",
                "1",
                "--repeats",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--sweep-seeds",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "images/s" in out and "batched/one" in out and "bf16 peak n/a" in out
    assert "full Fig. 1 sweep" in out and "GPU-hours n/a" in out
    from repro.benchmark.images import rate_at, sweep_hours

    assert rate_at({1: 1.0, 4: 3.0}, 2) == pytest.approx(2.0) and rate_at({1: 1.0, 4: 3.0}, 64) == 3.0
    # at a flat 1 PFLOP/s the sweep is its FLOPs / 1e15 s: about 1.5e19 FLOP per seed (the figure)
    assert 1.3e19 < sweep_hours("resnet18", {1: 1e15}, 1) * 3600 * 1e15 < 1.7e19


def test_bad_image_options_are_named_with_the_valid_choices():
    from repro.config import ConfigError

    with pytest.raises(ConfigError, match="experiment.image.bf16.*cuda.*always.*never"):
        compose(["experiment=double_descent", "scale=paper", "experiment.image.bf16=sometimes"])
    with pytest.raises(ConfigError, match="seeds_per_job"):
        compose(["experiment=double_descent", "scale=paper", "experiment.image.seeds_per_job=0"])
    paper = compose(["experiment=double_descent", "scale=paper"]).experiment.image
    assert (paper.bf16, paper.channels_last, paper.compile) == ("cuda", "cuda", "never")  # off on CPU
    assert images.options(paper, torch.device("cpu")) == {"bf16": False, "channels_last": False, "compile": False}
