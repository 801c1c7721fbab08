"""repro.nn.fused: FlatBatchedMLP is BatchedMLP with one flat parameter, and its hand-written cross-entropy step
gives autograd's losses and gradients, trains like autograd through repro.train.train, keeps each model independent
of the batch, survives checkpoint restores, and has a benchmark case."""

from __future__ import annotations

import re

import pytest
import torch

from repro import checkpoint
from repro.nn.batched import BatchedMLP
from repro.nn.fused import FlatBatchedMLP, cross_entropy_losses
from repro.train import LeanAdam, MinibatchOrder, adam, lean_adam, train

SIZES = [12, 10, 7, 5, 4, 3, 2]  # the information-bottleneck net
MIXED = ["tanh", "relu", "relu", "tanh", "identity"]


def ib_data(n: int = 600, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n distinct 12-bit patterns (as 0/1 floats) with random binary labels."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randperm(4096, generator=gen)[:n]
    x = ((codes.unsqueeze(1) >> torch.arange(12)) & 1).float()
    return x, torch.randint(0, 2, (n,), generator=gen)


def autograd_losses(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The current path: autograd through BatchedMLP, mean cross-entropy per model."""
    logits = model(x)
    y = y.expand(logits.shape[:2])
    return (
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        .view(logits.shape[:2])
        .mean(1)
    )


def as_flat(model: BatchedMLP) -> torch.Tensor:
    """BatchedMLP's parameters (or their gradients) in FlatBatchedMLP's layout [w0, b0, w1, b1, ...]."""
    return torch.cat([t.reshape(-1) for wb in zip(model.weights, model.biases) for t in wb])


def as_flat_grad(model: BatchedMLP) -> torch.Tensor:
    return torch.cat([t.grad.reshape(-1) for wb in zip(model.weights, model.biases) for t in wb])


@pytest.mark.parametrize("init", ["truncated_normal", "torch_default"])
def test_same_initial_parameters_layers_and_forward_as_batched_mlp(init):
    seeds = [3, 1, 4, 1, 5]
    ref, flat = BatchedMLP(seeds, SIZES, MIXED, init=init), FlatBatchedMLP(seeds, SIZES, MIXED, init=init)
    assert flat.sizes == ref.sizes and flat.n_models == 5 and flat.activations == MIXED and flat.bias
    assert flat.masks is None and len(list(flat.parameters())) == 1 and flat.flat.dim() == 1
    for a, b in zip([*ref.weights, *ref.biases], [*flat.weights, *flat.biases], strict=True):
        assert a.shape == b.shape and torch.equal(a, b)
    x = torch.randn(5, 9, 12)
    with torch.no_grad():
        (h_ref, out_ref), (h, out) = ref.layers(x), flat.layers(x)
        assert all(torch.equal(a, b) for a, b in zip(h_ref, h, strict=True)) and torch.equal(out_ref, out)
        assert torch.equal(ref(x[0]), flat(x[0]))  # a shared [n, d] input too
    # forward() is ordinary autograd through views of flat
    flat(x).sum().backward()
    assert flat.flat.grad is not None and flat.flat.grad.shape == flat.flat.shape


def test_masks_are_refused():
    model = FlatBatchedMLP([0, 1], SIZES, "tanh")
    with pytest.raises(NotImplementedError, match="pruning masks"):
        model.set_masks([torch.ones_like(w) for w in model.weights])
    with pytest.raises(NotImplementedError):
        model.masks = [torch.ones(1)]
    model.masks = None  # removing none is fine
    assert model.masks is None


@pytest.mark.parametrize("acts", ["tanh", "relu", MIXED], ids=["tanh", "relu", "mixed"])
@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
def test_loss_and_gradient_equal_autograd_through_batched_mlp(acts, shared):
    seeds = [7, 8, 9, 10, 11]
    ref, flat = (cls(seeds, SIZES, acts, init="truncated_normal") for cls in (BatchedMLP, FlatBatchedMLP))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*(() if shared else (5,)), 37, 12, generator=gen) * 2  # * 2: some tanh units saturate
    y = torch.randint(0, 2, x.shape[:-1], generator=gen)
    g = torch.rand(5, generator=gen) + 0.5  # an incoming gradient that is not all ones
    want, got = autograd_losses(ref, x, y), cross_entropy_losses(flat, x, y)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=0)
    (want * g).sum().backward()
    (got * g).sum().backward()
    torch.testing.assert_close(flat.flat.grad, as_flat_grad(ref), rtol=1e-5, atol=1e-8)
    assert as_flat_grad(ref).abs().max() > 1e-3  # not vacuous


def test_each_backward_returns_a_fresh_gradient_and_a_stale_graph_is_refused():
    model, (x, y) = FlatBatchedMLP([0, 1], SIZES, "tanh"), ib_data(64)
    g1 = torch.autograd.grad(cross_entropy_losses(model, x, y).sum(), model.flat)[0]
    keep = g1.clone()
    g2 = torch.autograd.grad(cross_entropy_losses(model, x[:32], y[:32]).sum(), model.flat)[0]
    assert torch.equal(g1, keep) and not torch.equal(g1, g2)  # the second pass did not overwrite the first's result
    losses = cross_entropy_losses(model, x, y)
    with torch.no_grad():
        model.flat.add_(0.1)  # e.g. an optimizer step between the forward and the backward pass
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        losses.sum().backward()


def test_x_that_needs_a_gradient_is_refused():
    model = FlatBatchedMLP([0], SIZES, "tanh")
    with pytest.raises(ValueError, match="no gradient w.r.t. x"):
        cross_entropy_losses(model, torch.randn(4, 12, requires_grad=True), torch.zeros(4, dtype=torch.long))


def fit(model, seeds, steps: int, fused: bool, x, y, optimizer=None, **kw) -> None:
    """`steps` steps of repro.train.train (Adam 4e-4, per-model minibatches of 256 from 600 samples: the last batch of
    each epoch is short), through the fused path or autograd."""
    batches = MinibatchOrder(torch.arange(len(x)), [7_919 * s + 1 for s in seeds], 256, drop_last=False)
    if kw.get("checkpointer") is not None:
        kw["checkpointer"].keep("batches", batches)  # a resumed call must draw the same minibatches

    def losses():
        idx = batches()
        return cross_entropy_losses(model, x[idx], y[idx]) if fused else autograd_losses(model, x[idx], y[idx])

    train(model.parameters(), losses, steps=steps, optimizer=optimizer or adam(4e-4), progress_every_s=None, **kw)


@pytest.mark.parametrize("acts", ["tanh", MIXED[:4]], ids=["tanh", "mixed"])
def test_fifty_training_steps_match_autograd(acts):
    seeds, (x, y) = [0, 1, 2, 3], ib_data()
    ref, flat = (cls(seeds, SIZES, acts, init="truncated_normal") for cls in (BatchedMLP, FlatBatchedMLP))
    start = flat.flat.detach().clone()
    fit(ref, seeds, 50, False, x, y)
    fit(flat, seeds, 50, True, x, y)
    assert (flat.flat - start).abs().max() > 1e-3  # it trained (50 Adam steps of 4e-4 move weights by up to 0.02)
    assert (flat.flat.detach() - as_flat(ref).detach()).abs().max() < 1e-5


@pytest.mark.parametrize("optimizer", [adam(4e-4), lean_adam(4e-4)], ids=["adam", "lean_adam"])
def test_a_model_trains_bit_identically_alone_or_with_others(optimizer):
    """As tests/test_train_step.py checks the optimizer update: model b's numbers never depend on which models share
    its batch or on its position there (20 steps, including the short last minibatch of each epoch)."""
    seeds, (x, y) = [21, 22, 23, 24], ib_data()
    acts = ["tanh", "relu", "tanh", "tanh"]
    together = FlatBatchedMLP(seeds, SIZES, acts, init="truncated_normal")
    fit(together, seeds, 20, True, x, y, optimizer)
    for b, seed in enumerate(seeds):
        alone = FlatBatchedMLP([seed], SIZES, acts[b], init="truncated_normal")
        fit(alone, [seed], 20, True, x, y, optimizer)
        for i in range(len(SIZES) - 1):
            assert torch.equal(together.weights[i][b], alone.weights[i][0]), (b, i)
            assert torch.equal(together.biases[i][b], alone.biases[i][0]), (b, i)


def test_restoring_flat_keeps_weights_and_the_fused_step_consistent():
    seeds, (x, y) = [5, 6], ib_data(300)
    trained = FlatBatchedMLP(seeds, SIZES, "tanh", init="truncated_normal")
    fit(trained, seeds, 5, True, x, y)
    fresh = FlatBatchedMLP(seeds, SIZES, "tanh", init="truncated_normal")
    cross_entropy_losses(fresh, x, y)  # builds fresh's cached views before the restores below
    expect = cross_entropy_losses(trained, x, y)

    def same_as_trained(model):
        assert all(
            torch.equal(a, b)
            for a, b in zip([*model.weights, *model.biases], [*trained.weights, *trained.biases], strict=True)
        )
        assert torch.equal(cross_entropy_losses(model, x, y), expect)

    state = trained.state_dict()
    assert list(state) == ["flat"]
    fresh.load_state_dict(state)  # a copy_ into flat, as checkpoint.Checkpointer.begin does
    same_as_trained(fresh)
    views = fresh.weights
    with torch.no_grad():
        fresh.flat.zero_()
    assert all(float(w.detach().abs().max()) == 0 for w in views)  # views alias flat
    fresh.flat.data = trained.flat.detach().clone()  # a .data swap: new storage
    same_as_trained(fresh)
    assert not any(torch.equal(w, v) for w, v in zip(views, fresh.weights))  # old views are stale; new ones are not


@pytest.mark.parametrize("optimizer", [adam(4e-4), lean_adam(4e-4)], ids=["adam", "lean_adam"])
def test_a_checkpointed_fused_call_resumes_with_the_same_parameters(tmp_path, optimizer):
    """The real resume path (repro.checkpoint restores params with copy_ and the optimizer's state)."""
    seeds, (x, y) = [0, 1], ib_data(300)

    def run(ck):
        model = FlatBatchedMLP(seeds, SIZES, "tanh", init="truncated_normal")
        fit(model, seeds, 30, True, x, y, optimizer, checkpointer=ck)
        return model.flat.detach().clone()

    clean = run(None)

    class Stop(Exception):
        pass

    def fault(call, step):
        if step == 20:
            raise Stop

    with pytest.raises(Stop):
        run(checkpoint.Checkpointer(tmp_path, "digest", every_s=0.0, fault=fault))
    resumed = checkpoint.Checkpointer(tmp_path, "digest", every_s=0.0, fault=None)
    assert resumed.saved["step"] == 19
    assert torch.equal(clean, run(resumed))


@pytest.mark.parametrize("foreach", [True, False])
def test_lean_adam_is_torch_adam_bit_for_bit(foreach):
    """The same update as torch.optim.Adam, bit for bit, over 200 steps of varied gradients (and after a state_dict
    round trip halfway), on one flat tensor and on several."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(2352,), (8, 12, 10), (8, 10)]
    ref = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    mine = [torch.nn.Parameter(p.detach().clone()) for p in ref]
    torch_opt = torch.optim.Adam(ref, lr=4e-4, foreach=foreach)
    lean = LeanAdam(mine, 4e-4)
    for step in range(200):
        for a, b in zip(ref, mine):
            g = torch.randn(a.shape, generator=gen) * 10 ** (step % 5 - 2)
            a.grad, b.grad = g.clone(), g.clone()
        torch_opt.step()
        lean.step()
        if step == 100:
            state = lean.state_dict()
            lean = LeanAdam(mine, 4e-4)
            lean.load_state_dict(state)
    for a, b in zip(ref, mine):
        assert torch.equal(a, b)
    lean.zero_grad()
    assert all(p.grad is None for p in mine)


def test_denormals_are_flushed_only_inside_the_block():
    from repro.train import denormals_flushed

    tiny = torch.tensor([1e-39])  # subnormal in float32
    assert float(tiny * 1.0) > 0
    with denormals_flushed():
        flushed = float(tiny * 1.0)
    assert float(tiny * 1.0) > 0  # restored
    supported = torch.set_flush_denormal(False)  # whether this CPU can flush (x86 with SSE3); leaves it off
    assert flushed == (0.0 if supported else float(tiny * 1.0))


def test_benchmark_case_smoke(tmp_path, capsys):
    from repro.benchmark import main

    threads = torch.get_num_threads()
    try:
        assert main(["ib-fused", "--steps", "5", "--repeats", "1", "--data-dir", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("ib-fused "))
    assert "fused " in line and "autograd " in line
    assert re.search(r"autograd/fused \d+\.\d+x \[\d+\.\d+–\d+\.\d+\]", line)
