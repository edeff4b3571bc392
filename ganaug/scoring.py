"""Scoring new images with a trained model, through the components that scored the run's own.

Two capabilities (:mod:`ganaug.capabilities`) connect a trained model to the way its run scored
images, without the core knowing any evaluator or stage by name; this module holds their records:

- an evaluator offering ``ScoresImages`` scores a batch of images with one model outside an
  evaluation (the built-in ``anogan`` evaluator does, by its latent search);
- a stage offering ``ScoresModels`` (the built-in ``evaluate`` stage) says, for a model it
  evaluated, which of its evaluators score images and the thresholds it fitted for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor

from ganaug.capabilities import ScoresImages
from ganaug.distributed import World
from ganaug.interfaces import TrainedModel
from ganaug.thresholds import Threshold


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
