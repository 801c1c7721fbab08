"""The networks of the lottery-ticket papers, what they prune, and how the papers trained them.

Frankle & Carbin 2019, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks"
(arXiv 1803.03635, ICLR 2019 version; "FC19" below), Figure 2 (table of architectures):

- `lenet300`: LeNet-300-100 for MNIST, fully connected 784-300-100-10 with ReLU. 266,610 parameters
  (266K in Figure 2).
- `conv2`, `conv4`, `conv6`: VGG-like CIFAR-10 networks (Simonyan & Zisserman 2015 scaled down): pairs of
  3x3 convolutions of 64, (128, (256)) channels, each pair followed by a 2x2 max-pool, then fully
  connected 256-256-10, all with ReLU and no batch norm. Convolutions keep the size ("same" padding),
  which is what makes Figure 2's weight counts come out: Conv-2 4.30M weights of which 38.6K
  convolutional ("4.3M / 38K"), Conv-4 2.43M / 260K ("2.4M / 260K"). For Conv-6 this gives
  2.26M / 1.14M; Figure 2's conv count ("1.1M") agrees, its total as recalled here ("1.7M") does not and
  could not be checked against the paper's text here (no other layout we know of gives 1.7M with 1.1M
  convolutional weights either).
- All of these use "Gaussian Glorot" initialisation (FC19 Section 2 / Figure 2 caption): weights
  N(0, 2 / (fan_in + fan_out)) with fan = channels x kernel area for convolutions, biases 0. Their
  TensorFlow code drew from a truncated normal rescaled to this same standard deviation; we draw from a
  plain normal (torch's `xavier_normal_`).

Frankle, Dziugaite, Roy & Carbin 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis"
(arXiv 1912.05671, ICML 2020; "LMC20" below), Table 1, for CIFAR-10:

- `resnet20`: He et al. 2016 ("Deep Residual Learning", arXiv 1512.03385, Section 4.2): a 3x3 conv of 16
  channels, three stages of three basic blocks (conv3x3-BN-ReLU-conv3x3-BN, add, ReLU) of 16, 32 and 64
  channels, stride 2 at the first block of stages 2 and 3, global average pool, linear to 10 classes.
  Where the shape changes the shortcut is a 1x1 conv (stride 2) + BN, as in `models/cifar_resnet.py` of
  facebookresearch/open_lth (Frankle's own LTH library), rather than He et al.'s parameter-free option A.
  272,474 parameters (about 0.27M); its 270,896 conv and linear weights (270,256 convolutional) match
  FC19 Figure 2's "271K / 270K" for the same network (called Resnet-18 there), as recalled (option A would give fewer).
- `vgg16`: the CIFAR VGG-16 of open_lth's `models/cifar_vgg.py`: 13 conv3x3 (with bias) - BN - ReLU
  layers of 64, 64, M, 128, 128, M, 256 x3, M, 512 x3, M, 512 x3 (M = 2x2 max-pool), a 2x2 average pool
  to 1x1 and one linear layer 512 -> 10. 14,728,266 parameters.
- Initialisation as open_lth's defaults for these models: He (Kaiming) normal for conv and linear
  weights (fan_in, ReLU gain). Biases are set to 0 here (open_lth leaves torch's default); BN starts at
  weight 1, bias 0 (open_lth's default `batchnorm_init='uniform'` draws BN weights from U(0, 1);
  whether LMC20's runs did so is unconfirmed).

Every `make(name, seed=...)` depends on its seed only; the global torch RNG is left as it was.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------- models


def _glorot_normal(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_normal_(m.weight)  # std = sqrt(2 / (fan_in + fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def _he_normal(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # std = sqrt(2 / fan_in)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


class LeNet(nn.Module):
    """Fully connected ReLU network on flattened 28x28 images: 784 - hidden... - classes."""

    def __init__(self, hidden: tuple[int, ...] = (300, 100), num_classes: int = 10, in_features: int = 784):
        super().__init__()
        sizes = (in_features, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.fc = nn.Linear(sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.fc(h)


class ConvNet(nn.Module):
    """FC19's Conv-2/4/6: `len(widths)` pairs of same-padded conv3x3 + ReLU, a 2x2 max-pool after each
    pair, then fully connected 256-256-classes with ReLU; no batch norm."""

    def __init__(
        self,
        widths: tuple[int, ...],
        fc: tuple[int, ...] = (256, 256),
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
    ):
        super().__init__()
        layers, c_in = [], in_channels
        for w in widths:
            layers += [
                nn.Conv2d(c_in, w, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(w, w, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c_in = w
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(widths)
        sizes = (c_in * side * side, *fc)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.fc = nn.Linear(sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).flatten(1)
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.fc(h)


class BasicBlock(nn.Module):
    """He et al. 2016's post-activation basic block; a 1x1 conv + BN shortcut where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR ResNet of depth 6 * blocks + 2 (He et al. 2016, Section 4.2), widths (w, 2w, 4w)."""

    def __init__(self, blocks: int = 3, width: int = 16, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers, c_in = [], width
        for stage in range(3):
            c_out = width * 2**stage
            for j in range(blocks):
                layers.append(BasicBlock(c_in, c_out, stride=2 if (stage > 0 and j == 0) else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(h.mean(dim=(2, 3)))  # global average pool (8x8 for 32x32 inputs)


VGG16_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class CifarVGG(nn.Module):
    """open_lth's CIFAR VGG: conv3x3 (bias) - BN - ReLU per plan entry, 'M' = 2x2 max-pool, then a 2x2
    average pool and one linear layer."""

    def __init__(self, plan: tuple = VGG16_PLAN, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        layers, c_in = [], in_channels
        for spec in plan:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c_in, spec, 3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                c_in = spec
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.features(x), 2)  # 2x2 -> 1x1 for 32x32 inputs
        return self.fc(h.flatten(1))


MODELS = {  # name -> (constructor, initialiser, input shape [C, H, W])
    "lenet300": (lambda n: LeNet((300, 100), n), _glorot_normal, (1, 28, 28)),
    "conv2": (lambda n: ConvNet((64,), num_classes=n), _glorot_normal, (3, 32, 32)),
    "conv4": (lambda n: ConvNet((64, 128), num_classes=n), _glorot_normal, (3, 32, 32)),
    "conv6": (lambda n: ConvNet((64, 128, 256), num_classes=n), _glorot_normal, (3, 32, 32)),
    "resnet20": (lambda n: CifarResNet(3, 16, n), _he_normal, (3, 32, 32)),
    "vgg16": (lambda n: CifarVGG(VGG16_PLAN, n), _he_normal, (3, 32, 32)),
}
INPUT_SHAPES = {name: shape for name, (_, _, shape) in MODELS.items()}


def make(name: str, *, seed: int | None = None, num_classes: int = 10) -> nn.Module:
    """The network `name` (one of `MODELS`), initialised as its paper did. With `seed`, the initial
    weights depend on that seed only (the global torch RNG is left as it was)."""
    if name not in MODELS:
        raise ValueError(f"unknown lottery-ticket network {name!r}; valid: {', '.join(MODELS)}")
    build, init, _ = MODELS[name]
    if seed is None:
        return init(build(num_classes))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return init(build(num_classes))


# ---------------------------------------------------------------------------------------------- pruning


def prunable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights the papers prune: every conv and linear weight (the 1x1 shortcut convs and the output
    layer included), in module order. Not biases, not batch-norm parameters."""
    return [(f"{name}.weight", m.weight) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_kinds(model: nn.Module) -> dict[str, str]:
    """For each prunable weight: 'conv', 'fc' (hidden linear) or 'output' (the last linear layer), the
    categories of `PRUNE_RATES`."""
    kinds = {name: "conv" if p.dim() == 4 else "fc" for name, p in prunable(model)}
    linear = [name for name, kind in kinds.items() if kind == "fc"]
    if linear:
        kinds[linear[-1]] = "output"
    return kinds


def prune_rates(name: str, model: nn.Module) -> dict[str, float]:
    """The fraction of the remaining weights each prunable tensor of `model` (network `name`) loses per
    round of iterative magnitude pruning. With scope 'global', tensors of the same rate are ranked together."""
    if name not in PRUNE_RATES:
        raise ValueError(f"unknown lottery-ticket network {name!r}; valid: {', '.join(PRUNE_RATES)}")
    rates = PRUNE_RATES[name]
    return {p: rates[kind] for p, kind in layer_kinds(model).items()}


# Per-round pruning rates: the fraction of the weights still present that each round removes.
# FC19 Figure 2 ("Pruning Rate" row): LeNet fc 20%, Conv-2 conv 10% / fc 20%, Conv-4 conv 10% / fc 20%,
# Conv-6 conv 15% / fc 20%, layer-wise; the output layer is pruned at half the fc rate (FC19 Section 2),
# hence 10%. The paper's text could not be opened here, so these are as recalled; corroborated by
# google-research/lottery-ticket-hypothesis `mnist_fc/constants.py` (PRUNE_PERCENTS 0.2 / 0.2 / 0.1 for
# LeNet-300-100's three layers) and by lecode-official/pytorch-lottery-ticket-hypothesis
# `source/lth/models/vgg.py` (its Conv-2/4/6 `pruning_rates`: conv 0.1 / 0.1 / 0.15, fc 0.2, output 0.1).
# ResNet-20 and VGG-16 (LMC20 Section 5 / Appendix; FC19 Section 4 for ResNet-18 and VGG-19): 20% per round,
# globally over the convolutions (FC19's table: "conv 20%, fc 0%", the output layer not pruned). open_lth's
# defaults: `sparse_global` with pruning_fraction 0.2, ignoring `fc.weight` for VGG (for its ResNet the
# default prunes fc.weight too). The output rate 0.0 is FC19's; that LMC20 also left the output layer
# unpruned is unconfirmed here.
PRUNE_RATES: dict[str, dict] = {
    "lenet300": {"scope": "layerwise", "fc": 0.2, "output": 0.1},
    "conv2": {"scope": "layerwise", "conv": 0.1, "fc": 0.2, "output": 0.1},
    "conv4": {"scope": "layerwise", "conv": 0.1, "fc": 0.2, "output": 0.1},
    "conv6": {"scope": "layerwise", "conv": 0.15, "fc": 0.2, "output": 0.1},
    "resnet20": {"scope": "global", "conv": 0.2, "output": 0.0},
    "vgg16": {"scope": "global", "conv": 0.2, "output": 0.0},
}

# Training hyperparameters as the papers state them. `iterations` are optimizer steps of `batch` examples.
# LeNet and Conv-2/4/6: FC19 Figure 2 (rows "Iterations/Batch" and "Optimizer"): Adam, LeNet 1.2e-3 for
# 50K iterations, Conv-2 2e-4 for 20K, Conv-4 3e-4 for 25K, Conv-6 3e-4 for 30K, all with batch 60 and no
# augmentation, no weight decay. The paper's text could not be opened here; these values are as recalled and
# agree with lecode-official/pytorch-lottery-ticket-hypothesis `source/lth/models/hyperparameters.py` (same
# learning rates, batch 60, and 50/20/25/30 as its training lengths) and with google-research's 50,000 LeNet
# iterations (`mnist_fc/constants.py`).
# ResNet-20 and VGG-16: LMC20 Table 1 ("standard" hyperparameters): SGD with momentum 0.9, lr 0.1 dropped
# 10x at 32K and 48K iterations, 63K iterations of batch 128, weight decay 1e-4, no warmup, standard CIFAR
# augmentation (random crop with 4-pixel padding, horizontal flip). Recalled, and consistent with open_lth's
# defaults for cifar_resnet_20 / cifar_vgg_16 (lr 0.1, momentum 0.9, weight_decay 1e-4, milestones 80 and
# 120 epochs, 160 epochs of batch 128 = 62.5K iterations); the exact iteration counts are unconfirmed.
PAPER: dict[str, dict] = {
    "lenet300": {
        "source": "FC19 Figure 2",
        "dataset": "mnist",
        "optimizer": "adam",
        "lr": 1.2e-3,
        "iterations": 50_000,
        "batch": 60,
        "weight_decay": 0.0,
        "augment": False,
    },
    "conv2": {
        "source": "FC19 Figure 2",
        "dataset": "cifar10",
        "optimizer": "adam",
        "lr": 2e-4,
        "iterations": 20_000,
        "batch": 60,
        "weight_decay": 0.0,
        "augment": False,
    },
    "conv4": {
        "source": "FC19 Figure 2",
        "dataset": "cifar10",
        "optimizer": "adam",
        "lr": 3e-4,
        "iterations": 25_000,
        "batch": 60,
        "weight_decay": 0.0,
        "augment": False,
    },
    "conv6": {
        "source": "FC19 Figure 2",
        "dataset": "cifar10",
        "optimizer": "adam",
        "lr": 3e-4,
        "iterations": 30_000,
        "batch": 60,
        "weight_decay": 0.0,
        "augment": False,
    },
    "resnet20": {
        "source": "LMC20 Table 1",
        "dataset": "cifar10",
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "lr_drops": (32_000, 48_000),
        "lr_drop_factor": 0.1,
        "iterations": 63_000,
        "batch": 128,
        "weight_decay": 1e-4,
        "warmup": 0,
        "augment": True,
    },
    "vgg16": {
        "source": "LMC20 Table 1",
        "dataset": "cifar10",
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "lr_drops": (32_000, 48_000),
        "lr_drop_factor": 0.1,
        "iterations": 63_000,
        "batch": 128,
        "weight_decay": 1e-4,
        "warmup": 0,
        "augment": True,
    },
}
