"""DCGAN generator and discriminator (the AnoGAN architecture), for any power-of-two image size.

At 64x64: G maps z through 4x4 transposed convolutions to 512x4x4 -> 256x8x8 -> 128x16x16 ->
64x32x32 -> Cx64x64 (BatchNorm + ReLU, tanh); D mirrors it with stride-2 4x4 convolutions
64-128-256-512 (LeakyReLU 0.2) and a 4x4 convolution to one logit. Other sizes add or drop
layers; ``width`` is the channel count next to the image (64 above).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import apply_spectral_norm


def _layers(image: ImageSpec) -> int:
    """Number of 2x resolution steps between 4x4 and the image (4 at 64x64)."""
    size = image.size
    if size < 8 or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= 8, got {size}")
    return int(math.log2(size)) - 2


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: convolutions N(0, 0.02), BatchNorm scale N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DcganGenerator(nn.Module):
    """``forward(z, x=None) -> image``; unconditional, so ``x`` is ignored. ``spectral_norm``
    wraps every (transposed) convolution with spectral normalisation."""

    conditional = False

    def __init__(
        self, image: ImageSpec, latent_dim: int = 100, width: int = 64, spectral_norm: bool = False
    ) -> None:
        super().__init__()
        steps = _layers(image)
        self.image = image
        self.latent_dim = latent_dim
        channels = width * 2 ** (steps - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
        ]
        for _ in range(steps - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, image.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DcganDiscriminator(nn.Module):
    """``forward(x) -> (logits[N], features)``; features = the last convolution block's output.
    ``spectral_norm`` wraps every convolution with spectral normalisation."""

    def __init__(self, image: ImageSpec, width: int = 64, spectral_norm: bool = False) -> None:
        super().__init__()
        steps = _layers(image)
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
        self.head = nn.Conv2d(channels, 1, 4, 1, 0, bias=False)
        init_weights(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return self.head(features).view(-1), features
