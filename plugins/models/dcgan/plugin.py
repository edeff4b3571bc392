"""Registers the DCGAN generator and discriminator (``dcgan``, the AnoGAN architecture)."""

from __future__ import annotations

import attrs

from ganaug.hookspecs import Register, hookimpl
from ganaug.interfaces import ImageSpec
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator


@attrs.frozen
class DcganGeneratorOptions:
    """``z_dim``: noise size (100, as in DCGAN/AnoGAN); ``width``: channels of the last hidden
    layer, doubling towards the 4x4 start (64 gives 512 at 4x4 for 64x64 images)."""

    z_dim: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    width: int = attrs.field(default=64, validator=attrs.validators.ge(1))


@attrs.frozen
class DcganDiscriminatorOptions:
    """``width``: channels of the first convolution, doubling per layer (64-128-256-512 at 64x64)."""

    width: int = attrs.field(default=64, validator=attrs.validators.ge(1))


def build_generator(options: DcganGeneratorOptions, image: ImageSpec) -> DcganGenerator:
    """The DCGAN generator G(z) for ``image``-shaped images."""
    return DcganGenerator(image, z_dim=options.z_dim, width=options.width)


def build_discriminator(options: DcganDiscriminatorOptions, image: ImageSpec) -> DcganDiscriminator:
    """The DCGAN discriminator for ``image``-shaped images."""
    return DcganDiscriminator(image, width=options.width)


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "dcgan",
        build_generator,
        options=DcganGeneratorOptions,
        description="DCGAN generator G(z) (AnoGAN): transposed convolutions, BatchNorm, tanh",
    )


@hookimpl
def register_discriminators(register: Register) -> None:
    register(
        "dcgan",
        build_discriminator,
        options=DcganDiscriminatorOptions,
        description="DCGAN discriminator (AnoGAN): strided convolutions, last-conv features",
    )
