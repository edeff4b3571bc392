"""Helpers for testing ganaug plugins: isolated plugin hosts, tiny data and networks, tiny
recipes, and contract checks for each component kind (see docs/plugins.md, "Testing a plugin").

Everything here is small and seeded, so a plugin's tests run in seconds on a CPU and give the
same numbers every time.
"""

from __future__ import annotations

from ganaug.testing.checks import (
    check_augmenter,
    check_backbone,
    check_component,
    check_data_source,
    check_discriminator,
    check_encoder,
    check_gan_loss,
    check_generator,
    check_latent_searcher,
    check_loss_weighter,
    check_options,
    check_regularizer,
)
from ganaug.testing.hosts import plugin_host, registered
from ganaug.testing.tiny import (
    TINY,
    TinyDiscriminator,
    TinyEncoder,
    TinyGenerator,
    TinyNetOptions,
    TinyPlugin,
    TinySource,
    TinySourceOptions,
    recipe_from,
    run_text,
    tiny_bundle,
    tiny_images,
    tiny_recipe,
)
from ganaug.testing.toys import ConditionalToyGenerator, ConvDiscriminator, SubspaceGenerator

__all__ = [
    "TINY",
    "ConditionalToyGenerator",
    "ConvDiscriminator",
    "SubspaceGenerator",
    "TinyDiscriminator",
    "TinyEncoder",
    "TinyGenerator",
    "TinyNetOptions",
    "TinyPlugin",
    "TinySource",
    "TinySourceOptions",
    "check_augmenter",
    "check_backbone",
    "check_component",
    "check_data_source",
    "check_discriminator",
    "check_encoder",
    "check_gan_loss",
    "check_generator",
    "check_latent_searcher",
    "check_loss_weighter",
    "check_options",
    "check_regularizer",
    "plugin_host",
    "recipe_from",
    "registered",
    "run_text",
    "tiny_bundle",
    "tiny_images",
    "tiny_recipe",
]
