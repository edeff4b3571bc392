"""Registers the built-in latent searcher: batched back-propagation (AnoGAN / IAGAN search)."""

from __future__ import annotations

from ganaug.hookspecs import Register, hookimpl
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher


@hookimpl
def register_latent_searchers(register: Register) -> None:
    register(
        "backprop",
        BackpropSearcher,
        options=BackpropOptions,
        description="Batched back-propagation search of z per image (residual + feature loss)",
    )
