"""The one image decoder: an image file turned into ``uint8 [C, S, S]`` (then a tensor on a value
range) under a preprocessing description. The built-in data sources decode their own files with it
and ``ganaug score``/``generate`` read new files with it, so both see an image the same way.

Rules, the same for every file and every caller (C = 1 grayscale, 3 RGB; S the side):

- EXIF orientation is applied first; a JPEG is decoded at a reduced scale (libjpeg's 1/2..1/8, never
  below 2 x S), and a colour JPEG asked for as grayscale is decoded straight to its luma (``draft``);
- grayscale targets convert straight to ``L`` (never through RGB);
- transparency (RGBA, LA, PA, RGBa, La, palette with a transparent colour) is composited onto black:
  converted to LA or RGBA, colour times alpha / 255 in float, rounded to nearest; so a transparent
  background reads as black;
- 16-bit grayscale (``I;16*``) maps 0..65535 linearly to 0..255 (v / 257); 32-bit ``I`` does the same
  when a value exceeds 255 (else it is taken as 8-bit); float ``F`` in [0, 1] is scaled by 255, other
  float images are stretched from min(0, lowest)..max(0, highest); all rounded to nearest; NaN or
  infinite values make a file unreadable;
- CMYK, YCbCr, 1-bit and palette images use Pillow's conversions;
- to a square: centre ``crop``, ``pad`` with black (image centred), or ``stretch``; bicubic resampling
  with ``reducing_gap=3`` (a large reduction first box-averages by a whole factor);
- uint8 ``v`` -> ``low + v * (high - low) / 255`` on ``value_range`` ([-1, 1]: ``v / 127.5 - 1``).

Up to 0.2.0 the generic reader (:func:`read_image`) had rules of its own; it now follows these, the
data sources' (what changed for it: CHANGELOG.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import attrs
import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from ganaug.api.capabilities import DescribesPreprocessing
from ganaug.api.preprocessing import Preprocessing, record
from ganaug.runtime.errors import DataError

#: File endings taken as images (compared case-insensitively): a folder's images for ``ganaug
#: score``, and the ``folder`` source's default ``extensions``.
IMAGE_EXTENSIONS: tuple[str, ...] = (
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

#: The rules above in one line, as data sources describe them in ``data/preprocessing.json``
#: (kept word for word: a run's recorded description is compared with today's).
RULES = (
    "EXIF rotation applied; grayscale converted straight to L; transparency composited onto black; "
    "16-bit grayscale scaled to 8 bits; bicubic resampling"
)

_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 3.0
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


class Target(Protocol):
    """What the decoder needs of a preprocessing description: side, channels and resize rule
    (:class:`~ganaug.api.preprocessing.Preprocessing` has them, and so may a source's own record)."""

    @property
    def size(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def resize(self) -> str: ...


class UnreadableImage(DataError):
    """An image file that cannot be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def image_files(items: Iterable[str | Path]) -> list[Path]:
    """The files ``items`` name: files as given, folders expanded to the images under them
    (sorted; hidden files skipped). A name that does not exist is kept (reading it then fails)."""
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            inside = [
                p
                for p in sorted(path.rglob("*"))
                if (p.is_file() or p.is_symlink())  # a dangling or looping link: named when read fails
                and p.suffix.lower() in IMAGE_EXTENSIONS
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            if not inside:
                raise DataError(f"{path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            found += inside
        else:
            found.append(path)
    return found


def decode_image(path: Path | str, prep: Target) -> np.ndarray:
    """Read ``path`` into ``uint8 [channels, size, size]`` by the module's rules (the data sources'
    decoder); raise :class:`UnreadableImage` with a short reason."""
    mode = "L" if prep.channels == 1 else "RGB"
    try:
        with Image.open(path) as img:
            if img.format == "JPEG":
                # Let the JPEG decoder scale down by 1/2..1/8 while keeping >= 2x the target.
                img.draft(mode, (2 * prep.size, 2 * prep.size))
            img.load()
            converted = to_mode(ImageOps.exif_transpose(img), mode)
    except Image.UnidentifiedImageError:
        raise UnreadableImage(path, "not an image file Pillow can read") from None
    except FileNotFoundError:
        raise UnreadableImage(path, "the file is gone (a broken link, or removed while loading)") from None
    except IsADirectoryError:
        raise UnreadableImage(path, "a folder, not an image file") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(path, _reason(exc)) from None
    return to_chw(fit(converted, prep.size, prep.resize))


def read_image(path: Path | str, prep: Preprocessing) -> Tensor:
    """Read ``path`` into float32 ``[C, size, size]`` on ``prep.value_range``: :func:`decode_image`,
    then :func:`to_range`. Raises :class:`UnreadableImage`."""
    return to_range(decode_image(path, prep), prep.value_range)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated or corrupt image data ({text})"
    return f"corrupt or unsupported image ({text})"


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow mode to ``L`` or ``RGB`` by the module's rules."""
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


def fit(img: Image.Image, size: int, resize: str) -> Image.Image:
    """Bring ``img`` to ``size`` x ``size``: centre crop, pad with black, or stretch (``resize``)."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    if resize == "stretch" or w == h:
        return img.resize((size, size), _RESAMPLE, reducing_gap=_REDUCING_GAP)
    if resize == "crop":  # crop first, so no pixel outside the square bleeds in
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        square = img.crop((left, top, left + side, top + side))
        return square.resize((size, size), _RESAMPLE, reducing_gap=_REDUCING_GAP)
    scale = size / max(w, h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = Image.new(img.mode, (size, size), 0)
    canvas.paste(
        img.resize(inner, _RESAMPLE, reducing_gap=_REDUCING_GAP),
        ((size - inner[0]) // 2, (size - inner[1]) // 2),
    )
    return canvas


def to_chw(img: Image.Image) -> np.ndarray:
    """An ``L`` or ``RGB`` image as a ``uint8`` array ``[C, H, W]``."""
    array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def to_range(array: np.ndarray, value_range: Sequence[float] = (-1.0, 1.0)) -> Tensor:
    """``uint8`` array -> float32 tensor mapped linearly so that 0 -> low and 255 -> high."""
    low, high = float(value_range[0]), float(value_range[1])
    # a writable, contiguous copy when needed: torch warns on (and may not write to) read-only memory
    tensor = torch.from_numpy(np.require(array, requirements=["C", "W"])).to(torch.float32)
    if (low, high) == (-1.0, 1.0):
        return tensor.div_(127.5).sub_(1.0)  # the data sources' own arithmetic, bit for bit
    return tensor.mul_((high - low) / 255.0).add_(low)


def record_source(folder: Path, source: object, name: str) -> Path | None:
    """Record what data source ``name`` describes of its preprocessing (if anything) in ``folder``."""
    described = source.preprocessing() if isinstance(source, DescribesPreprocessing) else None
    return record(folder, attrs.evolve(described, source=name)) if described is not None else None
