"""IAGAN's generator: G(z, x) from a noise vector and an input image (paper Figure 1).

The image x is encoded by strided convolutions and a self-attention layer (at 16x16; at 8x8 for
16x16 images) down to an 8x8 map; z is projected to a map of the same size; both are concatenated
and decoded by inception blocks and upsampling residual blocks to an image in [-1, 1].

The 8x8 map holds more numbers than a 32x32 image, so by default G can (and does) copy x. The paper
speaks of a "lower-dimensional representation": ``code_dim`` squeezes the encoded image through a
vector of that many numbers (as DAGAN does), and ``code_dropout``/``code_noise`` perturb what
reaches the decoder while training, so that z has to carry part of the image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import apply_spectral_norm
from ganaug_plugins.models.iagan.blocks import (
    SLOPE,
    DownBlock,
    InceptionBlock,
    ResidualUpBlock,
    SelfAttention,
)

#: Resolution of the bottleneck where the encoded image meets the projected noise.
BOTTLENECK = 8
#: Resolution of the encoder's self-attention layer (low, so the attention map stays small).
ATTENTION = 16


def check_size(image: ImageSpec, smallest: int = 16) -> None:
    """Refuse image sizes the networks cannot halve down to their bottleneck."""
    size = image.size
    if size < smallest or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= {smallest}, got {size}")


def channels_at(width: int, resolution: int) -> int:
    """Feature maps at a resolution: ``4*width`` at 8x8, halving with each doubling (min 8)."""
    return max(8, (width * 32 // resolution) // 8 * 8)


def _resolutions(size: int) -> list[int]:
    """Halving steps from ``size/2`` down to the bottleneck: ``[32, 16, 8]`` for 64x64."""
    out, r = [], size // 2
    while r >= BOTTLENECK:
        out.append(r)
        r //= 2
    return out


class ImageEncoder(nn.Module):
    """Strided convolutions with self-attention at 16x16: ``x[N,C,S,S] -> [N, 4*width, 8, 8]``."""

    def __init__(self, image: ImageSpec, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = image.channels
        for i, r in enumerate(_resolutions(image.size)):
            cout = channels_at(width, r)
            layers.append(DownBlock(cin, cout, norm=i > 0))
            if r == min(ATTENTION, image.size // 2):
                layers.append(SelfAttention(cout))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ConditionCode(nn.Module):
    """The encoded image squeezed to a ``code_dim`` vector (or kept as a map when ``code_dim`` is
    None), with dropout and Gaussian noise while training, then spread back to the 8x8 map."""

    def __init__(self, channels: int, code_dim: int | None, dropout: float, noise: float) -> None:
        super().__init__()
        size = channels * BOTTLENECK * BOTTLENECK
        self.channels, self.noise = channels, noise
        self.squeeze = nn.Linear(size, code_dim) if code_dim is not None else None
        self.expand = nn.Linear(code_dim, size, bias=False) if code_dim is not None else None
        self.expand_norm = nn.BatchNorm2d(channels) if code_dim is not None else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.act = nn.LeakyReLU(SLOPE)

    def forward(self, encoded: Tensor) -> Tensor:
        code = self.squeeze(encoded.flatten(1)) if self.squeeze is not None else encoded
        code = self.dropout(code)
        if self.training and self.noise > 0:
            code = code + self.noise * torch.randn_like(code)
        if self.expand is None or self.expand_norm is None:
            return code
        spread = self.expand(code).view(code.shape[0], self.channels, BOTTLENECK, BOTTLENECK)
        return self.act(self.expand_norm(spread))


class IaganGenerator(nn.Module):
    """``forward(z, x) -> image``: conditional generator with a ``latent_dim``-sized z;
    ``spectral_norm`` wraps every convolution and linear layer with spectral normalisation."""

    conditional = True

    def __init__(
        self,
        image: ImageSpec,
        latent_dim: int = 125,
        width: int = 64,
        code_dim: int | None = None,
        code_dropout: float = 0.0,
        code_noise: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_size(image)
        self.image = image
        self.latent_dim = latent_dim
        self.encoder = ImageEncoder(image, width)
        base = self.encoder.out_channels
        self.code = ConditionCode(base, code_dim, code_dropout, code_noise)
        self.project = nn.Linear(latent_dim, base * BOTTLENECK * BOTTLENECK, bias=False)
        self.project_norm = nn.BatchNorm2d(base)
        blocks: list[nn.Module] = [InceptionBlock(2 * base, base)]
        cin = base
        for r in reversed(_resolutions(image.size)[:-1]):
            cout = channels_at(width, r)
            blocks += [ResidualUpBlock(cin, cout), InceptionBlock(cout, cout)]
            cin = cout
        self.decoder = nn.Sequential(*blocks)
        # The last doubling: nearest upsampling and a 3x3 convolution straight to the image. A
        # full-resolution residual block would cost more than the rest of the network, and a
        # transposed convolution here leaves a checkerboard (and trained less stably in tests).
        self.to_image = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, image.channels, 3, padding=1),
            nn.Tanh(),
        )
        self.act = nn.LeakyReLU(SLOPE)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        if x is None:
            raise ValueError("the IAGAN generator is conditional: call it as G(z, x) with input images x")
        encoded = self.code(self.encoder(x))
        noise = self.project(z.flatten(1)).view(z.shape[0], -1, BOTTLENECK, BOTTLENECK)
        noise = self.act(self.project_norm(noise))
        return self.to_image(self.decoder(torch.cat([encoded, noise], dim=1)))
