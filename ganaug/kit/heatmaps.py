"""Residual heatmaps: where a model's reconstruction ``G(z*)`` differs from the image.

Each file shows three panels side by side: the image, the reconstruction, and ``|x - G(z*)|``
(mean over channels) as a colour map laid over the image. The colour scale is fixed, 0 to
``scale`` in the images' units (the value range is 2 wide), so heatmaps of different images and
calls compare; larger differences saturate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganaug.runtime.io import atomic_path

#: Panels are enlarged (nearest neighbour) to at least this many pixels a side.
MIN_SIDE = 128
GAP = 4


def file_stem(text: str) -> str:
    """A file-name-safe form of an image or method name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "image"


def _rgb(image: Tensor) -> np.ndarray:
    """``[C, H, W]`` in [-1, 1] -> ``H x W x 3`` floats in [0, 1]."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
    return np.repeat(array, 3, axis=0).transpose(1, 2, 0) if array.shape[0] == 1 else array.transpose(1, 2, 0)


def overlay(image: Tensor, reconstruction: Tensor, scale: float = 1.0, alpha: float = 0.6) -> np.ndarray:
    """The three panels as one ``uint8`` RGB array (image | reconstruction | heatmap over image)."""
    heat = (image.float().cpu() - reconstruction.float().cpu()).abs().mean(0).numpy()
    colours = matplotlib.colormaps["inferno"](np.clip(heat / scale, 0.0, 1.0))[..., :3]
    base = _rgb(image)
    blended = (1 - alpha) * base + alpha * colours
    panels = [base, _rgb(reconstruction), blended]
    h, w = base.shape[:2]
    zoom = max(1, -(-MIN_SIDE // max(h, w)))
    gap = np.ones((h * zoom, GAP, 3))
    big = [np.kron(p, np.ones((zoom, zoom, 1))) for p in panels]
    row = np.concatenate([big[0], gap, big[1], gap, big[2]], axis=1)
    return (row * 255).round().clip(0, 255).astype(np.uint8)


def write_heatmaps(
    images: Tensor,
    reconstructions: Tensor,
    names: Sequence[str],
    folder: Path,
    method: str,
    scale: float = 1.0,
) -> list[Path]:
    """One PNG per image, ``NNNNN-<name>-<method>.png`` in ``folder``; returns the paths."""
    paths: list[Path] = []
    for i, (image, recon) in enumerate(zip(images, reconstructions.to(torch.float32), strict=True)):
        stem = file_stem(Path(names[i]).stem)
        path = folder / f"{i:05d}-{stem}-{file_stem(method)}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(overlay(image, recon, scale)).save(tmp, format="PNG")
        paths.append(path)
    return paths
