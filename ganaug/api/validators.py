"""Validators that options classes share (attrs ``validator=``), each with the message a recipe gets."""

from __future__ import annotations

import math
import re
from typing import Any

import attrs


def finite_positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    """A number > 0 that is not infinite (a learning rate, a weight)."""
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"must be a finite number > 0, got {value}")


def not_empty(_: object, attribute: attrs.Attribute, value: Any) -> None:
    """A list that names at least one thing."""
    if len(value) == 0:
        raise ValueError("must name at least one")


def method_name(_: object, attribute: attrs.Attribute, value: str) -> None:
    """A score-table method name: letters, digits or ``_ . + -`` (it names score rows and files)."""
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", value):
        raise ValueError(f"must be letters, digits or _ . + - (it names score rows), got {value!r}")


#: an integer option of at least one (epochs, batch size, steps, chunk sizes)
at_least_one = attrs.validators.ge(1)


def positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    """A number > 0 (a penalty weight)."""
    if not value > 0:
        raise ValueError(f"must be > 0, got {value}")


def unit_interval(_: object, attribute: attrs.Attribute, value: float) -> None:
    """A number in [0, 1] (a probability that may be 0 or 1)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be in [0, 1], got {value}")


def below_one(_: object, attribute: attrs.Attribute, value: float) -> None:
    """A number in [0, 1) (a decay: 0 keeps nothing, 1 would never move)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"must be in [0, 1), got {value}")


def probability(_: object, attribute: attrs.Attribute, value: float) -> None:
    """A number in (0, 1] (a target label, a share that cannot be 0)."""
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value}")


def betas(_: object, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    """Adam's two betas, each in [0, 1)."""
    if not all(0.0 <= b < 1.0 for b in value):
        raise ValueError(f"both betas must be in [0, 1), got {list(value)}")
