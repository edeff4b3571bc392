"""TensorBoard tracker: event files under the run folder (``tensorboard/`` by default).

Needs the optional extra ``pip install ganaug[tensorboard]``; ``torch.utils.tensorboard`` is imported
only when a recipe asks for this tracker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.runtime.errors import PluginError

EXTRA = "pip install 'ganaug[tensorboard]'"


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or a clear error naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise PluginError(
            f"the tensorboard tracker needs the tensorboard package: {EXTRA} ({error})"
        ) from None
    return SummaryWriter


def _hparam(value: Any) -> Any:
    """TensorBoard takes numbers, strings and booleans as hyperparameters."""
    return value if isinstance(value, bool | int | float | str) else json.dumps(value)


class TensorBoardTracker:
    """Scalars per epoch and search record, sample grids, and hparams with the final metrics."""

    def __init__(self, folder: str = "tensorboard") -> None:
        self.folder = folder
        self.writer_class = summary_writer_class()  # fails at build time when the extra is missing
        self.writer: Any = None

    def start(self, run_dir: Path, recipe: dict[str, Any], tags: dict[str, Any]) -> None:
        self.writer = self.writer_class(log_dir=str(run_dir / self.folder))
        self.writer.add_text("recipe", "```\n" + json.dumps(recipe, indent=2) + "\n```", 0)

    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def image(self, tag: str, step: int, png: Path) -> None:
        from PIL import Image

        with Image.open(png) as img:
            array = np.asarray(img.convert("RGB"))
        self.writer.add_image(tag, array, step, dataformats="HWC")

    def finish(self, tags: dict[str, Any], metrics: dict[str, float]) -> None:
        if self.writer is None:
            return
        if tags and metrics:
            hparams = {key: _hparam(value) for key, value in tags.items()}
            self.writer.add_hparams(hparams, {f"final/{k}": v for k, v in metrics.items()}, run_name=".")
        self.writer.close()
        self.writer = None
