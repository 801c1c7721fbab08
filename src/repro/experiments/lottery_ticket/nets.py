"""Paper scale: IMP on the papers' networks (LeNet-300-100 on MNIST; Conv-2/4/6, ResNet-20, VGG-16 on
CIFAR-10), one job per (network, seed) that runs the four arms level by level.

Level L+1's masks depend on level L's trained weights, so a job saves the state after every finished level
(`ctx.stages()`, in the shard's scratch directory beside its outputs, never a declared output) and, when rerun
after being killed, resumes at the last finished level. The scratch directory goes once the outputs are written.
"""

from __future__ import annotations

import torch

from repro.data import DataRef, load
from repro.data.augment import normalize, random_crop_flip, to_float
from repro.nn import lth
from repro.train import adam, sgd, train

ARMS = ("reset", "rewind", "reinit", "random")


def prune(model: torch.nn.Module, masks: dict[str, torch.Tensor], rates: dict[str, float], scope: str) -> dict:
    """Magnitude pruning of `model`'s prunable weights: per tensor (layer-wise), or ranked together across
    tensors of the same rate (global). Removes `rate` of the surviving weights; pruned ones never return."""
    params = dict(lth.prunable(model))
    new = {k: m.clone() for k, m in masks.items()}
    groups = (
        {k: [k] for k in params}
        if scope == "layerwise"
        else {r: [k for k in params if rates[k] == r] for r in set(rates.values())}
    )
    for names in groups.values():
        rate = rates[names[0]]
        if rate <= 0:
            continue
        scores = torch.cat(
            [
                (params[k].detach().abs() * masks[k]).flatten().masked_fill(masks[k].flatten() == 0, float("inf"))
                for k in names
            ]
        )
        n_prune = int(round(sum(masks[k].sum().item() for k in names) * rate))
        if n_prune == 0:
            continue
        cut = torch.zeros_like(scores)
        cut[scores.argsort(stable=True)[:n_prune]] = 1
        for k, part in zip(names, cut.split([params[k].numel() for k in names])):
            new[k] = masks[k] * (1 - part.view_as(masks[k]))
    return new


def random_like(masks: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for k, m in masks.items():
        flat = torch.zeros(m.numel(), device=m.device)
        flat[torch.randperm(m.numel(), generator=gen)[: int(m.sum().item())].to(m.device)] = 1
        out[k] = flat.view_as(m)
    return out


def p_m(masks: dict[str, torch.Tensor]) -> float:
    return 100.0 * sum(m.sum().item() for m in masks.values()) / sum(m.numel() for m in masks.values())


def _data(ctx, name: str, c):
    spec = lth.PAPER[name]
    params = {"subset": c.subset} if c.subset else {}
    d = load(DataRef(spec["dataset"], params), ctx.data_dir)  # downloads (with checksums) if absent
    x, y = torch.tensor(d["x"], device=ctx.device), torch.tensor(d["y"], device=ctx.device)
    n_val = min(c.n_val, len(x) // 5)  # the paper holds out 5000 training images for validation
    return (
        (x[n_val:], y[n_val:]),
        (x[:n_val], y[:n_val]),
        (torch.tensor(d["x_test"], device=ctx.device), torch.tensor(d["y_test"], device=ctx.device)),
    )


def _prep(x: torch.Tensor, dataset: str) -> torch.Tensor:
    return normalize(x) if dataset == "cifar10" else (to_float(x) - 0.1307) / 0.3081


def fit(
    ctx, name: str, c, state: dict, masks: dict | None, seed: int, data, label: str, snapshot_at=None, start: int = 0
) -> tuple[list[dict], torch.nn.Module, dict | None]:
    """Train network `name` from `state` with the paper's optimiser; masks re-applied after every step.
    Rows every eval_every iterations: val_loss, test_acc.

    `start` (rewinding): train from iteration `start` to the end, as open_lth does (training/train.py,
    `train(start_step)`): a fresh optimiser, the data order (and augmentation draws) continued from iteration
    `start`, the learning-rate schedule at iteration `start`; rows are labelled with the global iteration.
    `snapshot_at`: an iteration or a list of them; returns the state at each ({iteration: state}, or the state
    itself for one iteration)."""
    spec = lth.PAPER[name]
    iterations = min(spec["iterations"], c.max_iterations or spec["iterations"])
    batch = min(spec["batch"], c.batch_size or spec["batch"])
    single = snapshot_at is not None and not isinstance(snapshot_at, (list, tuple))
    snaps_at = sorted({min(int(j), iterations) for j in ([snapshot_at] if single else snapshot_at or [])})
    start = min(int(start), iterations)
    (xt, yt), (xv, yv), (xs, ys) = data
    model = lth.make(name).to(ctx.device)
    model.load_state_dict(state)
    gen = torch.Generator(device=ctx.device).manual_seed(7_919 * seed + 1)
    run = {"step": 0, "perm": None}
    per_epoch = max(1, len(xt) // batch)
    rows, snap = [], {}

    def batch_xy():
        i = run["step"] % per_epoch
        if i == 0:
            run["perm"] = torch.randperm(len(xt), generator=gen, device=ctx.device)
        idx = run["perm"][i * batch : (i + 1) * batch]
        xb = random_crop_flip(xt[idx], gen) if spec["augment"] else xt[idx]
        run["step"] += 1
        return xb, yt[idx]

    for _ in range(start):  # the data order and augmentation draws of iterations 1..start, not trained on
        batch_xy()

    def losses() -> torch.Tensor:
        xb, yb = batch_xy()
        model.train()
        return torch.nn.functional.cross_entropy(model(_prep(xb, spec["dataset"])), yb).unsqueeze(0)

    def record(local: int) -> None:
        step = start + local
        if step in snaps_at:
            snap[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if (step - start) % c.eval_every and step != iterations:
            return
        model.eval()
        val_loss = torch.nn.functional.cross_entropy(model(_prep(xv, spec["dataset"])), yv).item()
        acc = sum(
            (model(_prep(xs[i : i + 1000], spec["dataset"])).argmax(-1) == ys[i : i + 1000]).sum().item()
            for i in range(0, len(xs), 1000)
        ) / len(xs)
        rows.extend(
            [
                {"step": step, "metric": "val_loss", "value": val_loss},
                {"step": step, "metric": "test_acc", "value": acc},
            ]
        )

    def optimizer(params):
        if spec["optimizer"] == "adam":
            return adam(spec["lr"])(params)
        return sgd(spec["lr"], momentum=spec["momentum"], weight_decay=spec["weight_decay"])(params)

    named = dict(model.named_parameters())

    def apply_masks() -> None:
        for k, m in (masks or {}).items():
            named[k].mul_(m)

    def schedule() -> None:
        if spec["optimizer"] == "sgd":  # the paper's step schedule, at the global iteration
            drops = sum(run["step"] >= s for s in spec["lr_drops"])
            for g in opt_ref[0].param_groups:
                g["lr"] = spec["lr"] * spec["lr_drop_factor"] ** drops

    def after_step() -> None:
        apply_masks()
        schedule()

    opt_ref = []

    def make_opt(params):
        opt_ref.append(optimizer(params))
        schedule()  # a rewound run starts at iteration `start`'s learning rate
        return opt_ref[0]

    with torch.no_grad():
        apply_masks()
    wanted = sorted(
        {
            s - start
            for s in set(range(start, iterations + 1, c.eval_every)) | {iterations} | set(snaps_at)
            if s >= start
        }
    )
    train(
        model.parameters(),
        losses,
        steps=iterations - start,
        optimizer=make_opt,
        record=record,
        record_steps=wanted,
        label=label,
        model_names=[label],
        after_step=after_step,
    )
    if single:
        return rows, model, snap.get(snaps_at[0])
    return rows, model, snap


def run_chain(ctx, name: str, seed: int) -> list[dict]:
    """All levels of one network and seed; resumes from the last finished level in the scratch directory."""
    c = ctx.exp.nets
    extra = [int(j) for j in (c.extra_rewind or {}).get(name, [])]  # more rewind points for this network
    iterations = min(lth.PAPER[name]["iterations"], c.max_iterations or lth.PAPER[name]["iterations"])
    stages = ctx.stages()
    data = _data(ctx, name, c)
    ck = stages.last(map_location=ctx.device)
    if ck is not None:
        print(f"[{ctx.label()}] resuming after level {ck['level']} ({stages.dir})", flush=True)
    else:
        theta0 = lth.make(name, seed=seed).state_dict()
        rows, dense, snaps = fit(
            ctx, name, c, theta0, None, seed, data, ctx.label("level 0"), snapshot_at=[c.rewind_iteration, *extra]
        )
        ones = {k: torch.ones_like(p) for k, p in lth.prunable(dense)}
        rates, scope = lth.prune_rates(name, dense), lth.PRUNE_RATES[name]["scope"]
        first = prune(dense, ones, rates, scope)
        theta_at = {j: snaps.get(min(j, iterations), theta0) for j in [c.rewind_iteration, *extra]}
        ck = {
            "level": 0,
            "theta0": theta0,
            "theta_j": theta_at[c.rewind_iteration],
            "mask_reset": first,
            "mask_rewind": {k: m.clone() for k, m in first.items()},
            "extra": {j: {"theta": theta_at[j], "mask": {k: m.clone() for k, m in first.items()}} for j in extra},
            "rows": [{"level": 0, "p_m": 100.0, "arm": "dense", **r} for r in rows],
        }
        stages.save(0, ck)
    probe = lth.make(name)
    rates, scope = lth.prune_rates(name, probe), lth.PRUNE_RATES[name]["scope"]
    for level in range(ck["level"] + 1, c.levels + 1):
        gen = torch.Generator().manual_seed(7_777 * level + seed)
        inits = {
            "reset": (ck["theta0"], ck["mask_reset"], 0),
            "rewind": (ck["theta_j"], ck["mask_rewind"], c.rewind_iteration),  # from j to T (open_lth)
            "reinit": (lth.make(name, seed=1_000_003 * level + seed).state_dict(), ck["mask_reset"], 0),
            "random": (ck["theta0"], random_like(ck["mask_reset"], gen), 0),
        }
        for j, e in ck.get("extra", {}).items():  # e.g. ResNet-20 rewound to 2000 as well as 500 (and 0: reset)
            inits[f"rewind{j}"] = (e["theta"], e["mask"], j)
        trained = {}
        for arm, (state, masks, start) in inits.items():
            rows, model, _ = fit(ctx, name, c, state, masks, seed, data, ctx.label(f"level {level}", arm), start=start)
            ck["rows"] += [{"level": level, "p_m": p_m(masks), "arm": arm, **r} for r in rows]
            trained[arm] = model
        ck["mask_reset"] = prune(trained["reset"], ck["mask_reset"], rates, scope)
        ck["mask_rewind"] = prune(trained["rewind"], ck["mask_rewind"], rates, scope)
        for j, e in ck.get("extra", {}).items():
            e["mask"] = prune(trained[f"rewind{j}"], e["mask"], rates, scope)
        ck["level"] = level
        stages.save(level, ck)
    return [{"network": name, "seed": seed, **r} for r in ck["rows"]]
