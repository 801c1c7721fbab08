"""Paper scale: Nakkiran et al.'s CIFAR-10 width sweeps (pre-activation ResNet18 and the 5-layer CNN).

One shard is one (architecture, width group, label noise, seed); its widths train one after another
(different shapes, BatchNorm), each through the one training loop, with the data kept on the device.
"""

from __future__ import annotations

import pandas as pd
import torch

from repro.data import DataRef, load
from repro.data.augment import normalize, random_crop_flip
from repro.experiments.double_descent.sweep import noisy_labels, record_epochs
from repro.train import adam, sgd, train


def _models(arch: str):
    if arch == "resnet18":
        from repro.nn.resnet import make
    else:
        from repro.nn.cnn import make
    return make


def run_image(ctx) -> pd.DataFrame:
    c = ctx.exp.image
    from repro.experiments.double_descent import shards

    spec = shards(ctx.exp)[ctx.shard].point
    arch, ks, noise, seed = spec["arch"], spec["k"], spec["noise"], spec["seed"]
    d = load(DataRef("cifar10", {"subset": c.subset} if c.subset else {}), ctx.data_dir, build_missing=False)
    x = torch.tensor(d["x"], device=ctx.device)  # uint8 [N, 3, 32, 32]
    # Nakkiran et al. §3: the noisy labels are drawn once per run (not per epoch): here per seed, shared by the widths
    # of that seed, so a seed's widths stay paired (DD7 compares them per seed)
    y = noisy_labels(torch.tensor(d["y"]), noise, seed=seed).to(ctx.device)
    xt, yt = normalize(torch.tensor(d["x_test"], device=ctx.device)), torch.tensor(d["y_test"], device=ctx.device)
    n = len(x)
    steps_per_epoch = max(1, n // c.batch_size)
    total = c.sgd.steps if c.optimizer[arch] == "sgd" else c.epochs * steps_per_epoch
    total = total if c.max_steps is None else min(c.max_steps, total)
    rows = []
    ctx.keep("rows", rows)
    for k in ks:
        rows += fit_one(ctx, arch, k, noise, seed, x, y, xt, yt, total, steps_per_epoch)
    return pd.DataFrame(rows)


def fit_one(ctx, arch: str, k: int, noise: float, seed: int, x, y, xt, yt, total: int,
            steps_per_epoch: int) -> list[dict]:
    """Train one model of width k on augmented minibatches (Adam, or SGD on Nakkiran et al.'s inverse-square-root
    schedule), recording train and test error."""
    c = ctx.exp.image
    n = len(x)
    uses_sgd = c.optimizer[arch] == "sgd"
    epochs = -(-c.sgd.steps // steps_per_epoch) if uses_sgd else c.epochs
    model = _models(arch)(arch, k, seed=seed).to(ctx.device)
    gen = torch.Generator(device=ctx.device).manual_seed(1_000_003 * seed + 17)
    state = {"step": 0, "perm": None}
    rows: list[dict] = []
    for name, obj in (("model", model), ("gen", gen), ("state", state), ("rows", rows)):
        ctx.keep(f"k{k}-{name}", obj)  # buffers (batch-norm statistics) and the augmentation stream too

    def losses() -> torch.Tensor:
        i = state["step"] % steps_per_epoch
        if i == 0:
            state["perm"] = torch.randperm(n, generator=gen, device=ctx.device)
        idx = state["perm"][i * c.batch_size:(i + 1) * c.batch_size]
        xb = normalize(random_crop_flip(x[idx], gen))
        state["step"] += 1
        model.train()
        return torch.nn.functional.cross_entropy(model(xb), y[idx]).unsqueeze(0)

    def record(step: int) -> None:
        model.eval()
        errors = {"train_error": _error(model, normalize(x), y), "test_error": _error(model, xt, yt)}
        epoch = step // steps_per_epoch if step < total else epochs
        for metric, v in errors.items():
            rows.append({"arch": arch, "k": k, "noise": noise, "seed": seed, "step": epoch, "metric": metric,
                         "value": v})

    opt_ref = []

    def make_optimizer(params):
        opt_ref.append(sgd(c.sgd.lr_at(state["step"]))(params) if uses_sgd else adam(c.lr)(params))
        return opt_ref[-1]

    def after_step() -> None:
        if uses_sgd:  # the rate of the next update; a resumed run restores it with the optimizer's state
            for g in opt_ref[-1].param_groups:
                g["lr"] = c.sgd.lr_at(state["step"])

    wanted = {min(e * steps_per_epoch, total) for e in record_epochs(epochs, c.n_records)} | {total}
    train(model.parameters(), losses, steps=total, optimizer=make_optimizer, after_step=after_step,
          record=record, record_steps=sorted(wanted), label=ctx.label(f"k={k}"),
          model_names=[f"{arch} k={k} seed{seed}"])
    return rows


def _error(model, x, y, chunk: int = 1000) -> float:
    wrong = sum((model(x[i:i + chunk]).argmax(-1) != y[i:i + chunk]).sum().item() for i in range(0, len(x), chunk))
    return wrong / len(x)

