"""Iterative magnitude pruning on batched MLPs: masks, pruning, controls, and one level's training.

Every tensor here has a leading model axis B: the arms (reset, rewind, reinit, random) and seeds of a
level train together in one `BatchedMLP`, each with its own mask, initial weights and minibatch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from repro.nn.batched import BatchedMLP
from repro.train import LeanAdam, MinibatchOrder, denormals_flushed, train


def magnitude_prune(
    weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], rates: Sequence[float]
) -> list[torch.Tensor]:
    """Layer-wise: remove the fraction `rate` of each layer's surviving weights with the smallest
    magnitude, per model. Pruned weights never come back."""
    out = []
    for w, m, rate in zip(weights, masks, rates):
        B = w.shape[0]
        flat_m = m.reshape(B, -1)
        score = (w.detach().abs().reshape(B, -1)).masked_fill(flat_m == 0, float("inf"))
        n_prune = torch.round(flat_m.sum(1) * rate).long()
        order = score.argsort(dim=1, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
        out.append((flat_m * (ranks >= n_prune[:, None])).view_as(m))
    return out


def random_masks_like(masks: Sequence[torch.Tensor], gens: Sequence[torch.Generator]) -> list[torch.Tensor]:
    """Masks keeping, per model and layer, as many weights as `masks` does, at uniformly random places."""
    out = []
    for m in masks:
        B = m.shape[0]
        flat = m.reshape(B, -1)
        keep = flat.sum(1).long()
        new = torch.zeros_like(flat)
        for b in range(B):
            idx = torch.randperm(flat.shape[1], generator=gens[b])[: keep[b]]
            new[b, idx.to(new.device)] = 1
        out.append(new.view_as(m))
    return out


def pm_schedule(sizes: Sequence[int], rates: Sequence[float], levels: int) -> list[float]:
    """P_m (%) at levels 0..levels of layer-wise pruning, as `magnitude_prune` counts: each round removes
    round(survivors × rate) of each layer's surviving weights (torch.round, half to even)."""
    counts = [float(a * b) for a, b in zip(sizes[:-1], sizes[1:])]
    total, out = sum(counts), []
    for _ in range(levels + 1):
        out.append(100.0 * sum(counts) / total)
        counts = [c - float(torch.round(torch.tensor(c, dtype=torch.float32) * r)) for c, r in zip(counts, rates)]
    return out


def nearest_level(sizes: Sequence[int], rates: Sequence[float], levels: int, pm: float) -> int:
    """The pruned level (1..levels) whose P_m is nearest `pm`."""
    sched = pm_schedule(sizes, rates, levels)
    return min(range(1, levels + 1), key=lambda lvl: abs(sched[lvl] - pm))


def remaining(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """P_m per model: the percentage of prunable weights (all weight matrices) still present."""
    kept = sum(m.reshape(m.shape[0], -1).sum(1) for m in masks)
    total = sum(m[0].numel() for m in masks)
    return 100.0 * kept / total


@dataclass
class State:
    """The weights and biases of B models, as lists of [B, ...] tensors."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]

    @classmethod
    def of(cls, model: BatchedMLP) -> State:
        return cls([w.detach().clone() for w in model.weights], [b.detach().clone() for b in model.biases])

    def select(self, idx: Sequence[int]) -> State:
        return State([w[list(idx)] for w in self.weights], [b[list(idx)] for b in self.biases])

    @staticmethod
    def cat(states: Sequence[State]) -> State:
        return State(
            [torch.cat(ws) for ws in zip(*(s.weights for s in states))],
            [torch.cat(bs) for bs in zip(*(s.biases for s in states))],
        )


class MaskedAdam(LeanAdam):
    """Adam for B models whose parameters are [B, ...] tensors, as torch.optim.Adam(fused=True) would train each
    model alone, bit for bit, with two additions IMP needs:

    - Per-model start steps (open_lth's rewinding): model b is not updated (its moments stay 0) until global step
      `starts[b]`, and from then on its Adam counts steps from 1, as a fresh optimizer would: open_lth trains the
      rewind arm from iteration j to T with a new optimizer and the data order continued from iteration j
      (facebookresearch/open_lth training/train.py, `train(..., start_step)`; lottery/runner.py).
    - Pruning masks re-applied right after each update (the weights' masked entries are exactly 0 again, which
      Adam's moments would otherwise revive).

    The update is torch's fused CPU kernel (`torch._fused_adam_`, one pass over each element), given every model's
    slice of every tensor as a tensor of its own. torch's fused kernel rounds an element differently in its vector
    body and its scalar tail, so given whole [B, ...] tensors a model's numbers would depend on its position in the
    batch (why `repro.train` does not fuse on CPU); given one model at a time they cannot
    (tests/test_lottery_ticket.py). The optimizer was half of the 40-256-256-10 nets' training step (memory-bound:
    torch.optim's foreach Adam makes 7 passes over the weights); this one costs about a quarter of that.
    """

    def __init__(
        self,
        params,
        lr: float,
        *,
        starts: Sequence[int] | None = None,
        masks: Sequence[torch.Tensor | None] | None = None,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, lr, betas, eps)  # params, hyper-parameters, moments; zero_grad and (load_)state_dict
        B = self.params[0].shape[0]
        starts = [0] * B if starts is None else [int(s) for s in starts]
        if len(starts) != B or any(p.shape[0] != B for p in self.params):
            raise ValueError(f"MaskedAdam: every parameter needs a leading model axis of {len(starts)} models")
        self.starts = starts
        self.masks = list(masks) if masks is not None else [None] * len(self.params)
        self.groups: dict[int, list[int]] = {}  # start step -> the models starting then
        for b, s in enumerate(starts):
            self.groups.setdefault(s, []).append(b)
        # per group: every model's slice of every tensor, as separate tensors (views), and one step counter each
        self._views = {
            s: [[t.detach()[b] for t in ts for b in bs] for ts in (self.params, self.exp_avg, self.exp_avg_sq)]
            for s, bs in self.groups.items()
        }
        dev = self.params[0].device  # torch's fused kernels read the step counts on the parameters' device
        self._steps = {
            s: [torch.zeros((), dtype=torch.float32, device=dev) for _ in range(len(bs) * len(self.params))]
            for s, bs in self.groups.items()
        }
        self.apply_masks_()

    @torch.no_grad()
    def apply_masks_(self) -> None:
        for p, m in zip(self.params, self.masks):
            if m is not None:
                p.mul_(m)

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        if any(p.grad is None for p in self.params):
            raise RuntimeError("MaskedAdam: every parameter needs a gradient")
        for s, bs in self.groups.items():
            t = self.steps - s
            if t <= 0:
                continue
            ps, ms, vs = self._views[s]
            grads = [p.grad[b] for p in self.params for b in bs]
            for st in self._steps[s]:
                st.fill_(t)
            torch._fused_adam_(
                ps,
                grads,
                ms,
                vs,
                [],
                self._steps[s],
                lr=self.lr,
                beta1=self.beta1,
                beta2=self.beta2,
                weight_decay=0.0,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )
        self.apply_masks_()


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


def train_level(
    init: State,
    masks: list[torch.Tensor] | None,
    order_seeds: Sequence[int],
    sizes: Sequence[int],
    train_set: Split,
    val: Split,
    test: Split,
    *,
    iterations: int,
    batch_size: int,
    lr: float,
    eval_every: int,
    snapshot_at: int | None = None,
    label: str = "level",
    names: Sequence[str] | None = None,
    starts: Sequence[int] | None = None,
) -> tuple[list[dict], State, State | None]:
    """Train B masked MLPs from `init` with Adam on minibatches; the masks are re-applied after every step.

    `starts[b]` (default 0): model b trains from iteration starts[b] to `iterations` (open_lth's rewinding: the
    rewind arm trains from j to T, T − j steps, with a fresh Adam and the data order continued from iteration j).
    Until then its loss is left out of the sum and it is not updated, and it has no rows.

    Returns (rows, final state, state at iteration `snapshot_at` or None). Rows hold, per model index
    `b`, every `eval_every` iterations from its start (and at its start and at the end): val_loss and train_loss
    (the last minibatch's); and test_acc where it is read, at the model's early-stopping iteration (the first
    minimum of val_loss; the weights there are kept) and at the end. Evaluating the test set at every record was a
    ninth of the level's time.

    The masks enter only through the optimizer (re-applied after each update), not the forward pass: the weights
    they remove are exactly 0 at every forward pass either way, and Adam is element-wise, so the kept weights get
    the same numbers as with the mask in the forward pass, in two thirds of the time.
    """
    B = len(order_seeds)
    starts = [0] * B if starts is None else [int(s) for s in starts]
    if len(starts) != B or not all(0 <= s <= iterations for s in starts):
        raise ValueError(f"starts must be one iteration in [0, {iterations}] per model, got {starts}")
    model = BatchedMLP(range(B), sizes, "relu").to(init.weights[0].device)
    with torch.no_grad():
        for p, v in zip([*model.weights, *model.biases], [*init.weights, *init.biases]):
            p.copy_(v)
    dev = init.weights[0].device
    wmasks = [m.to(dev, torch.float32) for m in masks] if masks is not None else [None] * len(model.weights)
    batches = MinibatchOrder(
        torch.arange(len(train_set.x), device=train_set.x.device), [7_919 * int(s) + 1 for s in order_seeds], batch_size
    )
    active = torch.tensor([1.0 if s == 0 else 0.0 for s in starts], device=dev)
    late = any(starts)
    state = {"loss": None, "step": 0}
    rows: list[dict] = []
    snapshot: list[State] = []

    def losses() -> torch.Tensor:
        idx = batches()
        state["step"] += 1
        logits = model(train_set.x[idx])
        loss = (
            torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), train_set.y[idx].reshape(-1), reduction="none"
            )
            .view(B, -1)
            .mean(1)
        )
        state["loss"] = loss.detach()
        if late:  # models that have not started yet: no gradient (MaskedAdam leaves them alone anyway)
            if state["step"] - 1 in starts:
                active.copy_(torch.tensor([1.0 if s < state["step"] else 0.0 for s in starts]))
            return loss * active
        return loss

    best = {
        "val": [float("inf")] * B,
        "step": [None] * B,
        "state": State([w.detach().clone() for w in model.weights], [b.detach().clone() for b in model.biases]),
    }

    def record(step: int) -> None:
        if step == snapshot_at:
            snapshot.append(State.of(model))
        due = [
            b
            for b in range(B)
            if step >= starts[b] and (step == starts[b] or step == iterations or (step - starts[b]) % eval_every == 0)
        ]
        if not due:
            return
        val_logits = model(val.x)
        val_loss = torch.stack([torch.nn.functional.cross_entropy(v, val.y) for v in val_logits]).tolist()
        for b in due:
            rows.append({"b": b, "step": step, "metric": "val_loss", "value": val_loss[b]})
            if state["loss"] is not None and step > starts[b]:
                rows.append({"b": b, "step": step, "metric": "train_loss", "value": state["loss"][b].item()})
            if val_loss[b] < best["val"][b]:  # the first minimum, as early_stops' idxmin reads it
                best["val"][b], best["step"][b] = val_loss[b], step
                for keep_, now in zip([*best["state"].weights, *best["state"].biases], [*model.weights, *model.biases]):
                    keep_[b].copy_(now[b])

    def test_acc(weights, biases) -> list[float]:
        probe = BatchedMLP(range(B), sizes, "relu").to(dev)
        with torch.no_grad():
            for p, v in zip([*probe.weights, *probe.biases], [*weights, *biases]):
                p.copy_(v)
            return (probe(test.x).argmax(-1) == test.y).double().mean(1).tolist()

    wanted = {iterations} | {s + k for s in set(starts) for k in range(0, iterations - s + 1, eval_every)}
    if snapshot_at is not None:
        wanted.add(snapshot_at)

    def optimizer(params):
        params = list(params)
        return MaskedAdam(params, lr, starts=starts, masks=[*wmasks, *[None] * (len(params) - len(wmasks))])

    with denormals_flushed():
        train(
            [*model.weights, *model.biases],
            losses,
            steps=iterations,
            optimizer=optimizer,
            record=record,
            record_steps=sorted(wanted),
            label=label,
            model_names=names,
        )
    # test accuracy where the claims read it, at each model's early-stopping iteration (the first minimum of the
    # validation loss), and at the end: 2 test passes instead of one per evaluation
    final = State.of(model)
    at_best, at_end = test_acc(best["state"].weights, best["state"].biases), test_acc(final.weights, final.biases)
    for b in range(B):
        rows.append({"b": b, "step": best["step"][b], "metric": "test_acc", "value": at_best[b]})
        if best["step"][b] != iterations:
            rows.append({"b": b, "step": iterations, "metric": "test_acc", "value": at_end[b]})
    return rows, final, (snapshot[0] if snapshot else None)
