"""Registers the IAGAN generator and discriminator (``iagan``) with their recipe options."""

from __future__ import annotations

import attrs
from attrs import validators as v

from ganaug.hookspecs import Register, hookimpl
from ganaug.interfaces import ImageSpec
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator
from ganaug_plugins.models.iagan.generator import IaganGenerator


def _multiple_of_8(_: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 8 or value % 8:
        raise ValueError(f"{attribute.name} must be a positive multiple of 8, got {value}")


@attrs.frozen
class IaganGeneratorOptions:
    """``z_dim``: noise size (the paper's 125); ``width``: feature maps at 32x32 (4x that at 8x8).

    Levers against copying the conditioning image (off by default = the paper's architecture as
    we read it): ``code_dim`` squeezes the encoded image to a vector of that many numbers before it
    meets z; ``code_dropout`` (probability) and ``code_noise`` (standard deviation) perturb the
    encoded image while training."""

    z_dim: int = attrs.field(default=125, validator=attrs.validators.ge(1))
    width: int = attrs.field(default=64, validator=_multiple_of_8)
    code_dim: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    code_dropout: float = attrs.field(default=0.0, validator=[v.ge(0.0), v.lt(1.0)])
    code_noise: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))


@attrs.frozen
class IaganDiscriminatorOptions:
    """``width``: feature maps of the first of the four convolution layers (doubling after)."""

    width: int = attrs.field(default=64, validator=attrs.validators.ge(1))


def build_generator(options: IaganGeneratorOptions, image: ImageSpec) -> IaganGenerator:
    """The IAGAN generator G(z, x) for ``image``-shaped images."""
    return IaganGenerator(
        image,
        z_dim=options.z_dim,
        width=options.width,
        code_dim=options.code_dim,
        code_dropout=options.code_dropout,
        code_noise=options.code_noise,
    )


def build_discriminator(options: IaganDiscriminatorOptions, image: ImageSpec) -> IaganDiscriminator:
    """The IAGAN 4-layer CNN discriminator for ``image``-shaped images."""
    return IaganDiscriminator(image, width=options.width)


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "iagan",
        build_generator,
        options=IaganGeneratorOptions,
        description="IAGAN generator G(z, x): attention encoder, projected z, inception/residual decoder",
    )


@hookimpl
def register_discriminators(register: Register) -> None:
    register(
        "iagan",
        build_discriminator,
        options=IaganDiscriminatorOptions,
        description="IAGAN discriminator: 4-layer CNN, logit and last-conv features",
    )
