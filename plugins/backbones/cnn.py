"""A small CNN whose penultimate layer gives image features, and how it is fitted to labelled images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.runtime.device import generator_for
from ganaug.runtime.seeds import derive_seed


class FeatureCnn(nn.Module):
    """Three stride-2 convolutions, global average pooling and a ``dim``-wide layer (the features),
    then a linear classifier used only to fit them."""

    def __init__(self, channels: int, classes: int, dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(dim, max(classes, 1))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def build_cnn(channels: int, classes: int, dim: int, width: int, seed: int) -> FeatureCnn:
    """The network initialised from ``seed`` (the global RNG is left where it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "backbone-init"))
        return FeatureCnn(channels, classes, dim, width)


def fit_classifier(
    net: FeatureCnn,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    lr: float,
    seed: int,
    batch_size: int = 32,
) -> float:
    """Train ``net`` to tell the labels apart (cross-entropy, Adam, seeded order); return its accuracy
    on those images after training."""
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator_for(derive_seed(seed, "backbone", epoch)))
        for start in range(0, len(images), batch_size):
            index = order[start : start + batch_size].to(images.device)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(images[index]), labels[index]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return float((net(images).argmax(dim=1) == labels).float().mean())
