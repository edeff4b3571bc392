"""Registers the built-in GAN losses: ``least-squares`` (the paper's MSE) and ``bce``."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug.api.validators import probability
from ganaug_plugins.losses.gan import BceLoss, LeastSquaresLoss


@attrs.frozen
class LeastSquaresOptions:
    """Options of the least-squares loss: the targets of its squared error."""

    real_target: float = option(1.0, help="D's target for real logits, and G's for fake ones")
    fake_target: float = option(0.0, help="D's target for fake logits")


@attrs.frozen
class BceOptions:
    """Options of the binary cross-entropy loss."""

    real_label: float = option(
        1.0,
        validator=probability,
        help="D's target for real images, in (0, 1] (below 1: one-sided label smoothing)",
    )


def build_least_squares(options: LeastSquaresOptions) -> LeastSquaresLoss:
    """Least-squares (MSE) GAN loss."""
    return LeastSquaresLoss(options.real_target, options.fake_target)


def build_bce(options: BceOptions) -> BceLoss:
    """Binary cross-entropy GAN loss with a non-saturating generator loss."""
    return BceLoss(options.real_label)


@hookimpl
def register_gan_losses(register: Register) -> None:
    register(
        "least-squares",
        build_least_squares,
        options=LeastSquaresOptions,
        description="Least-squares (MSE) loss for D and G, as in the IAGAN paper",
    )
    register(
        "bce",
        build_bce,
        options=BceOptions,
        description="Minimax binary cross-entropy loss, non-saturating for G (DCGAN/AnoGAN)",
    )
