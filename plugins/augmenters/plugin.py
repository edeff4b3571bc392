"""Registers the built-in augmenters: ``diffaugment`` and ``ada``."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug.api.validators import unit_interval
from ganaug_plugins.augmenters.augmenters import AdaptiveAugment, DiffAugment, ops_for

POLICIES = ("color", "translation", "cutout", "affine")
#: DiffAugment's own policy, the default (``affine`` is ours, for classical augmentation)
DEFAULT_POLICY = ("color", "translation", "cutout")


def _policy(_: object, attribute: attrs.Attribute, value: list[str]) -> None:
    unknown = [name for name in value if name not in POLICIES]
    if unknown or not value:
        raise ValueError(f"expected a non-empty list of {', '.join(POLICIES)}; got {value}")


@attrs.frozen
class DiffAugmentOptions:
    """Options of DiffAugment: which ops, and how far they go."""

    policy: list[str] = option(
        factory=lambda: list(DEFAULT_POLICY),
        validator=_policy,
        help="ops in order: color (brightness, contrast; saturation on colour images), translation, "
        "cutout, affine (small rotation and scaling; not in DiffAugment)",
    )
    translation_ratio: float = option(
        0.125, validator=unit_interval, help="largest shift, as a share of the size"
    )
    cutout_ratio: float = option(
        0.5, validator=unit_interval, help="side of the cut-out square, as a share of the size"
    )
    rotation: float = option(
        10.0,
        validator=[attrs.validators.ge(0.0), attrs.validators.le(180.0)],
        help="affine: largest rotation, degrees either way",
    )
    scale: float = option(
        0.1,
        validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)],
        help="affine: scale factor drawn from U(1 - scale, 1 + scale)",
    )
    fill: float = option(
        0.0, help="value of the pixels shifted in and cut out (0: mid-grey in [-1, 1], DiffAugment's)"
    )


@attrs.frozen
class AdaOptions(DiffAugmentOptions):
    """Options of ADA: DiffAugment's ops, each with the adaptive probability p."""

    target: float = option(
        0.6, validator=unit_interval, help="the r_t = E[sign(D(real))] that p is steered to (ADA's 0.6)"
    )
    speed: int = option(
        10_000,
        validator=attrs.validators.ge(1),
        help="real images over which p can move from 0 to 1 (StyleGAN2-ADA: 500,000, for runs of "
        "millions of images; ours see about 10,000)",
    )
    interval: int = option(4, validator=attrs.validators.ge(1), help="D steps between adjustments of p")
    initial_p: float = option(0.0, validator=unit_interval, help="p at the first step")
    max_p: float = option(1.0, validator=unit_interval, help="p is kept at or below this")


def _ops(options: DiffAugmentOptions) -> list:
    """The ops the options' policy names, in order."""
    o = options
    return ops_for(o.policy, o.translation_ratio, o.cutout_ratio, o.fill, o.rotation, o.scale)


def build_diffaugment(options: DiffAugmentOptions) -> DiffAugment:
    """DiffAugment (Zhao et al., 2020): the same differentiable ops on real and generated images."""
    return DiffAugment(_ops(options))


def build_ada(options: AdaOptions) -> AdaptiveAugment:
    """ADA (Karras et al., 2020): DiffAugment's ops, each applied with a p steered by D's overfitting."""
    return AdaptiveAugment(
        _ops(options),
        target=options.target,
        speed=options.speed,
        interval=options.interval,
        initial_p=options.initial_p,
        max_p=options.max_p,
    )


@hookimpl
def register_augmenters(register: Register) -> None:
    register(
        "diffaugment",
        build_diffaugment,
        options=DiffAugmentOptions,
        description="DiffAugment: colour, translation and cut-out on every image D sees, real and fake",
    )
    register(
        "ada",
        build_ada,
        options=AdaOptions,
        description="Adaptive augmentation: DiffAugment's ops with a probability p steered by r_t",
    )
