"""Registers the loss weighters: ``ssim`` (the paper's SSIM dissimilarity) and ``none``."""

from __future__ import annotations

from typing import Literal

import attrs
import torch
from torch import Tensor

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug.numeric.ssim import ssim, to_unit


@attrs.frozen
class SsimWeighterOptions:
    """Options of the SSIM weighter, w = 1 - (SSIM(x, G(z, x)) + 1) / 2 per sample on G's loss
    (``differentiable`` keeps w's gradient, which *raises* SSIM: kept to reproduce that reading)."""

    mode: Literal["detached", "differentiable", "dissimilar"] = option(
        "detached",
        help="detached: constant weight, ~0 for a copy of x (the paper); differentiable: w with its "
        "gradient; dissimilar: detached plus alpha * (SSIM + 1) / 2, whose gradient lowers SSIM",
    )
    alpha: float = option(
        0.1, validator=attrs.validators.ge(0.0), help="weight of the anti-copy term in dissimilar mode"
    )


class SsimWeighter:
    """Weight ``1 - (SSIM(x_i, G(z_i, x_i)) + 1) / 2`` per sample: 0 for a copy of the input,
    about 0.5 for an unrelated image (see :class:`SsimWeighterOptions` for the modes)."""

    def __init__(self, mode: str = "detached", alpha: float = 0.1) -> None:
        self.mode, self.alpha = mode, alpha

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        if self.mode == "differentiable":
            return self._weights(real, fake)
        with torch.no_grad():
            return self._weights(real, fake)

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor | None:
        """Per-sample term added to G's weighted loss: ``alpha * (SSIM + 1) / 2`` in ``dissimilar``
        mode (its gradient lowers SSIM), else None."""
        if self.mode != "dissimilar":
            return None
        return self.alpha * (ssim(to_unit(real), to_unit(fake)) + 1) / 2

    @staticmethod
    def _weights(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - (ssim(to_unit(real), to_unit(fake)) + 1) / 2


class NoWeighter:
    """Every sample weighs 1: plain GAN training (DCGAN/AnoGAN)."""

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return torch.ones(fake.shape[0], device=fake.device, dtype=fake.dtype)

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor | None:
        return None


def build_ssim(options: SsimWeighterOptions) -> SsimWeighter:
    """The SSIM dissimilarity weighter."""
    return SsimWeighter(options.mode, options.alpha)


def build_none(options: object) -> NoWeighter:
    """No weighting."""
    return NoWeighter()


@hookimpl
def register_loss_weighters(register: Register) -> None:
    register(
        "ssim",
        build_ssim,
        options=SsimWeighterOptions,
        description="SSIM dissimilarity 1 - (SSIM(x, G(z, x)) + 1) / 2 per sample (IAGAN paper)",
    )
    register("none", build_none, description="Weight 1 for every sample (no weighting)")
