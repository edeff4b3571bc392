"""New image files read as the built-in sources read their data, and that preprocessing described.

What ``ganaug score`` and ``ganaug generate`` use (:mod:`ganaug.api.preprocessing`): the same
:func:`~.decode.decode_image` and the same uint8 -> [-1, 1] mapping as the sources' own images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ganaug.api.preprocessing import Preprocessing
from ganaug.kit.images import UnreadableImage as Unreadable
from ganaug_plugins.data.bundle import to_tensor
from ganaug_plugins.data.decode import Preprocess, UnreadableImage, decode_image

RULES = (
    "EXIF rotation applied; grayscale converted straight to L; transparency composited onto black; "
    "16-bit grayscale scaled to 8 bits; bicubic resampling"
)


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
    """One image file as ``[C, size, size]`` in [-1, 1], decoded as the source decodes its own."""
    try:
        array = decode_image(Path(path), prep)
    except UnreadableImage as exc:
        raise Unreadable(path, exc.reason) from None
    except IsADirectoryError:
        raise Unreadable(path, "a folder, not an image file") from None
    return to_tensor(np.array(array[None]))[0]  # a writable copy, as the sources' stacked arrays
