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
