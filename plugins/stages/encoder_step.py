"""One training step of an encoder E against a frozen G and D (f-AnoGAN, Schlegl et al. 2019).

``izi_f``: ``mean (x - G(E(x)))^2 + k * mean (f(x) - f(G(E(x))))^2`` with f the discriminator's
features; ``izi``: the first term alone; ``ziz``: ``mean (z - E(G(z)))^2`` on generated images. A
conditional generator gets the real batch as its conditioning images, so E sees that image.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ganaug.api.networks import generate

EncoderLoss = Literal["izi_f", "izi", "ziz"]
STATS = ("loss", "residual", "feature")


def izi_terms(
    encoder: nn.Module, generator: nn.Module, discriminator: nn.Module, x: Tensor, features: bool
) -> tuple[Tensor, Tensor]:
    """Per-image ``mean (x - G(E(x)))^2`` and (``features``) ``mean (f(x) - f(G(E(x))))^2``, ``[N]`` each."""
    fake = generate(generator, encoder(x), x)
    residual = (x - fake).pow(2).flatten(1).mean(1)
    if not features:
        return residual, torch.zeros_like(residual)
    with torch.no_grad():
        _, fx = discriminator(x)
    _, f_fake = discriminator(fake)
    return residual, (fx - f_fake).pow(2).flatten(1).mean(1)


def ziz_term(encoder: nn.Module, generator: nn.Module, x: Tensor, z: Tensor) -> Tensor:
    """Per-image ``mean (z - E(G(z)))^2`` ``[N]`` (``x``: conditioning images for a conditional G)."""
    with torch.no_grad():
        fake = generate(generator, z, x)
    return (encoder(fake) - z).pow(2).mean(1)


class EncoderStep:
    """Updates E on one batch; G and D must be frozen by the caller (``ganaug.api.networks.frozen``)."""

    def __init__(
        self,
        encoder: nn.Module,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer: Optimizer,
        loss: EncoderLoss,
        feature_weight: float,
    ) -> None:
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.optimizer, self.loss, self.feature_weight = optimizer, loss, feature_weight

    def terms(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The batch's loss (scalar) and its two per-image terms."""
        if self.loss == "ziz":
            residual = ziz_term(self.encoder, self.generator, x, z)
            feature = torch.zeros_like(residual)
        else:
            features = self.loss == "izi_f"
            residual, feature = izi_terms(self.encoder, self.generator, self.discriminator, x, features)
        return (residual + self.feature_weight * feature).mean(), residual, feature

    def __call__(self, x: Tensor, z: Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        total, residual, feature = self.terms(x, z)
        total.backward()
        self.optimizer.step()
        with torch.no_grad():  # one host transfer for the three figures
            stats = torch.stack([total.detach(), residual.mean(), feature.mean()]).float().tolist()
        return dict(zip(STATS, (float(v) for v in stats), strict=True))
