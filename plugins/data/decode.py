"""Reading one image file into a fixed-size 8-bit array: EXIF rotation, mode, resize.

Every source ends in the same place: ``uint8`` arrays ``[C, S, S]`` (C = 1 grayscale or 3 RGB),
mapped to [-1, 1] only when the split tensors are made. Mode rules, chosen once for all files:

- grayscale targets convert straight to ``L`` (never through RGB);
- transparency (RGBA, LA, PA, palette with a transparent colour) is composited onto black, so a
  transparent background reads as -1, like the black background of X-rays and digits;
- 16-bit grayscale (``I;16*``) maps 0..65535 linearly to 0..255; 32-bit ``I`` does the same when its
  values exceed 255 (else it is taken as 8-bit); float ``F`` in [0, 1] is scaled by 255, other
  float ranges are stretched from their own min..max;
- CMYK, YCbCr, 1-bit and palette images use Pillow's conversions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
import numpy as np
from PIL import Image, ImageOps

ResizeMode = Literal["crop", "pad", "stretch"]

#: File name endings treated as images (compared case-insensitively).
DEFAULT_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".tif",
    ".tiff",
    ".gif",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
)

_RESAMPLE = Image.Resampling.BICUBIC
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


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


class UnreadableImage(Exception):
    """A file could not be decoded as an image; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(path: Path, prep: Preprocess) -> np.ndarray:
    """Read ``path`` into a ``uint8`` array ``[C, size, size]``; raise :class:`UnreadableImage`."""
    try:
        with Image.open(path) as img:
            if img.format == "JPEG":
                # Let the JPEG decoder scale down by 1/2..1/8 while keeping >= 2x the target.
                img.draft(prep.mode, (2 * prep.size, 2 * prep.size))
            img.load()
            upright = ImageOps.exif_transpose(img)
            converted = to_mode(upright, prep.mode)
    except Image.UnidentifiedImageError:
        raise UnreadableImage("not an image file Pillow can read") from None
    except FileNotFoundError:
        raise UnreadableImage("the file is gone (a broken link, or removed while loading)") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(_reason(exc)) from None
    return to_chw(fit(converted, prep))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated or corrupt image data ({text})"
    return f"corrupt or unsupported image ({text})"


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow mode to ``L`` or ``RGB`` following the rules in the module docstring."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        return _on_black(img, mode)
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    return img if img.mode == mode else img.convert(mode)


def _on_black(img: Image.Image, mode: str) -> Image.Image:
    """Composite an image with alpha onto black (premultiply), giving ``mode`` without alpha."""
    with_alpha = img.convert("LA" if mode == "L" else "RGBA")
    colour = np.asarray(with_alpha, dtype=np.float32)
    out = colour[..., :-1] * (colour[..., -1:] / 255.0)
    array = np.rint(out).clip(0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array[..., 0] if mode == "L" else array))


def _to_8bit(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float grayscale -> 8-bit ``L``."""
    values = np.asarray(img, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("the image holds NaN or infinite pixel values")
    if img.mode.startswith("I;16"):
        scaled = values / 257.0
    elif img.mode == "F":
        lo, hi = float(values.min(initial=0.0)), float(values.max(initial=0.0))
        unit = lo >= 0.0 and hi <= 1.0
        scaled = values * 255.0 if unit else (values - lo) / (hi - lo or 1.0) * 255.0
    else:  # "I": 8-bit values kept, larger ones read as 16-bit
        scaled = values if values.max(initial=0) <= 255 else values.clip(0, 65535) / 257.0
    return Image.fromarray(np.rint(scaled).clip(0, 255).astype(np.uint8))


def fit(img: Image.Image, prep: Preprocess) -> Image.Image:
    """Resize to ``size`` x ``size``: centre crop, pad with black, or stretch (``prep.resize``)."""
    size = prep.size
    w, h = img.size
    if (w, h) == (size, size):
        return img
    if prep.resize == "stretch" or w == h:
        return img.resize((size, size), _RESAMPLE, reducing_gap=3.0)
    if prep.resize == "crop":  # crop first, so no pixel outside the square bleeds in
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        square = img.crop((left, top, left + side, top + side))
        return square.resize((size, size), _RESAMPLE, reducing_gap=3.0)
    scale = size / max(w, h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = Image.new(img.mode, (size, size), 0)
    canvas.paste(
        img.resize(inner, _RESAMPLE, reducing_gap=3.0), ((size - inner[0]) // 2, (size - inner[1]) // 2)
    )
    return canvas


def to_chw(img: Image.Image) -> np.ndarray:
    """An ``L`` or ``RGB`` image as a ``uint8`` array ``[C, H, W]``."""
    array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def resize_gray(array: np.ndarray, size: int) -> np.ndarray:
    """Resize one square ``uint8`` grayscale digit ``[H, W]`` to ``[1, size, size]``."""
    img = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    return to_chw(fit(img, Preprocess(size=size, channels=1, resize="stretch")))
