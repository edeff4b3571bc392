"""Test builders for the data-source tests: image files of many modes, folder trees, IDX files."""

from __future__ import annotations

import gzip
import logging
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from ganaug.api.context import DataContext


def data_context(tmp: Path, seed: int = 0) -> DataContext:
    """A DataContext whose cache and report folders live under ``tmp``."""
    log = logging.getLogger("t")
    return DataContext(seed=seed, cache_dir=tmp / "cache", report_dir=tmp / "report", log=log)


def gray_image(path: Path, value: int, size: tuple[int, int] = (24, 18), fmt: str | None = None) -> Path:
    """A flat grayscale image of ``value`` (``size`` is width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path, format=fmt)
    return path


def noise_image(path: Path, seed: int, size: tuple[int, int] = (30, 20), mode: str = "RGB") -> Path:
    """A random image (so different files decode to different arrays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def tree(root: Path, counts: dict[str, dict[str, int]], ext: str = ".png") -> Path:
    """``root/<split>/<class>/<class>_<split>_<i><ext>`` with ``counts[split][class]`` images."""
    seed = 0
    for split, per_class in counts.items():
        for cls, n in per_class.items():
            for i in range(n):
                seed += 1
                noise_image(root / split / cls / f"{cls}_{split}_{i}{ext}", seed, (20 + i % 3, 16), "L")
    return root


def truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half: Pillow opens it but cannot decode it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, format="JPEG", quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """An unsigned-byte IDX file (gzip-compressed by default) holding ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path
