"""Turning image tensors in [-1, 1] into PNG files and grids (atomically written)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganaug.runtime.io import atomic_path


def to_uint8(image: Tensor) -> np.ndarray:
    """``[C,H,W]`` in [-1, 1] -> ``H x W`` (grayscale) or ``H x W x 3`` uint8 array."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))


def from_uint8(array: np.ndarray) -> Tensor:
    """Inverse of :func:`to_uint8`: ``H x W`` or ``H x W x C`` uint8 -> ``[C,H,W]`` in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(array)).float()
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return tensor / 127.5 - 1.0


def save_png(image: Tensor, path: str | Path) -> Path:
    """Write one ``[C,H,W]`` image as a PNG (grayscale stays one channel)."""
    final = Path(path)
    with atomic_path(final) as tmp:
        Image.fromarray(to_uint8(image)).save(tmp, format="PNG")
    return final


def load_png(path: str | Path, channels: int) -> Tensor:
    """Read a PNG written by :func:`save_png` back into ``[C,H,W]`` in [-1, 1]."""
    with Image.open(path) as img:
        array = np.array(img.convert("L" if channels == 1 else "RGB"))
    return from_uint8(array)


def grid(images: Tensor | Sequence[Tensor], nrow: int | None = None, pad: int = 2) -> Tensor:
    """Tile ``[N,C,H,W]`` images into one ``[C, H', W']`` image with ``pad`` pixels of -1 between."""
    batch = torch.stack(list(images)) if not isinstance(images, Tensor) else images
    n, c, h, w = batch.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = torch.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), -1.0)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        out[:, top : top + h, left : left + w] = batch[i].detach().float().cpu()
    return out


def save_grid(images: Tensor | Sequence[Tensor], path: str | Path, nrow: int | None = None) -> Path:
    """Write a grid of images as one PNG."""
    return save_png(grid(images, nrow), path)
