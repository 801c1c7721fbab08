"""Iterative magnitude pruning on batched MLPs: masks, pruning, controls, and one level's training.

Every tensor here has a leading model axis B: the arms (reset, rewind, reinit, random) and seeds of a
level train together in one `BatchedMLP`, each with its own mask, initial weights and minibatch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from repro.nn.batched import BatchedMLP
from repro.train import MinibatchOrder, adam, train


def magnitude_prune(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                    rates: Sequence[float]) -> list[torch.Tensor]:
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
        return State([torch.cat(ws) for ws in zip(*(s.weights for s in states))],
                     [torch.cat(bs) for bs in zip(*(s.biases for s in states))])


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


def train_level(init: State, masks: list[torch.Tensor] | None, order_seeds: Sequence[int], sizes: Sequence[int],
                train_set: Split, val: Split, test: Split, *, iterations: int, batch_size: int, lr: float,
                eval_every: int, snapshot_at: int | None = None, label: str = "level",
                names: Sequence[str] | None = None) -> tuple[list[dict], State, State | None]:
    """Train B masked MLPs from `init` with Adam on minibatches; the masks are re-applied after every step.

    Returns (rows, final state, state at iteration `snapshot_at` or None). Rows hold, per model index
    `b`, every `eval_every` iterations: val_loss, test_acc and train_loss (the last minibatch's).
    """
    B = len(order_seeds)
    model = BatchedMLP(range(B), sizes, "relu").to(init.weights[0].device)
    with torch.no_grad():
        for p, v in zip([*model.weights, *model.biases], [*init.weights, *init.biases]):
            p.copy_(v)
    if masks is not None:
        model.set_masks(masks)
    batches = MinibatchOrder(torch.arange(len(train_set.x), device=train_set.x.device),
                             [7_919 * int(s) + 1 for s in order_seeds], batch_size)
    state = {"loss": None}
    rows: list[dict] = []
    snapshot: list[State] = []

    def losses() -> torch.Tensor:
        idx = batches()
        logits = model(train_set.x[idx])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), train_set.y[idx].reshape(-1),
                                                 reduction="none").view(B, -1).mean(1)
        state["loss"] = loss.detach()
        return loss

    def record(step: int) -> None:
        if step == snapshot_at:
            snapshot.append(State.of(model))
        if step % eval_every and step != iterations:
            return
        val_logits = model(val.x)
        val_loss = torch.stack([torch.nn.functional.cross_entropy(v, val.y) for v in val_logits])
        acc = (model(test.x).argmax(-1) == test.y).double().mean(1)
        for b in range(B):
            rows.append({"b": b, "step": step, "metric": "val_loss", "value": val_loss[b].item()})
            rows.append({"b": b, "step": step, "metric": "test_acc", "value": acc[b].item()})
            if state["loss"] is not None:
                rows.append({"b": b, "step": step, "metric": "train_loss", "value": state["loss"][b].item()})

    wanted = set(range(0, iterations + 1, eval_every)) | {iterations}
    if snapshot_at is not None:
        wanted.add(snapshot_at)
    train(model.parameters(), losses, steps=iterations, optimizer=adam(lr),
          record=record, record_steps=sorted(wanted), label=label, model_names=names,
          after_step=model.apply_masks_ if masks is not None else None)
    return rows, State.of(model), (snapshot[0] if snapshot else None)
