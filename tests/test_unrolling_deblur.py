"""U5 deblurring: the operator and its adjoint, the two baselines against independent solutions, PSNR, the
phantoms, config validation, and the real shard at smoke scale."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch

from repro.config import ConfigError, compose
from repro.data import DataRef, build, load, phantoms
from repro.experiments.unrolling import deblur as D
from repro.run import check_tidy

F64 = torch.float64


def deblur_config(scale: str = "smoke", *overrides: str) -> D.Deblur:
    """The deblurring section as conf/ composes it (conf/ is the one source of every value)."""
    return compose(["experiment=unrolling", f"scale={scale}", *overrides]).experiment.deblur


def dense(op, n: int) -> torch.Tensor:
    """The matrix of a linear map on n × n images (float64), column j = op(e_j) flattened."""
    basis = torch.eye(n * n, dtype=F64).reshape(n * n, n, n)
    return op(basis).reshape(n * n, -1).T


def problem(n=8, sigma=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    otf = D.make_otf(n, sigma, dtype=F64)
    x = torch.rand((n, n), generator=g, dtype=F64)
    y = D.blur(x, otf) + 0.01 * torch.randn((n, n), generator=g, dtype=F64)
    return otf, x, y


# ---------------------------------------------------------------- operator


@pytest.mark.parametrize("kernel", ["gaussian", "random"])
def test_adjoint(kernel):
    """<A x, y> = <x, Aᵀ y>; a random (asymmetric) kernel catches a missing conjugate, a Gaussian does not."""
    g = torch.Generator().manual_seed(1)
    n = 12
    otf = D.make_otf(n, 1.5, dtype=F64) if kernel == "gaussian" else \
        torch.fft.rfft2(torch.rand((n, n), generator=g, dtype=F64))
    x, y = torch.randn((2, 3, n, n), generator=g, dtype=F64)
    lhs = (D.blur(x, otf) * y).sum()
    rhs = (x * D.blur_adjoint(y, otf)).sum()
    assert lhs.item() == pytest.approx(rhs.item(), rel=1e-12, abs=1e-12)


def test_grad_div_adjoint():
    g = torch.Generator().manual_seed(2)
    x, p = torch.randn((9, 9), generator=g, dtype=F64), torch.randn((2, 9, 9), generator=g, dtype=F64)
    assert (D.grad(x) * p).sum().item() == pytest.approx(-(x * D.div(p)).sum().item(), rel=1e-12)


def test_blur_keeps_mean_and_constants():
    otf = D.make_otf(16, 2.0, dtype=F64)
    x = torch.rand((4, 16, 16), generator=torch.Generator().manual_seed(3), dtype=F64)
    ax = D.blur(x, otf)
    torch.testing.assert_close(ax.mean((-2, -1)), x.mean((-2, -1)), rtol=0, atol=1e-12)
    assert not torch.allclose(ax, x, atol=1e-3)  # it does blur
    const = torch.full((16, 16), 0.37, dtype=F64)
    torch.testing.assert_close(D.blur(const, otf), const, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- baselines


def test_tikhonov_matches_the_normal_equations():
    n, lam = 8, 0.05
    otf, _, y = problem(n)
    a = dense(lambda e: D.blur(e, otf), n)
    gm = dense(D.grad, n)
    ref = torch.linalg.solve(a.T @ a + lam * gm.T @ gm, a.T @ y.flatten()).reshape(n, n)
    torch.testing.assert_close(D.tikhonov(y, otf, lam), ref, rtol=0, atol=1e-10)


def test_tikhonov_batches_over_lambda():
    otf, _, y = problem(8)
    lams = [1e-3, 1e-1]
    batched = D.tikhonov(y.expand(2, 3, 8, 8), otf, torch.tensor(lams, dtype=F64))
    for i, lam in enumerate(lams):
        torch.testing.assert_close(batched[i, 1], D.tikhonov(y, otf, lam))


def admm_tv(y, otf, lam, iterations=3000, rho=1.0):
    """A different TV solver for reference: ADMM on z = ∇x, the x-step exact in the Fourier domain."""
    lap = D.laplacian_symbol(y.shape[-1], dtype=y.dtype)
    aty = torch.fft.rfft2(y) * otf.conj()
    x = y.clone()
    z = u = torch.zeros((2, *y.shape), dtype=y.dtype)
    for _ in range(iterations):
        rhs = aty - rho * torch.fft.rfft2(D.div(z - u))  # Aᵀy + ρ ∇ᵀ(z - u)
        x = torch.fft.irfft2(rhs / (otf.abs() ** 2 + rho * lap), s=y.shape)
        v = D.grad(x) + u
        norm = v.pow(2).sum(0, keepdim=True).sqrt()
        z = v * torch.clamp(1 - lam / rho / norm.clamp(min=1e-300), min=0)
        u = v - z
    return x


def test_tv_matches_admm_on_a_tiny_problem():
    otf, _, y = problem(8, sigma=1.0)
    lam = 0.02
    ref = admm_tv(y, otf, lam)
    x = D.tv_reconstruct(y, otf, lam, 2000)
    f, f_ref = D.tv_objective(x, y, otf, lam).item(), D.tv_objective(ref, y, otf, lam).item()
    assert f == pytest.approx(f_ref, rel=1e-6)
    torch.testing.assert_close(x, ref, rtol=0, atol=1e-4)
    early = D.tv_objective(D.tv_reconstruct(y, otf, lam, 5), y, otf, lam).item()
    assert early > f + 1e-6  # more iterations lower the objective


def test_tv_small_lambda_is_least_squares():
    """λ → 0 with a well-conditioned blur: the exact inverse A⁻¹ y."""
    n = 8
    otf, _, y = problem(n, sigma=0.5)
    a = dense(lambda e: D.blur(e, otf), n)
    assert torch.linalg.cond(a) < 20
    ls = torch.linalg.solve(a, y.flatten()).reshape(n, n)
    torch.testing.assert_close(D.tv_reconstruct(y, otf, 1e-7, 500), ls, rtol=0, atol=1e-4)


def test_tv_large_lambda_is_the_mean():
    otf, _, y = problem(8)
    x = D.tv_reconstruct(y, otf, 100.0, 500)
    torch.testing.assert_close(x, torch.full_like(x, y.mean().item()), rtol=0, atol=1e-5)


def test_tv_batches_over_lambda():
    otf, _, y = problem(8)
    ys = y.expand(2, 3, 8, 8)
    batched = D.tv_reconstruct(ys, otf, torch.tensor([1e-3, 1e-1], dtype=F64), 50)
    torch.testing.assert_close(batched[1, 2], D.tv_reconstruct(y, otf, 1e-1, 50))


def test_tune_picks_the_best_grid_point():
    otf, x, y = problem(8)
    grid = [1e-4, 1e-2, 1.0, 100.0]
    lam, scores = D.tune(lambda yy, lam: D.tikhonov(yy, otf, lam), y[None], x[None], grid)
    assert len(scores) == 4 and scores[grid.index(lam)] == max(scores)
    assert scores[-1] < max(scores)  # over-smoothing loses


# ---------------------------------------------------------------- PSNR and the network


def test_psnr():
    x = torch.rand((2, 8, 8), generator=torch.Generator().manual_seed(4))
    p = D.psnr(x, x)
    assert torch.isinf(p).all() and (p > 0).all()
    assert D.psnr(x + 0.1, x).tolist() == pytest.approx([20.0, 20.0])  # MSE 0.01
    assert D.psnr(x[0] + 0.01, x[0]).item() == pytest.approx(40.0)


def test_untrained_network_is_landweber():
    """The corrections start at zero, so the untrained network is K gradient steps of size 1 from Aᵀy."""
    c = deblur_config()
    otf, _, y = problem(16, sigma=1.5)
    otf, y = otf.to(torch.complex64), y.float()[None]
    net = D.make_network(0, otf, c)
    x = D.blur_adjoint(y, otf)
    for _ in range(c.iterations):
        x = x - D.blur_adjoint(D.blur(x, otf) - y, otf)
    torch.testing.assert_close(D.reconstruct(net, y), x, rtol=0, atol=1e-6)
    other = D.make_network(1, otf, c)
    assert not torch.equal(net.nets[0][0].weight, other.nets[0][0].weight)  # the seed sets the weights
    assert torch.equal(net.nets[0][0].weight, D.make_network(0, otf, c).nets[0][0].weight)


# ---------------------------------------------------------------- phantoms


P = {"size": 24, "n_train": 6, "n_val": 3, "n_test": 4, "seed": 5}


def test_phantoms_deterministic_and_in_range():
    a, b = phantoms.generate(P), phantoms.generate(P)
    other = phantoms.generate(P | {"seed": 6})
    for k in ("x_train", "x_val", "x_test"):
        assert a[k].dtype == np.float32 and a[k].shape == (P[f"n_{k[2:]}"], 24, 24)
        assert a[k].min() >= 0 and a[k].max() <= 1 and a[k].max() > 0
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], other[k])
    assert not np.array_equal(a["x_train"][:3], a["x_val"])  # independent streams per split
    more = phantoms.generate(P | {"n_train": 10})
    np.testing.assert_array_equal(more["x_train"][:6], a["x_train"])  # prefix-stable
    np.testing.assert_array_equal(more["x_test"], a["x_test"])  # the test set ignores n_train


def test_shepp_logan():
    sl = phantoms.shepp_logan(64)
    assert sl.shape == (64, 64) and sl.dtype == np.float32
    assert sl.min() == 0 and sl.max() == 1
    assert sl[32, 32] == pytest.approx(0.2)  # brain: 1 - 0.8
    assert sl[0, 0] == 0 and sl[32, 2] == 0  # outside the skull
    assert sl[32, 21] == pytest.approx(0.0, abs=1e-6)  # inside the ventricle at x ≈ -0.33: 0.2 - 0.2
    assert math.isclose(float(sl[:, ::-1].mean()), float(sl.mean()), rel_tol=0.05)  # nearly left-right symmetric


def test_phantoms_bad_params(tmp_path):
    with pytest.raises(ValueError, match="colour"):
        phantoms.build({"colour": 1}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="n_train"):
        phantoms.check_params({"n_train": 0})
    with pytest.raises(ValueError, match="size"):
        phantoms.check_params({"size": 4.5})


def test_phantoms_build_and_load(tmp_path):
    ref = DataRef("phantoms", P)
    path = build(ref, tmp_path)
    assert path.exists()
    d = load(ref, tmp_path)
    assert set(d) == {"x_train", "x_val", "x_test", "shepp_logan"}
    np.testing.assert_array_equal(d["x_test"], phantoms.generate(P)["x_test"])


# ---------------------------------------------------------------- config and the shard


def test_config_validation():
    with pytest.raises(ConfigError, match="experiment.deblur.steps"):
        deblur_config("smoke", "experiment.deblur.steps=-5")
    with pytest.raises(ConfigError, match="experiment.deblur.noise_std"):
        deblur_config("laptop", "experiment.deblur.noise_std=0.0")
    with pytest.raises(ConfigError, match="experiment.deblur.tv_grid"):
        deblur_config("paper", "experiment.deblur.tv_grid=[1e-2,1e-3,5]")
    with pytest.raises(ConfigError, match="experiment.deblur.channel"):  # a typo'd key names the valid ones
        deblur_config("smoke", "+experiment.deblur.channel=8")


def test_the_yaml_presets_compose_and_validate():
    """The presets live in conf/preset/unrolling/<scale>.yaml only: each composes into a validated `Deblur`, each
    scale below paper overlays the paper protocol, and the laptop preset states why its budget differs."""
    paper, laptop, smoke = (deblur_config(s) for s in ("paper", "laptop", "smoke"))
    assert all(isinstance(c, D.Deblur) for c in (paper, laptop, smoke))
    assert not hasattr(D, "LAPTOP") and not hasattr(D, "SMOKE")  # no Python copy of a preset
    assert smoke.steps < laptop.steps < paper.steps and smoke.size < laptop.size == paper.size
    assert laptop.blur_sigma == paper.blur_sigma and laptop.noise_std == paper.noise_std  # the same problem
    assert "deblur" in compose(["experiment=unrolling", "scale=laptop"]).experiment.deviations
    assert compose(["experiment=unrolling", "scale=paper"]).experiment.deviations == {}


def smoke_ctx(tmp_path, seeds=(0, 1)):
    c = deblur_config()
    return types.SimpleNamespace(exp=types.SimpleNamespace(deblur=c), seeds=list(seeds), device=torch.device("cpu"),
                                 data_dir=str(tmp_path), label=lambda *p: "/".join(["unrolling/deblur", *map(str, p)]),
                                 keep=lambda name, obj: None)


@pytest.fixture(scope="module")
def smoke_table(tmp_path_factory):
    return D.run(smoke_ctx(tmp_path_factory.mktemp("deblur")))


def test_run_smoke_table(smoke_table):
    t, c = smoke_table, deblur_config()
    check_tidy(t, "deblur")
    assert list(t.columns) == D.COLUMNS
    assert set(t["method"]) == set(D.METHODS)
    assert set(t["metric"]) == {"psnr", "psnr_std", "reg", "step_size", "train_loss", "recon", "val_psnr"}
    # the validation curve: at every record step, the start of the claims' convergence window and the last step
    from repro.experiments.unrolling.claims import CONVERGENCE_WINDOW

    val = t[t["metric"] == "val_psnr"]
    window = int(round((1 - CONVERGENCE_WINDOW) * c.steps))
    for seed in (0, 1):
        steps = set(val[val["seed"] == seed]["step"])
        assert {0, window, c.steps} <= steps and max(steps) == c.steps
    assert (val["method"] == "unrolled").all() and np.isfinite(val["value"]).all()
    assert not t.duplicated(subset=[col for col in t.columns if col != "value"]).any()
    final = D.final_psnr(t)
    assert np.isfinite(final["value"]).all()
    for seed in (0, 1):
        f = final[final["seed"] == seed]
        assert set(zip(f["method"], f["image"])) == {(m, i) for m in D.METHODS[1:] for i in ("shepp_logan", "ellipses")}
        assert (f[f["method"] == "unrolled"]["step"] == c.steps).all()
    ex = t[t["metric"] == "recon"]
    assert (ex["seed"] == 0).all() and ex.groupby("method").size().eq(c.size**2).all()
    assert sorted(ex[ex["method"] == "tv"]["pixel"]) == list(range(c.size**2))
    assert t[t["metric"] != "recon"]["pixel"].isna().all()
    steps = t[t["metric"] == "step_size"]
    assert len(steps) == 2 * c.iterations and sorted(steps["layer"].unique()) == list(range(1, c.iterations + 1))
    for m, grid in (("tikhonov", c.tikhonov_grid), ("tv", c.tv_grid)):
        lam = t[(t["metric"] == "reg") & (t["method"] == m)]["value"]
        assert len(lam) == 2 and lam.nunique() == 1
        assert any(math.isclose(lam.iloc[0], g) for g in D.log_grid(grid))
    curve = t[(t["method"] == "unrolled") & (t["metric"] == "psnr") & (t["image"] == "shepp_logan")]
    assert curve.groupby("seed")["step"].nunique().ge(3).all()  # a learning curve, step 0 included
    truth = ex[ex["method"] == "truth"].sort_values("pixel")["value"].to_numpy().reshape(c.size, c.size)
    np.testing.assert_allclose(truth, phantoms.shepp_logan(c.size))


def test_run_is_deterministic(smoke_table, tmp_path):
    again = D.run(smoke_ctx(tmp_path, seeds=(1,)))
    cols = ["method", "image", "step", "metric", "layer"]

    def seed1(t):
        return t[(t["seed"] == 1) & (t["metric"] != "recon")].set_index(cols)["value"].sort_index()

    a, b = seed1(smoke_table), seed1(again)
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())  # seed 1 alone = seed 1 beside seed 0


def test_figures(smoke_table):
    figs = D.figures(smoke_table)
    assert [f.name for f in figs] == ["u5_examples", "u5_psnr", "u5_curve"]
    assert all(f.caption for f in figs)
    partial = D.figures(smoke_table[smoke_table["metric"] != "recon"])
    assert [f.name for f in partial] == ["u5_psnr", "u5_curve"]
    assert D.figures(smoke_table.iloc[:0]) == []


def test_protocol_and_data_ref():
    c = deblur_config()
    row = D.protocol_row(c)
    assert row["key"] == "deblurring (U5)" and "TV" in row["value"] and str(c.steps) in row["value"]
    ref = D.data_ref(c)
    assert ref.family == "phantoms" and ref.params["size"] == c.size and ref.params["seed"] == c.data_seed
