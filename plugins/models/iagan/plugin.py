"""Registers the IAGAN generator and discriminator (``iagan``) with their recipe options."""

from __future__ import annotations

import attrs
from attrs import validators as v

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSpec
from ganaug.api.options import option
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator, IaganPairDiscriminator
from ganaug_plugins.models.iagan.generator import IaganGenerator


def _multiple_of_8(_: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 8 or value % 8:
        raise ValueError(f"{attribute.name} must be a positive multiple of 8, got {value}")


@attrs.frozen
class IaganGeneratorOptions:
    """Options of the IAGAN generator; the ``code_*`` levers against copying the conditioning
    image are off by default (the paper's architecture as we read it)."""

    latent_dim: int = option(
        125, validator=v.ge(1), renamed_from="z_dim", help="size of the noise vector z (the paper's 125)"
    )
    width: int = option(
        64, validator=_multiple_of_8, help="feature maps at 32x32, 4x that at 8x8 (a multiple of 8)"
    )
    code_dim: int | None = option(
        None,
        validator=v.optional(v.ge(1)),
        help="squeeze the encoded image to a vector of this many numbers before it meets z (unset: off)",
    )
    code_dropout: float = option(
        0.0,
        validator=[v.ge(0.0), v.lt(1.0)],
        help="dropout probability on the encoded image while training (0: off)",
    )
    code_noise: float = option(
        0.0,
        validator=v.ge(0.0),
        help="std of Gaussian noise added to the encoded image while training (0: off)",
    )
    spectral_norm: bool = option(
        False,
        help="spectral normalisation on every convolution and linear layer (off, as in the paper)",
    )


@attrs.frozen
class IaganDiscriminatorOptions:
    """Options of the IAGAN discriminator (a 4-layer CNN)."""

    width: int = option(
        64,
        validator=v.ge(1),
        help="feature maps of the first of the four convolution layers (doubling after)",
    )
    spectral_norm: bool = option(
        False,
        help="spectral normalisation on every convolution and the head (off, as in the paper)",
    )
    pairs: bool = option(
        False,
        help="judge (image, conditioning image) pairs, DAGAN's discriminator: (another real image, x) "
        "is real, (G(z, x), x) fake, so copying x is easy to reject (off: the paper's D)",
    )


def build_generator(options: IaganGeneratorOptions, image: ImageSpec) -> IaganGenerator:
    """The IAGAN generator G(z, x) for ``image``-shaped images."""
    return IaganGenerator(
        image,
        latent_dim=options.latent_dim,
        width=options.width,
        code_dim=options.code_dim,
        code_dropout=options.code_dropout,
        code_noise=options.code_noise,
        spectral_norm=options.spectral_norm,
    )


def build_discriminator(options: IaganDiscriminatorOptions, image: ImageSpec) -> IaganDiscriminator:
    """The IAGAN 4-layer CNN discriminator for ``image``-shaped images (a pair discriminator with
    ``pairs``)."""
    kind = IaganPairDiscriminator if options.pairs else IaganDiscriminator
    return kind(image, width=options.width, spectral_norm=options.spectral_norm)


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
