"""From decoded ``uint8`` arrays to the :class:`DataBundle` a source returns; skipped-file report."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ganaug.api.context import DataContext
from ganaug.api.interfaces import DataBundle, ImageSet
from ganaug.runtime.errors import DataError
from ganaug.runtime.io import write_text
from ganaug_plugins.data.cache import Decoded
from ganaug_plugins.data.split import interleave

OnError = Literal["error", "skip"]
SKIPPED_CSV = "skipped.csv"


def to_tensor(images: np.ndarray) -> Tensor:
    """``uint8 [N, C, H, W]`` -> float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(127.5).sub_(1.0)


def by_class(ids: Sequence[str], class_of: Mapping[str, str], classes: Sequence[str]) -> dict[str, list[str]]:
    """Group ids by class, classes in label order (ids of other classes are dropped)."""
    groups: dict[str, list[str]] = {cls: [] for cls in classes}
    for ident in ids:
        cls = class_of[ident]
        if cls in groups:
            groups[cls].append(ident)
    return groups


def make_bundle(
    decoded: Decoded,
    class_of: Mapping[str, str],
    classes: Sequence[str],
    groups: Mapping[str, Mapping[str, Sequence[str]]],
    ctx: DataContext,
) -> DataBundle:
    """Build one :class:`ImageSet` per split from ``{split: {class: [ids]}}``, in seeded order."""
    names = tuple(classes)
    index = {ident: i for i, ident in enumerate(decoded.ids)}
    splits: dict[str, ImageSet] = {}
    for split, parts in groups.items():
        order = interleave(parts, ctx.seed, split)
        rows = np.asarray([index[ident] for _, ident in order], dtype=np.int64)
        labels = torch.tensor([names.index(class_of[ident]) for _, ident in order], dtype=torch.long)
        images = decoded.images[rows] if len(rows) else decoded.images[:0]
        splits[split] = ImageSet(to_tensor(images), labels, tuple(ident for _, ident in order), names)
        counts = ", ".join(f"{cls} {len(parts[cls])}" for cls in names if cls in parts)
        ctx.log.info("split %s: %d images (%s)", split, len(order), counts or "none")
        if not order:
            ctx.log.warning("split %s is empty", split)
    return DataBundle(classes=names, splits=splits, skipped=decoded.skipped)


def report_skipped(
    skipped: Sequence[tuple[str, str]], on_error: OnError, ctx: DataContext, where: str
) -> None:
    """Raise for the first unreadable file (``error``) or log and list them in ``skipped.csv``."""
    if not skipped:
        return
    if on_error == "error":
        name, reason = skipped[0]
        raise DataError(f"{where}/{name}: {reason}; set on_error = 'skip' to leave unreadable files out")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "reason"])
    writer.writerows(skipped)
    path = write_text(ctx.report_dir / SKIPPED_CSV, buffer.getvalue())
    ctx.log.warning("skipped %d unreadable file(s); the list is in %s", len(skipped), path)
