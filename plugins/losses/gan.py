"""Adversarial losses on raw discriminator logits: least squares (the paper's MSE) and BCE."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganaug.api.networks import flat_logits


class LeastSquaresLoss:
    """LSGAN / the paper's MSE: D pushes real logits to ``real_target`` and fake ones to
    ``fake_target``; G pushes fake logits to ``real_target``."""

    def __init__(self, real_target: float = 1.0, fake_target: float = 0.0) -> None:
        self.real_target = real_target
        self.fake_target = fake_target

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real = (flat_logits(real_logits) - self.real_target).pow(2).mean()
        fake = (flat_logits(fake_logits) - self.fake_target).pow(2).mean()
        return 0.5 * (real + fake)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return (flat_logits(fake_logits) - self.real_target).pow(2)


class BceLoss:
    """The minimax GAN loss with binary cross-entropy on logits; G uses the non-saturating form
    ``-log D(G(z))``. ``real_label`` below 1 gives one-sided label smoothing."""

    def __init__(self, real_label: float = 1.0) -> None:
        self.real_label = real_label

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real, fake = flat_logits(real_logits), flat_logits(fake_logits)
        real_loss = F.binary_cross_entropy_with_logits(real, real.new_full(real.shape, self.real_label))
        fake_loss = F.binary_cross_entropy_with_logits(fake, fake.new_zeros(fake.shape))
        return real_loss + fake_loss

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        # -log(sigmoid(l)) == softplus(-l), computed stably.
        return F.softplus(-flat_logits(fake_logits))
