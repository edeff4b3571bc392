"""Registers the loss weighters: ``ssim`` (the paper's SSIM dissimilarity) and ``none``."""

from __future__ import annotations

from typing import Literal

import attrs
import torch
from torch import Tensor

from ganaug.hookspecs import Register, hookimpl
from ganaug_plugins.weighters.ssim import ssim, to_unit


@attrs.frozen
class SsimWeighterOptions:
    """``mode``: ``detached`` (the paper's reading: a per-sample constant weight on G's loss) or
    ``differentiable`` (G also gets the gradient of the weight, pushing it towards dissimilarity)."""

    mode: Literal["detached", "differentiable"] = "detached"


class SsimWeighter:
    """Weight ``1 - (SSIM(x_i, G(z_i, x_i)) + 1) / 2`` per sample: 0 for a copy of the input,
    about 0.5 for an unrelated image, so G is rewarded less for reproducing its input."""

    def __init__(self, mode: str = "detached") -> None:
        self.mode = mode

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        if self.mode == "detached":
            with torch.no_grad():
                return self._weights(real, fake)
        return self._weights(real, fake)

    @staticmethod
    def _weights(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - (ssim(to_unit(real), to_unit(fake)) + 1) / 2


class NoWeighter:
    """Every sample weighs 1: plain GAN training (DCGAN/AnoGAN)."""

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return torch.ones(fake.shape[0], device=fake.device, dtype=fake.dtype)


def build_ssim(options: SsimWeighterOptions) -> SsimWeighter:
    """The SSIM dissimilarity weighter."""
    return SsimWeighter(options.mode)


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
