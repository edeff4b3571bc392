"""Registers the DCGAN generator, discriminator and encoder (``dcgan``, the AnoGAN architecture)."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSpec
from ganaug.api.options import option
from ganaug_plugins.models.dcgan.encoder import DcganEncoder
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator


@attrs.frozen
class DcganGeneratorOptions:
    """Options of the DCGAN generator (the DCGAN/AnoGAN architecture)."""

    latent_dim: int = option(
        100,
        validator=attrs.validators.ge(1),
        renamed_from="z_dim",
        help="size of the noise vector z (100, as in DCGAN/AnoGAN)",
    )
    width: int = option(
        64,
        validator=attrs.validators.ge(1),
        help="channels of the last hidden layer, doubling towards the 4x4 start (64: 512 at 4x4 for 64x64)",
    )
    spectral_norm: bool = option(
        False,
        help="spectral normalisation on every transposed convolution (off, as in DCGAN)",
    )


@attrs.frozen
class DcganDiscriminatorOptions:
    """Options of the DCGAN discriminator (the DCGAN/AnoGAN architecture)."""

    width: int = option(
        64,
        validator=attrs.validators.ge(1),
        help="channels of the first convolution, doubling per layer (64-128-256-512 at 64x64)",
    )
    spectral_norm: bool = option(
        False,
        help="spectral normalisation on every convolution, a Lipschitz bound on D (off, as in DCGAN)",
    )


@attrs.frozen
class DcganEncoderOptions:
    """Options of the DCGAN-style encoder (f-AnoGAN's: the discriminator's layout, z out)."""

    width: int = option(
        64,
        validator=attrs.validators.ge(1),
        help="channels of the first convolution, doubling per layer (as the dcgan discriminator's)",
    )


def build_generator(options: DcganGeneratorOptions, image: ImageSpec) -> DcganGenerator:
    """The DCGAN generator G(z) for ``image``-shaped images."""
    return DcganGenerator(
        image, latent_dim=options.latent_dim, width=options.width, spectral_norm=options.spectral_norm
    )


def build_discriminator(options: DcganDiscriminatorOptions, image: ImageSpec) -> DcganDiscriminator:
    """The DCGAN discriminator for ``image``-shaped images."""
    return DcganDiscriminator(image, width=options.width, spectral_norm=options.spectral_norm)


def build_encoder(options: DcganEncoderOptions, image: ImageSpec, latent_dim: int) -> DcganEncoder:
    """The DCGAN-style encoder E(x) -> z for ``image``-shaped images and ``latent_dim`` codes."""
    return DcganEncoder(image, latent_dim=latent_dim, width=options.width)


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


@hookimpl
def register_encoders(register: Register) -> None:
    register(
        "dcgan",
        build_encoder,
        options=DcganEncoderOptions,
        description="DCGAN-style encoder E(x) -> z (f-AnoGAN): strided convolutions, BatchNorm",
    )
