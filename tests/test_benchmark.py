"""repro.benchmark: the timing helper, the FLOP count, the frozen old step against the new loop, and every entry
point end to end at a tiny size. No timed assertions: the numbers are the benchmark's output, not a test."""

from __future__ import annotations

import itertools
import re

import pytest
import torch

from repro.benchmark import baseline, main, measure, mlp_flops, paired
from repro.benchmark.steps import CASES, new_train
from repro.nn.batched import BatchedMLP
from repro.train import MinibatchOrder


def _ticking_clock():
    """A fake clock: every read advances it by 1, 2, 3, ... seconds in turn, so each timed call takes a
    different, known time."""
    t, ticks = [0.0], itertools.count(1)

    def clock() -> float:
        t[0] += next(ticks)
        return t[0]

    return clock


def test_measure_warms_up_first_then_times_n_repeats():
    calls, setups = [], []
    timing = measure(
        lambda arg: calls.append(arg),
        repeats=4,
        warmup=2,
        setup=lambda: setups.append(1) or len(setups),
        clock=_ticking_clock(),
    )
    assert calls == [1, 2, 3, 4, 5, 6]  # one setup per call, warm-ups included, each call gets its own
    assert len(timing.times) == 4  # the warm-ups are not among the times
    # the clock's reads: warm-ups use reads 1-4, so the timed deltas are reads (6-5), (8-7), ... = 6, 8, 10, 12
    assert timing.times == (6.0, 8.0, 10.0, 12.0)
    assert timing.lo <= timing.median <= timing.hi and timing.median == 9.0


def test_measure_without_setup_and_with_noise():
    n = []
    timing = measure(lambda: n.append(1), repeats=5, warmup=1)
    assert len(n) == 6 and len(timing.times) == 5
    assert timing.lo <= timing.median <= timing.hi
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def test_paired_interleaves_and_reports_per_pair_ratios():
    order = []
    pair = paired(lambda: order.append("a"), lambda: order.append("b"), repeats=4, warmup=1)
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]  # warm-up, then AB, BA, AB, BA
    assert len(pair.a.times) == len(pair.b.times) == len(pair.ratios) == 4
    assert min(pair.ratios) <= pair.ratio <= max(pair.ratios)
    assert pair.ratios == tuple(b / a for a, b in zip(pair.a.times, pair.b.times))


def test_flop_count_matches_a_hand_count():
    # a 3-4-2 MLP on 5 samples: matmuls 5×3 @ 3×4 and 5×4 @ 4×2, i.e. 2·5·3·4 + 2·5·4·2 = 120 + 80 = 200 forward;
    # backward: layer 2's weight and input gradients (80 + 80), layer 1's weight gradient only (120)
    assert mlp_flops([3, 4, 2], rows=5, backward=False) == 200
    assert mlp_flops([3, 4, 2], rows=5) == 200 + 160 + 120
    assert mlp_flops([3, 4, 2], rows=5, input_grad=True) == 600  # the textbook ×3
    assert mlp_flops([3, 4, 2], rows=5, models=7) == 7 * 480


def test_flop_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    model = BatchedMLP(range(3), [6, 5, 4], "tanh", bias=False)
    x = torch.randn(3, 8, 6)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    assert fc.get_total_flops() == mlp_flops([6, 5, 4], rows=8, models=3)


def _tiny(seed_order: int = 0):
    model = BatchedMLP([0, 1, 2], [4, 6, 3], ["tanh", "relu", "tanh"])
    x, y = torch.randn(40, 4, generator=torch.Generator().manual_seed(1)), torch.arange(40) % 3
    batches = MinibatchOrder(torch.arange(40), [5, 6, 7], 8)

    def losses():
        idx = batches()
        return (
            torch.nn.functional.cross_entropy(model(x[idx]).reshape(-1, 3), y[idx].reshape(-1), reduction="none")
            .view(3, -1)
            .mean(1)
        )

    return list(model.parameters()), losses


@pytest.mark.parametrize(
    "opt",
    [lambda p: torch.optim.Adam(p, lr=1e-2), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)],
    ids=["adam", "sgd"],
)
def test_old_step_and_new_train_agree_with_the_same_non_fused_optimizer(opt):
    old_p, old_l = _tiny()
    new_p, new_l = _tiny()
    assert all(torch.equal(a, b) for a, b in zip(old_p, new_p))
    baseline.old_train(old_p, old_l, steps=7, optimizer=opt, progress_every_s=None)
    new_train(new_p, new_l, steps=7, optimizer=opt, progress_every_s=None)
    assert all(torch.equal(a, b) for a, b in zip(old_p, new_p))
    assert not torch.equal(old_p[0], _tiny()[0][0])  # it did train


def test_old_step_stops_at_a_non_finite_loss():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(baseline.OldDiverged, match="step 1"):
        baseline.old_train(
            [p], lambda: p / 0.0, steps=3, optimizer=lambda q: torch.optim.SGD(q, lr=0.1), progress_every_s=None
        )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bench-data"))


RATIO = re.compile(r"old/new \d+\.\d+x \[\d+\.\d+–\d+\.\d+\].*% of peak")


@pytest.mark.parametrize("case", list(CASES))
def test_step_case_runs_end_to_end(case, data_dir, capsys):
    threads = torch.get_num_threads()
    try:
        assert main([case, "--steps", "3", "--repeats", "2", "--peak-sizes", "32", "64", "--data-dir", data_dir]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert out.startswith("# torch ") and "thread(s)" in out and "matmul peak" in out
    assert RATIO.search(out), out


@pytest.mark.parametrize(
    "argv",
    [
        ["batched", "--steps", "2"],
        ["sweep", "--epochs", "1"],
        ["imp", "--iterations", "2"],
        ["ista", "--iterations", "2", "--vectors", "3"],
    ],
    ids=lambda a: a[0],
)
def test_batched_benchmarks_run_end_to_end(argv, data_dir, capsys, monkeypatch):
    if argv[0] == "sweep":  # two widths keep it quick
        from repro.benchmark import batched

        real = batched.compose
        monkeypatch.setattr(batched, "compose", lambda o: _narrow(real(o)))
    threads = torch.get_num_threads()
    try:
        extra = [] if argv[0] == "batched" else ["--data-dir", data_dir]
        assert main([*argv, "--repeats", "1", "--warmup", "0", *extra]) == 0
    finally:
        torch.set_num_threads(threads)
    assert re.search(r"speed-up \d+\.\d+x \[", capsys.readouterr().out)


def _narrow(cfg):
    cfg.experiment.mlp.widths = [4, 8]
    return cfg


def test_workflow_dry_covers_every_experiment(capsys):
    from repro.config import available_experiments

    assert main(["workflow", "--dry"]) == 0
    out = capsys.readouterr().out
    for e in available_experiments():
        assert f"experiments={e} " in out
    assert "scale=smoke" in out and "scale=laptop" in out
    assert main(["workflow", "--all", "--dry"]) == 0
    out = capsys.readouterr().out
    assert "experiments=all" in out and "scale=laptop" in out and "600 s" in out


def test_breakdown_runs_the_loop_alone_with_identical_arithmetic(data_dir, capsys):
    threads = torch.get_num_threads()
    try:
        assert (
            main(
                [
                    "ib-step",
                    "--steps",
                    "4",
                    "--repeats",
                    "1",
                    "--breakdown",
                    "--peak-sizes",
                    "32",
                    "--data-dir",
                    data_dir,
                ]
            )
            == 0
        )
    finally:
        torch.set_num_threads(threads)
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("ib-step")}
    assert set(lines) == {"new", "loop", "fused"}
    assert "old/loop" in lines["loop"] and lines["loop"].endswith("max|Δθ| 0.0e+00")  # same optimizer: same numbers
    assert "new/fused" in lines["fused"]
