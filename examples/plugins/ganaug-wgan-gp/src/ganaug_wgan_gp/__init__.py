"""ganaug-wgan-gp: the WGAN-GP adversarial loss as a ganaug plugin (``loss = {name = "wgan-gp"}``)."""

from __future__ import annotations

from ganaug_wgan_gp.loss import WganGp, WganGpOptions

__version__ = "0.1.0"

__all__ = ["WganGp", "WganGpOptions", "__version__"]
