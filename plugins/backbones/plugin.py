"""Registers the built-in backbones: ``classifier-cnn`` and ``random-cnn``."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug.api.validators import at_least_one
from ganaug_plugins.backbones.backbones import ClassifierCnn, RandomCnn


@attrs.frozen
class CnnOptions:
    """Options of the small feature CNN."""

    dim: int = option(64, validator=at_least_one, help="width of the feature layer")
    width: int = option(32, validator=at_least_one, help="channels of the first convolution (doubling twice)")
    epochs: int = option(
        30, validator=at_least_one, help="training epochs on the fit images (classifier-cnn)"
    )
    lr: float = option(1e-3, validator=attrs.validators.gt(0), help="Adam learning rate (classifier-cnn)")


def build_classifier(options: CnnOptions) -> ClassifierCnn:
    """A small CNN trained to classify the fit images; its penultimate layer is the feature."""
    return ClassifierCnn(options.dim, options.width, options.epochs, options.lr)


def build_random(options: CnnOptions) -> RandomCnn:
    """The same CNN, untrained (seeded): a floor for the fitted backbone's numbers."""
    return RandomCnn(options.dim, options.width, options.epochs, options.lr)


@hookimpl
def register_backbones(register: Register) -> None:
    register(
        "classifier-cnn",
        build_classifier,
        options=CnnOptions,
        description="Small CNN fitted to classify the run's own labelled images (no download)",
    )
    register(
        "random-cnn",
        build_random,
        options=CnnOptions,
        description="The same CNN untrained and seeded: a floor for the fitted features",
    )
