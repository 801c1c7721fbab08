"""Speed benchmarks that hold on a noisy machine. Each prints what it measured; none is a test.

Every timing is a warm-up, then N repeats, reported as the median [min–max]. Every ratio is measured pair by pair
in one run (the two variants' repeats interleave, so machine noise hits both) and reported as the median [min–max]
of the per-pair ratios.

  python -m repro.benchmark [steps]   # new training step (repro.train.train) against the old one (the loop at
                                      # 85a4629, frozen in repro.benchmark.baseline), for every experiment's laptop
                                      # models, with a one-line roofline each (matmul GFLOP/s as a fraction of a
                                      # float32 torch.matmul peak measured in the same run)
  python -m repro.benchmark ib-step | dd-step | lt-step | fp1-step   # one of those cases
       [--steps N] [--repeats N] [--threads N] [--device cpu|cuda]
       [--breakdown: also the new loop vs the old with the same optimizer, and fused vs the new step]
       [--compile: also compiled vs eager]
  python -m repro.benchmark ib-fused [--steps N] [--repeats N] [--threads N] [--models 8] [--activation tanh]
                                      # the IB net's step: FlatBatchedMLP + hand-written backward (repro.nn.fused)
                                      # against BatchedMLP + autograd, both through repro.train.train
  python -m repro.benchmark peak      # the float32 matmul peak alone (n = 256 ... 2048, best of them)
  python -m repro.benchmark batched   # batched trainer vs one model at a time (FP1's laptop models)
  python -m repro.benchmark sweep     # the double-descent width sweep batched vs one (width, seed) at a time
  python -m repro.benchmark imp       # one lottery-ticket level (4 arms × 5 seeds) batched vs one at a time
  python -m repro.benchmark ista      # ISTA over the unrolling test set and lam grid batched vs one at a time
  python -m repro.benchmark resnet-batched [--device cpu|cuda] [--widths 1 2 4 8 16] [--models 5] [--batch N]
       [--steps N] [--arch resnet18|cnn5] [--bf16 auto|on|off] [--channels-last auto|on|off] [--compile]
                                      # the paper-scale CIFAR-10 sweep: a width's seeds as one stacked model vs one
                                      # at a time: images/s, ratio, fraction of the GPU's bf16 peak, and the
                                      # extrapolated device-hours of Nakkiran et al.'s full Fig. 1 sweep
  python -m repro.benchmark workflow [--experiment E ...] [--scales ...] [--all] [--dry]
                                      # wall time of the real Snakemake DAG from nothing: per experiment against
                                      # its target, or the whole DAG (--all) against the 10-minute goal
"""

from __future__ import annotations

import argparse
import sys

import torch

from repro.benchmark.timing import Pair, Timing, header, matmul_peak, measure, mlp_flops, paired

__all__ = ["Pair", "Timing", "header", "main", "matmul_peak", "measure", "mlp_flops", "paired"]

STEP_CASES = ("ib-step", "dd-step", "lt-step", "fp1-step")
BATCHED = ("batched", "sweep", "imp", "ista")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m repro.benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what")

    def common(q, threads: int, repeats: int, device: bool = True):
        q.add_argument("--repeats", type=int, default=repeats, help="timed repeats (after the warm-up)")
        q.add_argument("--warmup", type=int, default=1, help="untimed runs first")
        q.add_argument("--threads", type=int, default=threads, help="torch threads")
        q.add_argument("--data-dir", default="data")
        if device:
            q.add_argument("--device", default="cpu", help="cpu or cuda")

    for name in ("steps", *STEP_CASES):
        q = sub.add_parser(name, help="new step vs old step" if name == "steps" else f"{name} only")
        q.add_argument("--steps", type=int, default=200, help="training steps per timed run")
        q.add_argument("--peak-sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
        q.add_argument(
            "--compile",
            action="store_true",
            help="also time the new step compiled (train(compile_step=True)) against eager",
        )
        q.add_argument(
            "--breakdown",
            action="store_true",
            help="also time the new loop against the old with the same (old, non-fused) optimizer (the "
            "loop's share of the speed-up), and a forced fused optimizer against the new step",
        )
        common(q, threads=1, repeats=5)
    q = sub.add_parser("ib-fused", help="hand-written IB step (repro.nn.fused) vs autograd")
    q.add_argument("--steps", type=int, default=500, help="training steps per timed run")
    q.add_argument("--models", type=int, default=8)
    q.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
    common(q, threads=1, repeats=5)
    q = sub.add_parser("peak")
    q.add_argument("--peak-sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    common(q, threads=1, repeats=3)
    q = sub.add_parser("batched")
    q.add_argument("--steps", type=int, default=300)
    common(q, threads=1, repeats=3, device=False)
    q = sub.add_parser("sweep")
    q.add_argument("--epochs", type=int, default=2)
    common(q, threads=2, repeats=3)
    q = sub.add_parser("imp")
    q.add_argument("--iterations", type=int, default=200)
    common(q, threads=2, repeats=3, device=False)
    q = sub.add_parser("ista")
    q.add_argument("--iterations", type=int, default=200)
    q.add_argument("--vectors", type=int, default=1000)
    common(q, threads=1, repeats=3)
    q = sub.add_parser("resnet-batched", help="paper-scale image sweep: stacked seeds vs one at a time")
    q.add_argument("--arch", default="resnet18", choices=["resnet18", "cnn5"])
    q.add_argument("--widths", type=int, nargs="+", default=None, help="default: 1 2 4 8 16 (+ 64 on cuda)")
    q.add_argument("--models", type=int, default=5, help="models per width trained together (seeds per job)")
    q.add_argument("--batch", type=int, default=None, help="minibatch per model; default 128 on cuda, 32 on cpu")
    q.add_argument("--steps", type=int, default=None, help="training steps per timed run; default 20 cuda, 1 cpu")
    for opt in ("bf16", "channels-last"):
        q.add_argument(f"--{opt}", default="auto", choices=["auto", "on", "off"], help="auto: on for cuda only")
    q.add_argument("--compile", action="store_true", help="torch.compile the stacked model (compile time in warm-up)")
    q.add_argument("--sweep-seeds", type=int, default=5, help="seeds in the extrapolated Fig. 1 sweep")
    common(q, threads=1, repeats=3)
    w = sub.add_parser("workflow")
    w.add_argument("--experiment", nargs="+", default=None, help="default: every experiment")
    w.add_argument(
        "--scales",
        nargs="+",
        default=None,
        choices=["smoke", "laptop", "paper"],
        help="default: smoke and laptop per experiment; laptop with --all",
    )
    w.add_argument("--all", action="store_true", help="the whole DAG (experiments=all) in one run")
    w.add_argument("--cores", type=int, default=2)
    w.add_argument("--repeats", type=int, default=1)
    w.add_argument("--dry", action="store_true", help="print what would run, run nothing")
    return p


def _peak(a) -> float:
    gflops, n = matmul_peak(a.peak_sizes, device=a.device)
    print(
        f"# float32 matmul peak: {gflops:.1f} GFLOP/s (n = {n}, best of n = "
        f"{', '.join(map(str, a.peak_sizes))}, {torch.get_num_threads()} thread(s))",
        flush=True,
    )
    return gflops


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["steps", *argv]
    a = _parser().parse_args(argv)
    if a.what == "workflow":
        from repro.benchmark.workflow import bench_workflow

        scales = a.scales or (["laptop"] if a.all else ["smoke", "laptop"])
        bench_workflow(a.experiment, scales, a.cores, whole=a.all, repeats=a.repeats, dry=a.dry)
        return 0
    torch.set_num_threads(a.threads)
    print(header(getattr(a, "device", "cpu")), flush=True)
    if a.what == "peak":
        _peak(a)
    elif a.what == "resnet-batched":
        from repro.benchmark.images import bench_images

        cuda = torch.device(a.device).type == "cuda"
        on = lambda v: v == "on" or (v == "auto" and cuda)  # noqa: E731
        widths = a.widths or ([1, 2, 4, 8, 16, 64] if cuda else [1, 2, 4, 8, 16])
        bench_images(
            a.arch,
            widths,
            a.models,
            a.batch or (128 if cuda else 32),
            a.steps or (20 if cuda else 1),
            a.device,
            repeats=a.repeats,
            warmup=a.warmup,
            bf16=on(a.bf16),
            channels_last=on(a.channels_last),
            compile=a.compile,
            sweep_seeds=a.sweep_seeds,
        )
    elif a.what == "ib-fused":
        from repro.benchmark import steps

        case = steps.ib_fused_case(a.data_dir, a.device, a.models, a.activation)
        print(
            f"# ib-fused: {case.what}; {a.steps} steps per run, {a.warmup} warm-up + {a.repeats} repeats, "
            "interleaved; per-step time median [min–max], autograd/fused = per-pair speed-up",
            flush=True,
        )
        print(steps.run_fused(case, a.steps, repeats=a.repeats, warmup=a.warmup), flush=True)
    elif a.what in ("steps", *STEP_CASES):
        from repro.benchmark import steps

        peak = _peak(a)
        names = STEP_CASES if a.what == "steps" else (a.what,)
        print(
            f"# {a.steps} steps per run, {a.warmup} warm-up + {a.repeats} repeats, new and old interleaved; "
            "old/new = per-pair speed-up, median [min–max]; roofline = matmul FLOPs (fwd+bwd) / median time",
            flush=True,
        )
        for name in names:
            case = steps.CASES[name](a.data_dir, a.device)
            print(f"# {name}: {case.what}", flush=True)
            pair, diff = steps.run_pair(case, a.steps, repeats=a.repeats, warmup=a.warmup)
            print(steps.report_line(case, a.steps, pair, diff, peak), flush=True)
            extra = (["loop", "fused"] if a.breakdown else []) + (
                ["compile"] if a.compile and steps.can_compile() else []
            )
            for compare in extra:
                pair, diff = steps.run_pair(case, a.steps, repeats=a.repeats, warmup=a.warmup, compare=compare)
                print(steps.report_line(case, a.steps, pair, diff, peak, compare), flush=True)
    else:
        from repro.benchmark import batched as b

        kw = dict(repeats=a.repeats, warmup=a.warmup)
        if a.what == "batched":
            b.bench_batched(a.steps, **kw)
        elif a.what == "sweep":
            b.bench_sweep(a.epochs, a.device, data_dir=a.data_dir, **kw)
        elif a.what == "imp":
            b.bench_imp(a.iterations, data_dir=a.data_dir, **kw)
        else:
            b.bench_ista(a.iterations, a.vectors, a.device, data_dir=a.data_dir, **kw)
    return 0
