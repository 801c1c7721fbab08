"""NTK5, lazy training (repro.experiments.ntk.lazy): the α-model, its scaled loss, its linearisation, both tasks."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas.testing as pd_testing
import pytest
import torch

from repro.config import ConfigError
from repro.experiments.ntk.lazy import (
    VGG,
    AlphaPair,
    LazyConfig,
    TeacherLazyConfig,
    VGGLazyConfig,
    describe,
    fake_cifar,
    run_lazy,
    symmetrise,
    teacher_problem,
    two_layer,
    two_layer_ntk,
    vgg_forward_macs,
)
from repro.experiments.ntk.linear import kernel_gd

COLUMNS = ["part", "width", "alpha", "angle", "seed", "step", "metric", "value"]
# torch.func.jvp loads torch's jit-scripted jvp decompositions on first use (a torch-internal deprecation warning)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one thread is fastest, and a busy machine makes extra threads wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def teacher_cfg(**kw) -> TeacherLazyConfig:
    base = dict(
        d=6,
        teacher_neurons=3,
        width=10,
        n_train=24,
        n_test=16,
        alphas=[0.1, 1.0, 10.0],
        steps=60,
        lr_max=0.1,
        lr_per_alpha=10.0,
        n_records=4,
        dtype="float64",
    )
    return TeacherLazyConfig(**(base | kw))


def vgg_cfg(**kw) -> VGGLazyConfig:
    base = dict(
        width=4,
        alphas=[1.0, 100.0],
        epochs=1,
        batch_size=4,
        lr=0.1,
        lr_decay=100 / 300,
        momentum=0.9,
        gain=1.0,
        augment=True,
        subset=None,
        n_test=None,
        n_train_eval=8,
        max_steps=2,
        n_records=3,
        eval_chunk=4,
        dtype="float64",
        seeds=1,
    )
    return VGGLazyConfig(**(base | kw))


def lazy(task: str, **kw) -> LazyConfig:
    return LazyConfig(
        task=task,
        teacher=teacher_cfg(**kw) if task == "teacher" else None,
        vgg=vgg_cfg(**kw) if task != "teacher" else None,
    )


def loss_of(F, y):  # the teacher's loss: ½ mean squared error
    return 0.5 * (F - y).pow(2).mean()


# ---------------------------------------------------------------- the α-model at initialisation


def test_symmetrised_student_is_zero_at_init():
    p = teacher_problem(teacher_cfg(width=20), seed=3)
    assert torch.equal(p.A0[:10], p.A0[10:]) and torch.equal(p.b0[10:], -p.b0[:10]) and (p.b0[:10] >= 0).all()
    assert two_layer(p.A0, p.b0, p.X).abs().max() < 1e-12
    # without the symmetrisation the same draws give a clearly non-zero network
    g = torch.Generator().manual_seed(0)
    A, b = torch.randn(20, 6, generator=g, dtype=torch.float64), torch.randn(20, generator=g, dtype=torch.float64)
    assert two_layer(A, b, p.X).abs().max() > 0.1
    A_s, b_s = symmetrise(A, b)
    assert two_layer(A_s, b_s, p.X).abs().max() < 1e-12


def test_teacher_alpha_model_starts_at_zero_for_every_alpha():
    """F_α = 0 at init: the losses recorded at step 0 are ½ mean y² for every α (the real code path)."""
    kw = dict(steps=1, alphas=[1e-3, 1.0, 1e3])
    t = run_lazy(lazy("teacher", **kw), [5], "cpu")
    p = teacher_problem(teacher_cfg(**kw), 5)
    for metric, y in (("train_loss", p.y), ("test_loss", p.y_test)):
        v = t[(t.metric == metric) & (t.step == 0)].value.to_numpy()
        assert len(v) == 3
        np.testing.assert_allclose(v, float(0.5 * y.pow(2).mean()), rtol=1e-12)


def test_alpha_pair_is_centred():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    pair = AlphaPair(model, alpha=7.0)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.equal(pair.net(x), torch.zeros(5, 2, dtype=torch.float64))  # exactly 0 at w0
    assert torch.equal(pair.lin(x), torch.zeros(5, 2, dtype=torch.float64))
    with torch.no_grad():
        for k in pair.w:
            pair.w[k].add_(0.1 * torch.randn_like(pair.w[k]))
    h = lambda p: torch.func.functional_call(model, p, (x,))  # noqa: E731
    torch.testing.assert_close(pair.net(x), 7.0 * (h(pair.w) - h(pair.w0)), rtol=0, atol=0)


# ---------------------------------------------------------------- the 1/α² loss scaling


@pytest.mark.parametrize("alpha", [0.01, 3.0, 1e4])
def test_scaled_loss_gradient_is_alpha_one_gradient_over_alpha(alpha):
    """At w0 (F = 0): ∇_w (1/α²) L(α (h − h0)) = (1/α) ∇_w L(h − h0), so one GD step moves F_α = α (h − h0) by
    α · J · (−η ∇) = the α = 1 model's move: the function-space dynamics start the same for every α."""
    p = teacher_problem(teacher_cfg(), seed=1)
    h0 = two_layer(p.A0, p.b0, p.X)

    def grad(a):
        A, b = p.A0.clone().requires_grad_(), p.b0.clone().requires_grad_()
        (loss_of(a * (two_layer(A, b, p.X) - h0), p.y) / a**2).backward()
        return torch.cat([A.grad.flatten(), b.grad])

    torch.testing.assert_close(grad(alpha), grad(1.0) / alpha, rtol=1e-10, atol=1e-14)
    # the same identity for the VGG α-model (its MSE against one-hot targets)
    torch.manual_seed(0)  # float32: CPU convolutions in float64 are slow
    pair = AlphaPair(VGG(4, 1.0), alpha)
    pair1 = AlphaPair(pair.model, 1.0)
    x, y = torch.randn(2, 3, 32, 32), torch.eye(10)[:2]
    grads = []
    for q in (pair, pair1):
        g = torch.autograd.grad((q.net(x) - y).pow(2).mean() / q.alpha**2, list(q.w.values()))
        grads.append(torch.cat([t.flatten() for t in g]))
    assert (alpha * grads[0] - grads[1]).norm() <= 1e-5 * grads[1].norm()  # float32 rounding


# ---------------------------------------------------------------- the linearisation


def test_two_layer_ntk_matches_jacobian():
    p = teacher_problem(teacher_cfg(), seed=2)
    X, Z = p.X[:7], p.Z[:5]

    def jac(x):
        J = torch.func.jacrev(lambda A, b: two_layer(A, b, x), argnums=(0, 1))(p.A0, p.b0)
        return torch.cat([J[0].flatten(1), J[1]], 1)

    torch.testing.assert_close(two_layer_ntk(p.A0, p.b0, X, Z), jac(X) @ jac(Z).T, rtol=1e-12, atol=1e-12)


def test_batched_kernel_gd_equals_parameter_gd_of_the_jvp_linearisation():
    """Function-space GD with Θ(w0) is exactly parameter-space GD on (1/α²) L(α J (w − w0)), for any α."""
    p = teacher_problem(teacher_cfg(), seed=4)
    eta, steps = 0.05, 25
    theta = two_layer_ntk(p.A0, p.b0, p.X, p.X)[None]
    theta_zx = two_layer_ntk(p.A0, p.b0, p.Z, p.X)[None]
    zeros, lr = theta.new_zeros, torch.tensor([eta], dtype=torch.float64)  # batched: one seed, one step size
    F_X, F_Z = kernel_gd(theta, theta_zx, zeros(1, len(p.X), 1), zeros(1, len(p.Z), 1), p.y[None, :, None], lr, steps)[
        steps
    ]
    for alpha in (0.3, 1.0, 50.0):
        A, b = p.A0.clone().requires_grad_(), p.b0.clone().requires_grad_()

        def lin(x, A=A, b=b, alpha=alpha):
            _, jv = torch.func.jvp(lambda A_, b_: two_layer(A_, b_, x), (p.A0, p.b0), (A - p.A0, b - p.b0))
            return alpha * jv

        for _ in range(steps):
            gA, gb = torch.autograd.grad(loss_of(lin(p.X), p.y) / alpha**2, (A, b))
            with torch.no_grad():
                A -= eta * gA
                b -= eta * gb
        with torch.no_grad():
            torch.testing.assert_close(lin(p.X), F_X[0, :, 0], rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(lin(p.Z), F_Z[0, :, 0], rtol=1e-9, atol=1e-12)


def test_vgg_linearisation_equals_net_at_init_with_the_same_gradient():
    torch.manual_seed(1)
    pair = AlphaPair(VGG(4, 1.0).double(), 5.0)
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    y = torch.eye(10, dtype=torch.float64)[:3]
    assert torch.equal(pair.net(x), pair.lin(x))  # both exactly 0 at w0
    g_net = torch.autograd.grad((pair.net(x) - y).pow(2).mean(), list(pair.w.values()))
    g_lin = torch.autograd.grad((pair.lin(x) - y).pow(2).mean(), list(pair.w_lin.values()))
    for a, b in zip(g_net, g_lin):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- tiny runs


def test_weight_change_falls_like_one_over_alpha_and_the_net_approaches_its_linearisation():
    t = run_lazy(lazy("teacher", alphas=[0.1, 1.0, 10.0, 100.0]), [0, 1], "cpu")
    assert list(t.columns) == COLUMNS and (t.part == "lazy").all() and t.angle.isna().all()
    assert set(t.metric) == {"weight_change", "lin_dist", "test_loss", "train_loss", "target_rms"}
    assert (t.width == 10).all() and set(t.seed) == {0, 1}
    for metric in ("weight_change", "lin_dist"):
        v = t[t.metric == metric].groupby("alpha").value.median()
        assert (np.diff(v.to_numpy()) < 0).all(), (metric, v)
    wc = t[t.metric == "weight_change"].groupby("alpha").value.median()
    assert 5 < wc[1.0] / wc[10.0] < 20 and 5 < wc[10.0] / wc[100.0] < 20
    steps = sorted(t[t.metric == "train_loss"].step.unique())
    assert steps[0] == 0 and steps[-1] == 60 and len(steps) >= 3
    assert set(t[t.metric.isin(["weight_change", "lin_dist"])].step) == {60}
    assert set(t[t.metric == "target_rms"].step) == {0}
    assert np.isfinite(t.value).all()
    assert run_lazy(lazy("teacher", alphas=[0.1, 1.0, 10.0, 100.0]), [0, 1], "cpu").equals(t)  # deterministic


def test_teacher_step_size_rule():
    c = teacher_cfg()
    assert c.lr(1e-4) == pytest.approx(1e-3) and c.lr(0.01) == pytest.approx(0.1) and c.lr(100.0) == 0.1


def test_vgg_path_runs_two_steps_on_fake_images():
    # float32 here: CPU convolutions in float64 have no fast kernel (the paper's float64 is for the GPU)
    t = run_lazy(lazy("cifar10_vgg", dtype="float32"), [0], "cpu", data=fake_cifar(8, 8))
    assert list(t.columns) == COLUMNS and (t.part == "lazy").all() and t.angle.isna().all()
    assert set(t.metric) == {"weight_change", "lin_dist", "test_loss", "train_loss", "target_rms", "test_error"}
    assert set(t.alpha) == {1.0, 100.0} and (t.width == 4).all() and set(t.seed) == {0}
    for a in (1.0, 100.0):
        tl = t[(t.alpha == a) & (t.metric == "train_loss")]
        assert sorted(tl.step) == [0, 1]  # epochs
        assert tl[tl.step == 0].value.item() == pytest.approx(0.1)  # F = 0 at init: mean of onehot² = 1/10
    assert t[t.metric == "target_rms"].value.to_numpy() == pytest.approx(math.sqrt(0.1))
    wc = t[t.metric == "weight_change"].set_index("alpha").value
    assert 0 < wc[100.0] < wc[1.0]
    assert np.isfinite(t.value).all()


@pytest.mark.parametrize("width", [4, 64])
def test_vgg_macs_match_a_count_with_hooks(width):
    model, counted = VGG(width, 1.0), []

    def hook(m, inp, out):
        w = m.weight
        counted.append(out[0].numel() * w[0].numel() if isinstance(m, torch.nn.Conv2d) else w.numel())

    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    model(torch.zeros(1, 3, 32, 32))
    assert sum(counted) == vgg_forward_macs(width)
    assert width != 64 or 150e6 < sum(counted) < 160e6  # VGG-11 on CIFAR-10: ~153M multiply-accumulates


# ---------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LazyConfig(task="vgg", teacher=None, vgg=None), r"task='vgg'.*teacher, cifar10_vgg"),
        (lambda: teacher_cfg(alphas=[1.0, 0.0]), r"alphas\[\]=0\.0.*positive"),
        (lambda: teacher_cfg(alphas=[]), r"alphas=\[\].*non-empty"),
        (lambda: teacher_cfg(width=7), r"width=7.*even"),
        (lambda: teacher_cfg(steps=-1), r"steps=-1.*>= 1"),
        (lambda: teacher_cfg(dtype="half"), r"dtype='half'.*float32, float64"),
        (lambda: teacher_cfg(lr_max=float("nan")), r"lr_max=nan"),
        (lambda: vgg_cfg(momentum=1.0), r"momentum=1\.0.*\[0, 1\)"),
        (lambda: vgg_cfg(n_test=20000), r"n_test=20000.*1\.\.10000"),
        (lambda: vgg_cfg(lr=0.0), r"lr=0\.0.*positive"),
    ],
)
def test_bad_config_values_raise(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


class Killed(Exception):
    pass


@pytest.mark.parametrize(
    "task, kw, at",
    [("teacher", {}, (0, 30)), ("cifar10_vgg", {"dtype": "float32"}, (1, 1))],
)
def test_a_killed_run_resumes_to_the_same_table(tmp_path, task, kw, at):
    """Checkpointed every step, killed inside a training call, rerun: the same table (the final rows are made
    inside the last record, so a finished call that a rerun skips still has them)."""
    from repro import checkpoint

    def run(fault=None):
        ck = checkpoint.Checkpointer(tmp_path / "ck", "digest", every_s=0.0, fault=fault)
        with checkpoint.activated(ck):
            return run_lazy(lazy(task, **kw), [0], "cpu", data=fake_cifar(8, 8))

    def fault(call, step):
        if (call, step) == at:
            raise Killed

    with pytest.raises(Killed):
        run(fault)
    resumed = run()
    fresh = run_lazy(lazy(task, **kw), [0], "cpu", data=fake_cifar(8, 8))
    pd_testing.assert_frame_equal(resumed, fresh)


def test_the_shard_call_with_keep_and_label_and_describe():
    """The experiment's call: run_lazy(exp.lazy, seeds, device, data_dir=..., keep=ctx.keep, label=ctx.label)."""
    kept: dict = {}
    sec = lazy("cifar10_vgg", dtype="float32")
    t = run_lazy(sec, [3], "cpu", data=fake_cifar(8, 8), keep=kept.__setitem__, label=lambda *p: "/".join(p))
    assert len(kept["lazy-vgg-rows"]) == len(t) and "lazy-vgg-s3-a100-gen" in kept
    for s in (sec, lazy("teacher")):
        assert isinstance(describe(s), str) and "α" in describe(s)


def test_schema_composes_with_omegaconf():
    from omegaconf import OmegaConf

    raw = {"task": "teacher", "teacher": dataclasses.asdict(teacher_cfg()), "vgg": dataclasses.asdict(vgg_cfg())}
    sec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LazyConfig), raw))
    assert isinstance(sec.teacher, TeacherLazyConfig) and sec.vgg.subset is None and sec.teacher.lr(1.0) == 0.1
    with pytest.raises(ConfigError, match="alphas"):
        OmegaConf.to_object(
            OmegaConf.merge(OmegaConf.structured(LazyConfig), raw | {"teacher": raw["teacher"] | {"alphas": [-1.0]}})
        )
