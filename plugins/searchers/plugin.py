"""Registers the built-in latent searchers: batched back-propagation (AnoGAN / IAGAN search) and the
encoder's one-pass inversion with an optional warm-started search (f-AnoGAN)."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from ganaug_plugins.searchers.encoder import EncoderSearchOptions, encoder_searcher


@hookimpl
def register_latent_searchers(register: Register) -> None:
    register(
        "backprop",
        BackpropSearcher,
        options=BackpropOptions,
        description="Batched back-propagation search of z per image (residual + feature loss)",
    )
    register(
        "encoder",
        encoder_searcher,
        options=EncoderSearchOptions,
        description="z = E(x) from the model's encoder, then optionally N steps of a search from there",
    )
