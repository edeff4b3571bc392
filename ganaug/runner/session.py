"""One run's execution state (:class:`Session`) and where decoded data sets are cached: what the
engine, the side-by-side scheduler and a stage's own process share."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import attrs
import torch

from ganaug.host.loading import PluginHost
from ganaug.recipe.schema import Recipe
from ganaug.runner.rundir import RunDir
from ganaug.runtime import distributed
from ganaug.runtime.progress import Progress


def cache_dir() -> Path:
    """Where decoded data sets are cached (``GANAUG_CACHE_DIR``, else ``~/.cache/ganaug``)."""
    return Path(os.environ.get("GANAUG_CACHE_DIR", Path.home() / ".cache" / "ganaug"))


@attrs.frozen
class Session:
    """Everything one run's execution needs, gathered once by :func:`run_recipe`."""

    recipe: Recipe
    run_dir: RunDir
    resolved: dict[str, Any]
    digest: str
    device: torch.device
    progress: Progress
    host: PluginHost
    log: logging.Logger
    resume: Path | None
    world: distributed.World
    tags: dict[str, Any]
    force: bool = False
    stage_times: list[str] = attrs.Factory(list)  # Markdown table, filled as the stages end
