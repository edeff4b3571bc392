"""The contracts between the engine and components: what each plugin kind must provide.

A third-party architecture plugs in by satisfying these protocols; the engine calls nothing else.
The records they exchange live in :mod:`ganaug.api.records` and are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ganaug.api.records import (
    DataBundle,
    EvalContext,
    ImageSet,
    ImageSpec,
    SearchResult,
    StageOutput,
    TrainedModel,
)
from ganaug.api.tracking import Tracker

if TYPE_CHECKING:
    from ganaug.api.context import DataContext, StageContext

__all__ = [
    "Augmenter",
    "Backbone",
    "DataBundle",
    "DataSource",
    "Discriminator",
    "Encoder",
    "EvalContext",
    "Evaluator",
    "GanLoss",
    "Generator",
    "ImageSet",
    "ImageSpec",
    "LatentSearcher",
    "LossWeighter",
    "Regularizer",
    "SearchResult",
    "Stage",
    "StageOutput",
    "Tracker",
    "TrainedModel",
]


@runtime_checkable
class Generator(Protocol):
    """``forward(z, x=None)`` maps latent codes ``z[N, latent_dim]`` (and, when ``conditional``,
    images ``x[N,C,H,W]``) to images in [-1, 1]. Must be an ``nn.Module``."""

    latent_dim: int
    conditional: bool

    def __call__(self, z: Tensor, x: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """``forward(x)`` returns ``(logits[N], features[N, ...])``: raw realness scores and the
    intermediate feature map used for feature matching. Must be an ``nn.Module``."""

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


class GanLoss(Protocol):
    """Adversarial loss on raw discriminator logits."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Scalar loss for the discriminator step."""
        ...

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Per-sample loss ``[N]`` for the generator step (the trainer weights and averages)."""
        ...

    # Optional capability: ganaug.api.capabilities.PenalisedLoss (a scalar added to D's loss).


class LossWeighter(Protocol):
    """Per-sample weights ``[N]`` for the generator loss, from real and generated batches.
    Optional capabilities: ``PenalisedWeighter``, ``Stateful`` (see :mod:`ganaug.api.capabilities`)."""

    def weights(self, real: Tensor, fake: Tensor) -> Tensor: ...


class Augmenter(Protocol):
    """A differentiable transform of the images D sees in a train stage, applied alike to the real
    and the generated batch (D's step and G's step), its randomness drawn from ``rng`` (a CPU
    ``torch.Generator`` seeded per step, so a resumed run draws the same). Optional capabilities:
    ``ObservesDiscriminator``, ``ReportsFigures``, ``Stateful``."""

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor: ...


class Regularizer(Protocol):
    """A scalar term added to D's loss, from D, the batches D saw (augmented, when augmenters are on)
    and its logits on them. Optional capabilities: ``ReportsFigures``, ``Stateful``."""

    def penalty(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, real_logits: Tensor, fake_logits: Tensor
    ) -> Tensor: ...


@runtime_checkable
class Encoder(Protocol):
    """``forward(x)`` maps images ``x[N,C,H,W]`` in [-1, 1] to latent codes ``z[N, latent_dim]`` for
    a trained generator (f-AnoGAN's encoder). Must be an ``nn.Module``."""

    latent_dim: int

    def __call__(self, x: Tensor) -> Tensor: ...


class LatentSearcher(Protocol):
    """Finds, for each query image, a latent point whose generated image matches it. Optional
    capabilities: ``ShardableSearcher`` (split across ranks, resumable), ``RecordsSteps``."""

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
    ) -> SearchResult: ...


class Backbone(Protocol):
    """Image features for sample-quality metrics, fitted on the run's own images (never downloaded
    weights): ``fit`` once per evaluate stage, then ``features`` of real and generated images, and a
    line saying what produced them (printed beside every number)."""

    def fit(self, images: ImageSet, *, seed: int, device: torch.device) -> None: ...

    def features(self, images: Tensor) -> Tensor: ...

    def describe(self) -> str: ...


class Evaluator(Protocol):
    """One step of the evaluate stage: adds score rows and/or metrics and figures. Optional
    capability: ``ScoringEvaluator`` (declares the methods it scores, for the report's columns)."""

    def evaluate(self, ctx: EvalContext) -> None: ...


class DataSource(Protocol):
    """Loads labelled images into named splits. Optional capabilities: ``DeclaresNames`` and
    ``DeclaresImage`` (what ``ganaug validate`` checks a recipe against without reading data)."""

    def load(self, ctx: DataContext) -> DataBundle: ...


class Stage(Protocol):
    """One step of a recipe. ``produces`` (on the class the factory is) names what its output sets
    for later stages: some of ``model``, ``images``, ``metrics``; validation checks that a stage
    naming another in ``models``/``add`` gets what it needs."""

    produces: ClassVar[frozenset[str]]

    def run(self, ctx: StageContext) -> StageOutput:
        """Do the stage's work, writing its files under ``ctx.dir``."""
        ...

    def restore(self, ctx: StageContext) -> StageOutput:
        """Rebuild the output of a finished stage from ``ctx.dir`` (for ``--resume``)."""
        ...
