"""The one place a stage and its :class:`StageContext` are made, for a run (the engine), for a
stage in its own process (``run.jobs``) and for restoring a finished stage (``load_model``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ganaug.api.context import StageContext
from ganaug.api.records import DataBundle, StageOutput
from ganaug.api.tracking import Trackers
from ganaug.host.registry import Registry, create
from ganaug.recipe.schema import Recipe, StageSpec
from ganaug.runner.logs import LOGGER
from ganaug.runtime.distributed import World
from ganaug.runtime.progress import Progress


def stage_of(registry: Registry, spec: StageSpec) -> Any:
    """The stage object of ``spec``: its kind's factory called with its structured options."""
    return create(registry, registry.get("stages", spec.kind), spec.options)


def stage_context(
    spec: StageSpec,
    folder: Path,
    recipe: Recipe,
    registry: Registry,
    device: torch.device,
    *,
    data: DataBundle | None = None,
    outputs: dict[str, StageOutput] | None = None,
    log: logging.Logger | None = None,
    progress: Progress | None = None,
    resume: bool = False,
    world: World | None = None,
    track: Trackers | None = None,
) -> StageContext:
    """The context stage ``spec`` runs or is restored in; no ``data``: an empty bundle (restoring
    a stage reads its folder, not the data)."""
    return StageContext(
        name=spec.name,
        dir=folder,
        run=recipe.run,
        device=device,
        data=data if data is not None else DataBundle(classes=(), splits={}),
        outputs=outputs if outputs is not None else {},
        registry=registry,
        log=(log or logging.getLogger(LOGGER)).getChild(spec.name),
        progress=progress or Progress(),
        resume=resume,
        world=world or World(),
        track=track or Trackers(),
    )
