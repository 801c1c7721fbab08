"""The training loop and the batched model: batched training equals one model at a time, and a
non-finite loss stops training at the step it happens."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repro.nn.batched import BatchedMLP
from repro.train import Diverged, log_spaced_steps, train


def reference_mlp(seed: int, sizes, act) -> nn.Sequential:
    """nn.Linear layers initialised exactly as BatchedMLP does for `seed`."""
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(a, b)
        bound = 1 / a**0.5
        with torch.no_grad():
            lin.weight.copy_((torch.rand(b, a, generator=gen) * 2 - 1) * bound)
            lin.bias.copy_((torch.rand(b, generator=gen) * 2 - 1) * bound)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_batched_training_equals_one_model_at_a_time(opt):
    sizes, seeds = [3, 16, 8, 2], [0, 1, 7]
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randn(40, 2, generator=torch.Generator().manual_seed(1))
    make = (lambda p: torch.optim.Adam(p, lr=1e-2)) if opt == "adam" else (lambda p: torch.optim.SGD(p, lr=0.1))

    batched = BatchedMLP(seeds, sizes, ["tanh", "relu", "tanh"])
    train(batched.parameters(), lambda: ((batched(x) - y) ** 2).mean(dim=(1, 2)), steps=25, optimizer=make)

    for i, (seed, act) in enumerate(zip(seeds, [nn.Tanh, nn.ReLU, nn.Tanh])):
        ref = reference_mlp(seed, sizes, act)
        train(list(ref.parameters()), lambda ref=ref: ((ref(x) - y) ** 2).mean().unsqueeze(0), steps=25, optimizer=make)
        torch.testing.assert_close(batched(x)[i], ref(x), rtol=1e-5, atol=1e-6)


def test_a_model_does_not_depend_on_its_batch_mates():
    x = torch.randn(10, 2)
    alone = BatchedMLP([3], [2, 8, 1], "relu")(x)[0]
    together = BatchedMLP([5, 3, 9], [2, 8, 1], "relu")(x)[1]
    torch.testing.assert_close(alone, together)


def test_divergence_is_caught_at_its_step_and_names_the_model():
    w = nn.Parameter(torch.ones(2))
    calls = {"n": 0}

    def losses():
        calls["n"] += 1
        loss = w * 1.0
        return torch.stack([loss[0], loss[1] * (float("nan") if calls["n"] == 4 else 1.0)])

    with pytest.raises(Diverged) as e:
        train([w], losses, steps=10, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), model_names=["a", "b"])
    assert e.value.step == 4 and e.value.models == ["b"]
    assert "step 4" in str(e.value) and "learning rate" in str(e.value)


def test_record_steps_and_early_stop():
    w = nn.Parameter(torch.tensor([4.0]))
    seen = []
    done = train(
        [w],
        lambda: w**2,
        steps=100,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.25),
        record=seen.append,
        record_steps=[0, 1, 2, 50],
        stop=lambda: w.item() < 0.01,
    )
    assert seen == [0, 1, 2] and done < 50  # w halves each step: 4 * 0.5**9 < 0.01
    assert done == 9


def test_log_spaced_steps():
    s = log_spaced_steps(1000, 20, dense_until=5)
    assert s[0] == 0 and s[-1] == 1000 and s[:6] == [0, 1, 2, 3, 4, 5]
    assert s == sorted(set(s)) and len(s) <= 26


def test_minibatch_order_is_per_model_and_covers_each_epoch():
    from repro.train import MinibatchOrder

    pool = torch.arange(100, 110)
    together = MinibatchOrder(pool, [3, 7], batch_size=4, drop_last=False)
    alone = MinibatchOrder(pool, [7], batch_size=4, drop_last=False)
    assert together.steps_per_epoch == 3  # 10 samples: 4 + 4 + 2
    epoch = torch.cat([together() for _ in range(3)], dim=1)
    assert all(sorted(row.tolist()) == list(range(100, 110)) for row in epoch)  # each model sees each sample once
    assert torch.equal(epoch[1], torch.cat([alone() for _ in range(3)], dim=1)[0])  # independent of batch mates
    assert MinibatchOrder(pool, [3], batch_size=4).steps_per_epoch == 2
    with pytest.raises(ValueError, match="exceeds the 10 training samples"):
        MinibatchOrder(pool, [3], batch_size=11)


# ---------------------------------------------------------------- live tracking


class RecordingTracker:
    def __init__(self):
        self.logs: list[tuple[dict, int | None]] = []

    def log(self, metrics: dict, step: int | None = None) -> None:
        self.logs.append((metrics, step))

    def summary(self, metrics: dict) -> None:
        pass


def test_progress_reaches_the_active_tracker_while_training():
    """Issue 18: at the progress cadence the loop logs to the shard's tracker, so tracking=online is live."""
    from repro import tracking

    w = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
    seen = []

    def losses():
        seen.append(w.detach().clone() ** 2)
        return w**2

    rec = RecordingTracker()
    with tracking.activated(rec):
        assert tracking.current() is rec
        train([w], losses, steps=4, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), label="toy", progress_every_s=0.0)
    assert not isinstance(tracking.current(), RecordingTracker)  # deactivated after the run
    steps = [m["progress/toy/step"] for m, _ in rec.logs]
    assert steps == [1, 2, 3, 4] and all(s is None for _, s in rec.logs)  # wandb's own step counter
    for (m, _), loss in zip(rec.logs, seen):
        assert m["progress/toy/loss_median"] == pytest.approx(loss.median().item())
        assert m["progress/toy/loss_max"] == pytest.approx(loss.max().item()) and m["progress/toy/steps_per_s"] > 0
    train([w], losses, steps=2, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), progress_every_s=0.0)  # no tracker


def test_wandb_curves_have_their_own_step_axis():
    """The tidy curves are logged after training, with steps that restart per training call: they go on their own
    x-axis (`curves/step`), never as wandb's step, which the live progress records have already advanced."""
    import pandas as pd

    from repro.run import log_curves
    from repro.tracking import _Wandb

    class FakeRun:
        def __init__(self):
            self.defined, self.logged = [], []

        def define_metric(self, name, step_metric=None):
            self.defined.append((name, step_metric))

        def log(self, metrics, step=None):
            self.logged.append((metrics, step))

    run = FakeRun()
    track = _Wandb(run)
    assert run.defined == [("curves/*", "curves/step")]
    table = pd.DataFrame(
        {"seed": [0, 1, 0, 1], "step": [0, 0, 10, 10], "metric": "loss", "value": [4.0, 2.0, 1.0, 3.0]}
    )
    log_curves(track, table)
    assert run.logged == [
        ({"curves/step": 0, "curves/loss/median": 3.0}, None),
        ({"curves/step": 10, "curves/loss/median": 2.0}, None),
    ]
