"""The WGAN-GP loss (Gulrajani et al. 2017): a critic on raw scores plus a gradient penalty.

The discriminator is used as a critic: its logits are unbounded scores, higher for real images.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn


@attrs.frozen
class WganGpOptions:
    """``loss = {name = "wgan-gp", gp_weight = 10.0, seed = 0}``."""

    gp_weight: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    seed: int = attrs.field(default=0, validator=attrs.validators.ge(0))


class WganGp:
    """Critic loss ``mean(fake) - mean(real)``, generator loss ``-fake`` per sample, and the
    gradient penalty on random interpolates between real and generated images."""

    def __init__(self, options: WganGpOptions) -> None:
        self.options = options
        # A private stream for the interpolation weights: the run's other draws are not shifted,
        # and the same seed gives the same penalties on every device (drawn on the CPU).
        self._random = torch.Generator().manual_seed(options.seed)

    def state_dict(self) -> dict[str, Tensor]:
        """The random stream's position, so a checkpoint can resume the same interpolates."""
        return {"random": self._random.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self._random.set_state(state["random"])

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits

    def discriminator_penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        """``gp_weight * mean((||grad_x D(x_hat)||_2 - 1)^2)`` with ``x_hat`` between real and fake."""
        real, fake = real.detach(), fake.detach()
        alpha = torch.rand(real.shape[0], 1, 1, 1, generator=self._random).to(real.device, real.dtype)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        logits, _features = discriminator(mixed)
        (grad,) = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
        norms = grad.flatten(1).norm(2, dim=1)
        return self.options.gp_weight * ((norms - 1) ** 2).mean()
