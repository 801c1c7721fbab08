"""The ntk experiment's own paths beyond the contract test: the paper-scale shards (CIFAR-10 width sweep, one VGG job
per (α, seed)) run with a tiny override on fake images; a width-sweep shard killed mid-training resumes to the same
table; the width sweep's measurements on an analytic case."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from test_resume import kill_and_resume

from repro import config as config_mod
from repro.data import DataRef, save_arrays
from repro.experiments import ntk
from repro.experiments.ntk.lazy import cifar10_ref, fake_cifar
from repro.paths import TABLE
from repro.run import run

TINY_PAPER = [
    "experiment=ntk",
    "scale=paper",
    "scale.device=cpu",
    "tracking=disabled",
    "experiment.widths.widths=[4,8,16]",
    "experiment.widths.slice_widths=[16]",
    "experiment.widths.n_train=6",
    "experiment.widths.n_test=4",
    "experiment.widths.steps=3",
    "experiment.widths.n_records=2",
    "experiment.widths.slice_points=6",
    "experiment.widths.seed_groups=1",
    "experiment.lazy.vgg.width=4",
    "experiment.lazy.vgg.alphas=[1.0,100.0]",
    "experiment.lazy.vgg.epochs=1",
    "experiment.lazy.vgg.batch_size=4",
    "experiment.lazy.vgg.max_steps=2",
    "experiment.lazy.vgg.subset=8",
    "experiment.lazy.vgg.n_test=8",
    "experiment.lazy.vgg.n_train_eval=8",
    "experiment.lazy.vgg.eval_chunk=4",
    "experiment.lazy.vgg.n_records=2",
    "experiment.lazy.vgg.dtype=float32",
    "experiment.lazy.vgg.seeds=1",
    "scale.seeds=1",
]


def test_paper_shards_run_on_fake_cifar10(tmp_path):
    """Every paper-scale shard kind, through repro.run, on fake CIFAR-10 files where the data rule would put them."""
    data = tmp_path / "data"
    cfg = config_mod.compose([*TINY_PAPER, f"data_dir={data}"])
    for ref in (DataRef("cifar10"), cifar10_ref(cfg.experiment.lazy)):
        save_arrays(ref.path(data), fake_cifar(200, 100))
    names = list(ntk.shards(cfg.experiment))
    assert names == ["widths-g0", "lazy-alpha1-seed100", "lazy-alpha100-seed100"]
    assert all(ntk.shards(cfg.experiment)[n].flops > 0 for n in names[1:])  # the cluster is asked for their time
    for shard in ("widths-g0", "lazy-alpha100-seed100"):
        run(config_mod.compose([*TINY_PAPER, f"data_dir={data}", f"shard={shard}", f"out={tmp_path / shard}"]))
    widths = pd.read_csv(tmp_path / "widths-g0" / TABLE)
    assert set(widths["width"]) == {4, 8, 16} and set(widths["seed"]) == {100}
    assert {"ntk_err", "ntk_change", "lin_rmse", "ker_rmse", "slice_net"} <= set(widths["metric"])
    assert np.isfinite(widths["value"]).all()
    lazy = pd.read_csv(tmp_path / "lazy-alpha100-seed100" / TABLE)
    assert set(lazy["alpha"]) == {100.0} and set(lazy["seed"]) == {100}  # the shard's own (α, seed) only
    assert {"weight_change", "lin_dist", "test_loss"} <= set(lazy["metric"])


def test_cifar_inputs_are_two_classes_on_the_sphere():
    cfg = config_mod.compose(TINY_PAPER)
    task = ntk.Task.build(cfg.experiment.widths, fake_cifar(200, 100))
    assert torch.allclose(task.X.norm(dim=1), torch.ones(6, dtype=torch.float64))
    assert set(task.y.tolist()) <= {-1.0, 1.0} and set(task.yz.tolist()) <= {-1.0, 1.0}
    assert task.X.shape == (6, 3072) and task.Z.shape == (4, 3072)


def test_a_killed_width_sweep_resumes_to_the_same_table(tmp_path):
    """SIGTERM in the second width's training (call 1, step 5): the rerun keeps the first width's rows, resumes the
    second width and gives the uninterrupted table byte for byte."""
    kill_and_resume(tmp_path, ["experiment=ntk", "shard=widths-g0"], "1:5:TERM")


def test_after_one_small_step_the_network_is_still_its_linearisation():
    """run_seed's bookkeeping on one GD step of a small rate η (lr_scale 1e-4): the network and its linearisation
    start from the same outputs (equal losses at step 0) and differ at second order in η after the step (≈1e-8 here,
    below float32 round-off of outputs of order 1), while each width's kernel error and weight change are recorded."""
    cfg = config_mod.compose(["experiment=ntk", "scale=smoke"])
    c = cfg.experiment.widths
    c.steps, c.n_records, c.lr_scale = 1, 1, 1e-4
    task = ntk.Task.build(c)
    rows = pd.DataFrame(ntk.run_seed(c, task, 7, torch.device("cpu"), lambda *a: None, lambda *p: "test"))
    at = {m: g for m, g in rows.groupby("metric")}
    assert (at["lin_rmse"]["value"] < 1e-5).all(), at["lin_rmse"]
    assert (at["ntk_err"]["value"] > 0).all() and (at["weight_change"]["value"] > 0).all()
    losses = at["train_loss"].set_index(["width", "step"])["value"]
    lin = at["train_loss_lin"].set_index(["width", "step"])["value"]
    assert np.allclose(losses.xs(0, level="step"), lin.xs(0, level="step"), rtol=1e-5)  # the same f0
    assert math.isfinite(at["kernel_cond"]["value"].iloc[0])


@pytest.mark.parametrize(
    "bad,match", [("experiment.widths.lr_scale=2.5", "diverges"), ("experiment.widths.widths=[8,4,16]", "increasing")]
)
def test_bad_width_sweep_values_are_refused(bad, match):
    with pytest.raises(config_mod.ConfigError, match=match):
        config_mod.compose(["experiment=ntk", "scale=smoke", bad])
