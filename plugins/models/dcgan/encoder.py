"""DCGAN-style encoder E(x) -> z (f-AnoGAN's encoder), for any power-of-two image size.

The discriminator's layout: stride-2 4x4 convolutions ``width``-2x-4x... (BatchNorm after the first,
LeakyReLU 0.2) down to 4x4, then a 4x4 convolution to ``latent_dim`` numbers, unbounded (the
generators' prior is a standard normal).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganaug.api.interfaces import ImageSpec
from ganaug_plugins.models.dcgan.networks import _layers, init_weights


class DcganEncoder(nn.Module):
    """``forward(x) -> z[N, latent_dim]``."""

    def __init__(self, image: ImageSpec, latent_dim: int, width: int = 64) -> None:
        super().__init__()
        steps = _layers(image)
        self.image = image
        self.latent_dim = latent_dim
        layers: list[nn.Module] = [nn.Conv2d(image.channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        channels = width
        for _ in range(steps - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2),
            ]
            channels *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, latent_dim, 4, 1, 0)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).flatten(1)
