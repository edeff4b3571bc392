"""Toy networks with known behaviour for search, augment and evaluation tests (16x16, latent 6):
a generator whose images lie on a low-dimensional manifold (it can reproduce those, not noise), a
conditional one, and a one-convolution discriminator. Weights are seeded without touching the
global random state."""

from __future__ import annotations

import torch
from torch import Tensor, nn

SIZE, LATENT = 16, 6


class SubspaceGenerator(nn.Module):
    """Images on a low-dimensional smooth manifold: it can reproduce those, not noise."""

    latent_dim, conditional = LATENT, False

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.map = nn.Linear(LATENT, SIZE * SIZE)

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        return torch.tanh(self.map(z)).view(-1, 1, SIZE, SIZE)


class ConditionalToyGenerator(nn.Module):
    """A conditional generator: mixes a smooth image from z with a blurred copy of x."""

    latent_dim, conditional = LATENT, True

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.map = nn.Linear(LATENT, SIZE * SIZE)
        self.blur = nn.AvgPool2d(3, 1, 1)

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        if x is None:
            raise ValueError("this generator is conditional: pass x")
        return torch.tanh(self.map(z).view(-1, 1, SIZE, SIZE) + self.blur(x))


class ConvDiscriminator(nn.Module):
    """One strided convolution as the feature layer, a linear head as the logit."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            self.features = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2))
            self.head = nn.Linear(4 * 8 * 8, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.features(x)
        return self.head(f.flatten(1)).flatten(), f
