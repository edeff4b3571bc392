"""Scoring new images with a trained model, through the components that scored the run's own.

Two capabilities (defined here, re-exported by :mod:`ganaug.api.capabilities`) connect a trained
model to the way its run scored images, without the core knowing any evaluator or stage by name;
this module holds them and their records:

- an evaluator offering ``ScoresImages`` scores a batch of images with one model outside an
  evaluation (the built-in ``anogan`` evaluator does, by its latent search);
- a stage offering ``ScoresModels`` (the built-in ``evaluate`` stage) says, for a model it
  evaluated, which of its evaluators score images and the thresholds it fitted for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import torch
from torch import Tensor

from ganaug.api.records import TrainedModel
from ganaug.numeric.thresholds import Threshold
from ganaug.runtime.distributed import World

if TYPE_CHECKING:
    from ganaug.api.context import StageContext


@attrs.frozen
class ImageScores:
    """One method's scores for a batch of images (``N`` first in every tensor). ``reconstruction``
    (``G(z*)``, what residual heatmaps are drawn from) and ``z`` (the latent codes found) are set by
    methods that have them."""

    method: str
    score: Tensor
    residual: Tensor | None = None
    discrimination: Tensor | None = None
    reconstruction: Tensor | None = None
    z: Tensor | None = None


@attrs.define
class ScoreContext:
    """What ``ScoresImages.score_images`` gets: the model, the images (``[N, C, H, W]`` in the
    run's value range), a seed, a device, a builder for components, a scratch folder, and the
    scoring stage's folder (``dir``: where an evaluator kept what it fitted, e.g. a baseline's
    fit images; None outside a run)."""

    model: TrainedModel
    images: Tensor
    seed: int
    device: torch.device
    build: Callable[..., Any]
    workdir: Path
    log: logging.Logger = attrs.Factory(lambda: logging.getLogger("ganaug.score"))
    progress: Any = None
    world: World = attrs.Factory(World)
    dir: Path | None = None


@attrs.frozen
class Scorer:
    """How a stage scores one model: a ``ScoresImages`` evaluator, the stage's builder and
    seed, the thresholds it fitted, by method, and the stage's folder."""

    stage: str
    evaluator: ScoresImages
    build: Callable[..., Any]
    seed: int
    thresholds: dict[str, Threshold] = attrs.Factory(dict)
    dir: Path | None = None


@runtime_checkable
class ScoresImages(Protocol):
    """An evaluator that scores a batch of images with one model outside an evaluation, the same
    way it scores the test images (higher = more anomalous); one ``ImageScores`` per method."""

    def score_images(self, ctx: ScoreContext) -> list[ImageScores]: ...


@runtime_checkable
class ScoresModels(Protocol):
    """A stage that scores trained models: for model stage ``model``, the scorers it uses (empty
    when it does not score that model). Called on a finished or unfinished stage's folder: a
    threshold it has not yet fitted is simply absent."""

    def scorers(self, ctx: StageContext, model: str) -> list[Scorer]: ...
