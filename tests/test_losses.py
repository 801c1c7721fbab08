"""repro.nn.losses against torch's cross-entropy: the same values and gradients, model by model."""

import torch

from repro.nn.losses import cross_entropy_per_model


def test_cross_entropy_per_model_equals_torch():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 4, 50, 10, generator=g) * 20).requires_grad_()  # large logits: the max shift matters
    y = torch.randint(0, 10, (4, 50), generator=g)  # shared by the 3 leading groups, as the width sweep's labels
    mine = cross_entropy_per_model(logits, y)
    ref = (
        torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y.repeat(3, 1).reshape(-1), reduction="none")
        .view(3, 4, 50)
        .mean(-1)
    )
    assert mine.shape == (3, 4) and torch.allclose(mine, ref, rtol=1e-6, atol=1e-5)
    w = torch.randn(3, 4, generator=g)
    (g_mine,) = torch.autograd.grad((mine * w).sum(), logits)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), logits)
    assert torch.allclose(g_mine, g_ref, atol=1e-7)
    # a wrong label changes the loss: the gather reads the right class
    assert not torch.allclose(cross_entropy_per_model(logits, (y + 1) % 10), mine)
