"""Registers the built-in regularizers of D: ``r1`` and ``lecam``."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug.api.validators import below_one, positive
from ganaug_plugins.regularizers.regularizers import LeCamPenalty, R1Penalty


@attrs.frozen
class R1Options:
    """Options of the R1 gradient penalty."""

    gamma: float = option(
        10.0, validator=positive, help="penalty weight gamma (the term is gamma / 2 * E|grad|^2)"
    )
    every: int = option(
        1, validator=attrs.validators.ge(1), help="steps between evaluations (lazy R1, scaled by this)"
    )


@attrs.frozen
class LeCamOptions:
    """Options of the LeCam regulariser."""

    weight: float = option(0.3, validator=positive, help="weight lambda of the term in D's loss")
    decay: float = option(0.99, validator=below_one, help="decay of the moving averages of D's logits")


def build_r1(options: R1Options) -> R1Penalty:
    """R1: the squared gradient norm of D at real images."""
    return R1Penalty(options.gamma, options.every)


def build_lecam(options: LeCamOptions) -> LeCamPenalty:
    """LeCam: D's logits held near moving averages of their past values."""
    return LeCamPenalty(options.weight, options.decay)


@hookimpl
def register_regularizers(register: Register) -> None:
    register("r1", build_r1, options=R1Options, description="R1 gradient penalty of D at real images (gamma)")
    register(
        "lecam",
        build_lecam,
        options=LeCamOptions,
        description="LeCam regulariser: D's logits near moving averages of their past (limited data)",
    )
