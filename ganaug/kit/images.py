"""The generic image reader: files and folders named by a user, read as a run's data source
described its preprocessing (:class:`ganaug.api.preprocessing.Preprocessing`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from ganaug.api.capabilities import DescribesPreprocessing
from ganaug.api.preprocessing import Preprocessing, record
from ganaug.runtime.errors import DataError

#: File endings taken as images when a folder is given (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm", ".ppm")


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


def read_image(path: Path, prep: Preprocessing) -> Tensor:
    """Read ``path`` into ``[C, size, size]`` on ``prep.value_range`` (the generic reader).

    Pillow's conversion to ``L`` or ``RGB`` (transparency composited onto black), EXIF rotation,
    then ``prep.resize`` with bicubic resampling. Raises :class:`UnreadableImage`.
    """
    mode = "L" if prep.channels == 1 else "RGB"
    try:
        with Image.open(path) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            alpha = upright.mode in ("RGBA", "LA", "PA")
            if alpha or (upright.mode == "P" and "transparency" in upright.info):
                flat = Image.new("RGBA", upright.size, (0, 0, 0, 255))
                flat.alpha_composite(upright.convert("RGBA"))
                upright = flat
            if upright.mode == "F" and not np.isfinite(np.asarray(upright)).all():
                raise ValueError("the image holds NaN or infinite pixel values")
            converted = upright.convert(mode)
    except FileNotFoundError:
        raise UnreadableImage(path, "no such file") from None
    except IsADirectoryError:
        raise UnreadableImage(path, "a folder, not an image file") from None
    except Image.UnidentifiedImageError:
        raise UnreadableImage(path, "not an image file Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(path, f"corrupt or unsupported image ({exc})") from None
    array = np.asarray(fit(converted, prep.size, prep.resize), dtype=np.uint8)
    return to_range(array[None] if array.ndim == 2 else array.transpose(2, 0, 1), prep.value_range)


def fit(img: Image.Image, size: int, resize: str) -> Image.Image:
    """Bring ``img`` to ``size`` x ``size``: centre crop, pad with black, or stretch."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    if resize == "stretch" or w == h:
        return img.resize((size, size), Image.Resampling.BICUBIC)
    if resize == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    scale = size / max(w, h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = Image.new(img.mode, (size, size), 0)
    offset = ((size - inner[0]) // 2, (size - inner[1]) // 2)
    canvas.paste(img.resize(inner, Image.Resampling.BICUBIC), offset)
    return canvas


def to_range(array: np.ndarray, value_range: Sequence[float] = (-1.0, 1.0)) -> Tensor:
    """``uint8 [C, H, W]`` -> float32 mapped linearly so that 0 -> low and 255 -> high."""
    low, high = float(value_range[0]), float(value_range[1])
    tensor = torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32)
    if (low, high) == (-1.0, 1.0):
        return tensor.div_(127.5).sub_(1.0)  # the data sources' own arithmetic, bit for bit
    return tensor.mul_((high - low) / 255.0).add_(low)


def record_source(folder: Path, source: object, name: str) -> Path | None:
    """Record what data source ``name`` describes of its preprocessing (if anything) in ``folder``."""
    described = source.preprocessing() if isinstance(source, DescribesPreprocessing) else None
    return record(folder, attrs.evolve(described, source=name)) if described is not None else None
