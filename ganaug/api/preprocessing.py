"""How a run's data source turned image files into tensors, recorded so new images get the same.

A data source that offers ``ganaug.api.capabilities.DescribesPreprocessing`` says what it does
(size, channels, resize rule, value mapping); the engine writes that to ``data/preprocessing.json``
when the run's data is loaded. One that also offers ``ganaug.api.capabilities.ReadsImages``
reads a new image file with its own decoder, so ``ganaug score`` and ``ganaug generate`` see new
images exactly as the run saw its own. :func:`ganaug.kit.images.read_image` is the generic reader for
a source that only describes its preprocessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from ganaug.runtime import io
from ganaug.runtime.errors import DataError

FILE = "preprocessing.json"
FORMAT = 1

_RESIZE = ("crop", "pad", "stretch")


@attrs.frozen
class Preprocessing:
    """What a data source does to an image file: ``channels`` x ``size`` x ``size``, reached by
    ``resize`` (centre ``crop``, ``pad`` with black, or ``stretch``), 8-bit values mapped linearly
    onto ``value_range``. ``details`` holds the source's own notes (mode rules, resampling)."""

    size: int = attrs.field(validator=attrs.validators.ge(1))
    channels: int = attrs.field(validator=attrs.validators.in_((1, 3)))
    resize: str = attrs.field(default="stretch", validator=attrs.validators.in_(_RESIZE))
    value_range: tuple[float, float] = attrs.field(default=(-1.0, 1.0), converter=tuple)
    source: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)

    @property
    def mapping(self) -> str:
        low, high = self.value_range
        return f"uint8 v -> {low:g} + v * {(high - low) / 255:g} (0 -> {low:g}, 255 -> {high:g})"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "size": self.size,
            "channels": self.channels,
            "resize": self.resize,
            "value_range": list(self.value_range),
            "mapping": self.mapping,
            "source": self.source,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = FILE) -> Preprocessing:
        """Read what :meth:`to_json` wrote; any problem is a :class:`DataError` naming ``where``."""
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            return cls(
                size=int(data["size"]),
                channels=int(data["channels"]),
                resize=str(data["resize"]),
                value_range=tuple(float(v) for v in data["value_range"]),
                source=str(data.get("source", "")),
                details=dict(data.get("details") or {}),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where} is not a preprocessing record: {exc}") from None


def record(folder: Path, preprocessing: Preprocessing) -> Path:
    """Write ``folder/preprocessing.json`` (the engine does this when a run's data is loaded)."""
    return io.write_json(folder / FILE, preprocessing.to_json())


def recorded(run_dir: Path) -> Preprocessing | None:
    """The preprocessing a run recorded in ``data/preprocessing.json``; None when it has none."""
    path = Path(run_dir) / "data" / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read: {exc}") from None
    return Preprocessing.from_json(data, str(path))
