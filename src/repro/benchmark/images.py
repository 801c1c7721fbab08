"""The paper-scale image sweep: a width's seeds trained together (one stacked model) against one at a time.

`python -m repro.benchmark resnet-batched` times, for each width k, `steps` training steps of `--models` ResNet18s
(or CNN5s) of width k through the shard's own code (`repro.experiments.double_descent.images.StackTrainer`: the
data on the device, crop/flip there, the protocol's optimizer, `repro.train.train`), batched (one stacked model)
and one at a time (a stack of one, trained `--models` times in a row), interleaved pair by pair. It prints images
per second both ways, the per-pair ratio, the batched run's training FLOP rate (6 × forward MACs per image, as the
plan counts it) as a fraction of the device's dense bf16 peak (from a table of known GPUs; n/a on CPU or on an
unknown GPU), and the device-hours of Nakkiran et al.'s full Fig. 1 sweep extrapolated from the measured rates.

The extrapolation assumes: ResNet18 widths k = 1..64 (every integer, as Fig. 1), Adam for 4000 epochs of 390
minibatches of 128 (the shard's whole batches of CIFAR-10's 50,000 images; with --arch cnn5: CNN5 widths 1..64,
500K SGD steps of 128, the CNN protocol), one label-noise level, and the number
of seeds given (`--sweep-seeds`, default 5, the project's image.seeds) trained `--models` per job at the batched
rate; also one seed at the one-at-a-time rate (Fig. 1 plots one run per width). A width's rate is interpolated
linearly in log k between the measured widths, and beyond the widest measured width it is that width's rate (an
underestimate of the rate, so an overestimate of the hours, where wider models use the device better). Evaluation
passes (under 1% of the FLOPs) are left out.
"""

from __future__ import annotations

import math

import torch

from repro.benchmark.timing import paired

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' datasheets; matched against
# torch.cuda.get_device_name by the longest name fragment contained in it.
BF16_PEAK_TFLOPS = {
    "B200": 2250.0,
    "H200": 989.4,
    "GH200": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,  # SXM5 / HBM3
    "H800": 989.4,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
}

FIG1_WIDTHS = range(1, 65)
FIG1_EPOCHS = 4000
FIG1_IMAGES_PER_EPOCH = (50_000 // 128) * 128
SGD_STEPS, SGD_BATCH = 500_000, 128  # the CNN5's protocol (--arch cnn5): Nakkiran's SGD schedule


def images_seen(arch: str) -> int:
    """Training images one model sees in the protocol: ResNet18 Adam 4000 epochs; CNN5 SGD 500K steps of 128."""
    return FIG1_EPOCHS * FIG1_IMAGES_PER_EPOCH if arch == "resnet18" else SGD_STEPS * SGD_BATCH


def _budget(arch: str) -> str:
    return (
        f"{FIG1_EPOCHS} epochs × {FIG1_IMAGES_PER_EPOCH} images"
        if arch == "resnet18"
        else f"{SGD_STEPS} SGD steps × {SGD_BATCH} images"
    )


def bf16_peak(device: torch.device) -> float | None:
    """The device's dense bf16 peak in FLOP/s, or None (CPU, or a GPU not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    hits = [k for k in BF16_PEAK_TFLOPS if k in name]
    return BF16_PEAK_TFLOPS[max(hits, key=len)] * 1e12 if hits else None


def _macs(arch: str, k: int) -> int:
    from repro.nn import cnn, resnet

    return resnet.forward_macs(k) if arch == "resnet18" else cnn.forward_macs(k)


def rate_at(rates: dict[int, float], k: int) -> float:
    """FLOP/s at width k from the measured `rates` (width -> FLOP/s): linear in log k between measured widths, the
    nearest measured width's rate outside them."""
    ks = sorted(rates)
    if k <= ks[0]:
        return rates[ks[0]]
    if k >= ks[-1]:
        return rates[ks[-1]]
    hi = next(w for w in ks if w >= k)
    lo = max(w for w in ks if w <= k)
    if hi == lo:
        return rates[lo]
    t = (math.log(k) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return rates[lo] + t * (rates[hi] - rates[lo])


def sweep_hours(arch: str, rates: dict[int, float], seeds: int) -> float:
    """Device-hours of the full Fig. 1 sweep (see the module docstring) at the given per-width FLOP rates."""
    seconds = sum(seeds * 6.0 * _macs(arch, k) * images_seen(arch) / rate_at(rates, k) for k in FIG1_WIDTHS)
    return seconds / 3600


def bench_images(
    arch: str,
    widths: list[int],
    models: int,
    batch: int,
    steps: int,
    device: str,
    *,
    repeats: int,
    warmup: int,
    bf16: bool,
    channels_last: bool,
    compile: bool,
    sweep_seeds: int = 5,
    n_images: int | None = None,
) -> dict[int, tuple]:
    from repro.experiments.double_descent import SGDSchedule
    from repro.experiments.double_descent.images import StackTrainer
    from repro.train import train

    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    n = n_images or (50_000 if dev.type == "cuda" else 4 * batch)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8).to(dev)
    y = torch.randint(0, 10, (n,), generator=g).to(dev)
    opt = "adam" if arch == "resnet18" else "sgd"
    cfg = _Cfg({arch: opt}, 1e-4, SGDSchedule(lr=0.1, decay_every=512, steps=500_000))
    opts = dict(bf16=bf16, channels_last=channels_last, compile=compile)
    peak = bf16_peak(dev)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(
        f"# {arch}: {models} models per width, batch {batch} each, {steps} steps per run, {n} images on {dev}; "
        f"bf16 {bf16}, channels_last {channels_last}, compile {compile}; {warmup} warm-up + {repeats} repeats, "
        "interleaved; times median [min–max]; batched/one = per-pair speed-up; bf16 peak "
        + (f"{peak / 1e12:.0f} TFLOP/s ({where})" if peak else f"n/a ({where})"),
        flush=True,
    )

    def fit(t: StackTrainer) -> None:
        train(
            t.model.parameters(),
            t.losses,
            steps=steps,
            optimizer=t.optimizer(cfg, arch),
            after_step=t.after_step,
            progress_every_s=None,
        )

    results = {}
    for k in widths:
        seeds = list(range(models))
        together = StackTrainer(arch, k, seeds, x, y.expand(models, -1), batch, dev, **opts)
        alone = [StackTrainer(arch, k, [s], x, y[None], batch, dev, **opts) for s in seeds]
        pair = paired(lambda t=together: fit(t), lambda ts=alone: [fit(t) for t in ts], repeats=repeats, warmup=warmup)
        images = models * batch * steps
        flops = 6.0 * _macs(arch, k) * images
        ips_b, ips_1 = images / pair.a.median, images / pair.b.median
        frac = f"{flops / pair.a.median / peak:.1%} of bf16 peak" if peak else "bf16 peak n/a"
        print(
            f"k={k:<3d} batched {pair.a}  {ips_b:8.0f} images/s   one at a time {pair.b}  {ips_1:8.0f} images/s   "
            f"batched/one {pair.ratio_str()}   {flops / pair.a.median / 1e12:.3f} TFLOP/s, {frac}",
            flush=True,
        )
        results[k] = (pair, flops / pair.a.median, flops / pair.b.median)
        del together, alone
    batched_rates = {k: r[1] for k, r in results.items()}
    alone_rates = {k: r[2] for k, r in results.items()}
    unit = "GPU-hours" if dev.type == "cuda" else "CPU-hours (GPU-hours n/a: no GPU)"
    total = sum(6.0 * _macs(arch, k) * images_seen(arch) for k in FIG1_WIDTHS)
    sweep = "full Fig. 1 sweep" if arch == "resnet18" else "full CNN width sweep"
    print(
        f"# {sweep} ({arch} k = 1..64, {_budget(arch)}, one noise level; {total:.2e} FLOP per seed), "
        f"rates interpolated in log k from k = {', '.join(map(str, widths))} "
        f"(beyond k = {max(widths)}: its rate), on {where}:",
        flush=True,
    )
    print(
        f"#   {sweep_seeds} seeds, {models} per job (batched): {sweep_hours(arch, batched_rates, sweep_seeds):,.1f} "
        f"{unit};  one at a time: {sweep_hours(arch, alone_rates, sweep_seeds):,.1f};  1 seed one at a time: "
        f"{sweep_hours(arch, alone_rates, 1):,.1f}",
        flush=True,
    )
    return results


class _Cfg:
    """The fields of ImageConfig that StackTrainer.optimizer reads."""

    def __init__(self, optimizer: dict, lr: float, sgd):
        self.optimizer, self.lr, self.sgd = optimizer, lr, sgd
