"""The built-in sources' image settings on the kit's one decoder (:mod:`ganaug.kit.images`).

Every source ends in the same place: ``uint8`` arrays ``[C, S, S]`` (C = 1 grayscale or 3 RGB),
mapped to [-1, 1] only when the split tensors are made. The mode, alpha, bit-depth and resize rules
are the kit's; this module keeps only what the sources add: their :class:`Preprocess` record (part
of the decoded cache's key) and the resizing of in-memory digits (``idx``, ``mnist-5k``).
"""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np
from PIL import Image

from ganaug.kit.images import IMAGE_EXTENSIONS, UnreadableImage, decode_image, fit, to_chw

__all__ = ["DEFAULT_EXTENSIONS", "Preprocess", "ResizeMode", "UnreadableImage", "decode_image", "resize_gray"]

ResizeMode = Literal["crop", "pad", "stretch"]

#: File name endings treated as images (compared case-insensitively): the kit's list.
DEFAULT_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS


@attrs.frozen
class Preprocess:
    """How every image is brought to one shape: ``channels`` x ``size`` x ``size``."""

    size: int = attrs.field(default=64, validator=[attrs.validators.ge(4), attrs.validators.le(4096)])
    channels: Literal[1, 3] = attrs.field(default=1, validator=attrs.validators.in_((1, 3)))
    resize: ResizeMode = attrs.field(
        default="crop", validator=attrs.validators.in_(("crop", "pad", "stretch"))
    )

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"


def resize_gray(array: np.ndarray, size: int) -> np.ndarray:
    """Resize one square ``uint8`` grayscale digit ``[H, W]`` to ``[1, size, size]`` (stretched, as
    the kit's decoder resizes a file)."""
    img = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    return to_chw(fit(img, size, "stretch"))
