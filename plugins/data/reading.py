"""New image files read as the built-in sources read their data, and that preprocessing described.

What ``ganaug score`` and ``ganaug generate`` use (:mod:`ganaug.api.preprocessing`): the kit's one
decoder (:func:`ganaug.kit.images.read_image`), which the sources decode their own files with, and
the same uint8 -> [-1, 1] mapping as the sources' own images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from ganaug.api.preprocessing import Preprocessing
from ganaug.kit.images import RULES, read_image
from ganaug_plugins.data.decode import Preprocess

__all__ = ["RULES", "describe", "gray", "read_file"]


def gray(size: int) -> Preprocess:
    """How the digit sources (``idx``, ``mnist-5k``) resize: grayscale, stretched to ``size``."""
    return Preprocess(size=size, channels=1, resize="stretch")


def describe(prep: Preprocess, **details: Any) -> Preprocessing:
    """The :class:`~ganaug.api.preprocessing.Preprocessing` record of a :class:`~.decode.Preprocess`."""
    return Preprocessing(
        size=prep.size,
        channels=prep.channels,
        resize=prep.resize,
        value_range=(-1.0, 1.0),
        details={"decoder": "Pillow", "rules": RULES, **details},
    )


def read_file(path: Path, prep: Preprocess) -> Tensor:
    """One image file as ``[C, size, size]`` in [-1, 1], decoded as the source decodes its own;
    raises :class:`ganaug.kit.images.UnreadableImage`."""
    return read_image(Path(path), describe(prep))
