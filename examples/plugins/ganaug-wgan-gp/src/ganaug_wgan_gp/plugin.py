"""The plugin module named by the ``ganaug`` entry point: registers the ``wgan-gp`` GAN loss."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_wgan_gp.loss import WganGp, WganGpOptions


@hookimpl
def register_gan_losses(register: Register) -> None:
    register(
        "wgan-gp",
        WganGp,
        options=WganGpOptions,
        description="Wasserstein loss with gradient penalty (critic on raw logits)",
    )
